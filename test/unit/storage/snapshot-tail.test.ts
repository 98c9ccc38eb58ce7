/**
 * The snapshot file's carried log tail (format version 4, 2 before stored hashes): a
 * snapshot written with txns reads back with them, a plain snapshot is version 3,
 * rewriteWithoutTail leaves the same snapshot as version 3 without them, and a tail
 * that is misplaced, does not follow the snapshot or sits in a plain (version 3) file
 * is refused.
 * Method: write files on the in-memory disk and patch their bytes.
 */
import { crc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { MemoryStorageFs } from '../../../server/storage/memory-fs.js'
import { snapshotRequestOf } from '../../../server/storage/restore.js'
import {
  decodeSnapshot,
  rewriteWithoutTail,
  snapshotName,
  writeSnapshotFile,
} from '../../../server/storage/snapshot-file.js'
import { Workload } from '../../storage/workload.js'

const SNAP = '/snap'

async function written(tailCount: number, skipFirst = false) {
  const fs = new MemoryStorageFs()
  await fs.mkdir(SNAP)
  const state = new Workload(3, 2)
  state.take(20)
  const ahead = new Workload(3, 2)
  ahead.take(20)
  const tail = ahead.take(tailCount).slice(skipFirst ? 1 : 0)
  const request = snapshotRequestOf(state.tree, state.sessions)
  await writeSnapshotFile(
    fs,
    SNAP,
    { ...request, resetZxid: request.zxid, tail },
    { recordsPerChunk: 4 },
  )
  const path = `${SNAP}/${snapshotName(request.zxid)}`
  return { fs, path, zxid: request.zxid, tail, bytes: await fs.readFile(path) }
}

function version(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(4)
}

describe('snapshot log tail', () => {
  it('round-trips the carried txns in a version-4 file; a plain snapshot is version 3', async () => {
    const withTail = await written(10)
    expect(version(withTail.bytes)).toBe(4)
    expect(decodeSnapshot(withTail.bytes, withTail.zxid)).toMatchObject({ tail: withTail.tail })
    const plain = await written(0)
    expect(version(plain.bytes)).toBe(3)
    expect(decodeSnapshot(plain.bytes, plain.zxid)).toMatchObject({ tail: [] })
  })

  it('rewriteWithoutTail leaves the same snapshot, version 3, without the txns', async () => {
    const { fs, path, zxid, bytes } = await written(10)
    const before = decodeSnapshot(bytes, zxid)
    expect(await rewriteWithoutTail(fs, SNAP, zxid)).toBe(true)
    const after = await fs.readFile(path)
    expect(version(after)).toBe(3)
    const decoded = decodeSnapshot(after, zxid)
    expect(decoded).toEqual({
      ...before,
      tail: [],
      tailOffset: (decoded as { tailOffset: number }).tailOffset,
    })
    expect(await rewriteWithoutTail(fs, SNAP, zxid)).toBe(false)
  })

  it('refuses a tail that does not follow the snapshot', async () => {
    const { bytes, zxid } = await written(5, true)
    expect(decodeSnapshot(bytes, zxid)).toMatchObject({
      problem: expect.stringMatching(/does not follow/),
    })
  })

  it('refuses a tail frame in a file of a version without tails (3)', async () => {
    const { bytes, zxid } = await written(5)
    const patched = new Uint8Array(bytes)
    const view = new DataView(patched.buffer)
    view.setUint32(4, 3)
    view.setUint32(24, crc32(patched.subarray(0, 24)))
    expect(decodeSnapshot(patched, zxid)).toMatchObject({
      problem: expect.stringMatching(/log tail frame in a version 3 snapshot/),
    })
  })
})
