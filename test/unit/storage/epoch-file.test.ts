/**
 * The epoch file: ZAB's acceptedEpoch/currentEpoch must survive a crash as either the
 * old pair or the new one, and damage must stop the server rather than read as zero.
 * Method: write through the recording disk and check the operation order that makes
 * the replacement atomic (the crash-image suite replays it with losses), then flip
 * every bit of a valid file and expect a refusal.
 */
import { describe, expect, it } from 'vitest'
import { MemoryStorageFs } from '../../../server/storage/memory-fs.js'
import {
  readEpochFile,
  writeEpochFile,
  encodeEpochs,
  decodeEpochs,
} from '../../../server/storage/epoch-file.js'

describe('epoch file', () => {
  it('reads {0, 0} before the first write and the last pair written after', async () => {
    const fs = new MemoryStorageFs()
    await fs.mkdir('/d')
    expect(await readEpochFile(fs, '/d')).toEqual({ acceptedEpoch: 0, currentEpoch: 0 })
    await writeEpochFile(fs, '/d', { acceptedEpoch: 3, currentEpoch: 2 })
    await writeEpochFile(fs, '/d', { acceptedEpoch: 4, currentEpoch: 4 })
    expect(await readEpochFile(fs, '/d')).toEqual({ acceptedEpoch: 4, currentEpoch: 4 })
  })

  it('replaces the file by temp, fdatasync, rename and directory fsync, in that order', async () => {
    const fs = new MemoryStorageFs()
    await fs.mkdir('/d')
    fs.ops.length = 0
    await writeEpochFile(fs, '/d', { acceptedEpoch: 1, currentEpoch: 1 })
    expect(fs.ops.map((op) => op.kind)).toEqual([
      'create',
      'write',
      'fdatasync',
      'rename',
      'fsyncDir',
    ])
    expect(fs.ops[0]).toMatchObject({ path: '/d/epochs.tmp' })
    expect(fs.ops[3]).toMatchObject({ from: '/d/epochs.tmp', to: '/d/epochs' })
  })

  it('refuses every single-bit flip with CORRUPT_EPOCHS naming the file', async () => {
    const good = encodeEpochs({ acceptedEpoch: 7, currentEpoch: 6 })
    for (let bit = 0; bit < good.length * 8; bit++) {
      const bytes = good.slice()
      bytes[bit >> 3]! ^= 1 << (bit & 7)
      expect(typeof decodeEpochs(bytes)).toBe('string')
      const fs = new MemoryStorageFs({
        dirs: new Set(['/', '/d']),
        files: new Map([['/d/epochs', bytes]]),
      })
      await expect(readEpochFile(fs, '/d')).rejects.toMatchObject({
        code: 'CORRUPT_EPOCHS',
        file: '/d/epochs',
      })
    }
  })

  it('refuses epochs that are out of range or out of order before writing', async () => {
    const fs = new MemoryStorageFs()
    await fs.mkdir('/d')
    await expect(
      writeEpochFile(fs, '/d', { acceptedEpoch: 1, currentEpoch: 2 }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    await expect(
      writeEpochFile(fs, '/d', { acceptedEpoch: -1, currentEpoch: 0 }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    expect(fs.ops.filter((op) => op.kind !== 'mkdir')).toEqual([])
  })
})
