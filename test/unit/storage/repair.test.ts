/**
 * `conclave repair` as a function: on a log damaged in the middle it reports exactly
 * what cutting loses, changes nothing in a dry run, and otherwise cuts the log so the
 * server starts again with the intact prefix and can keep appending after it.
 * Method: a data directory on the in-memory disk with a flipped byte in the middle of
 * its first segment (in one case behind a snapshot still carrying the txns of an
 * interrupted install, which the cut does not lose).
 */
import { describe, expect, it } from 'vitest'
import { FileStorage } from '../../../server/storage/file-storage.js'
import { MemoryStorageFs } from '../../../server/storage/memory-fs.js'
import { repairDataDir } from '../../../server/storage/repair.js'
import { encodeRecord, SEGMENT_HEADER_BYTES } from '../../../server/storage/record.js'
import { snapshotRequestOf } from '../../../server/storage/restore.js'
import {
  decodeSnapshot,
  snapshotName,
  writeSnapshotFile,
} from '../../../server/storage/snapshot-file.js'
import { Workload } from '../../storage/workload.js'

const DIR = '/data'

async function damagedDir() {
  const fs = new MemoryStorageFs()
  const { storage } = await FileStorage.open(DIR, {
    fs,
    createIfMissing: true,
    segmentBytesMax: 2048,
  })
  const work = new Workload(21)
  await storage.append(work.take(80))
  await storage.close()
  const image = fs.image()
  const first = [...image.files.keys()].filter((p) => p.includes('/log/log.')).sort()[0]!
  const offset =
    SEGMENT_HEADER_BYTES + encodeRecord(work.txns[0]!).length + encodeRecord(work.txns[1]!).length
  image.files.get(first)![offset + 20]! ^= 0xff
  return { fs: new MemoryStorageFs(image), txns: work.txns, first, offset }
}

describe('repairDataDir', () => {
  it('reports nothing to do for an intact log, whose newest segment ends in preallocated zeros', async () => {
    const fs = new MemoryStorageFs()
    const { storage } = await FileStorage.open(DIR, { fs, createIfMissing: true })
    await storage.append(new Workload(1).take(5))
    await storage.close()
    const segment = [...fs.image().files].find(([path]) => path.includes('/log/log.'))![1]
    expect(segment.subarray(-1024).every((b) => b === 0)).toBe(true)
    const report = await repairDataDir(DIR, { dryRun: false, fs })
    expect(report).toMatchObject({ damage: undefined, cuts: [], applied: false })
    expect(report.summary).toMatch(/nothing to repair/)
  })

  it('dry run shows the cut and the txns lost without changing a byte', async () => {
    const { fs, txns, first, offset } = await damagedDir()
    const before = fs.image()
    const report = await repairDataDir(DIR, { dryRun: true, fs })
    expect(report.damage).toMatchObject({ code: 'CORRUPT_LOG', file: first, offset })
    expect(report.lastKeptZxid).toBe(txns[1]!.zxid)
    expect(report.cuts[0]).toMatchObject({ file: first, keepBytes: offset })
    expect(report.cuts.length).toBeGreaterThan(1)
    expect(report.intactTxnsLost).toBe(txns.length - 3)
    expect(report.summary).toContain(`offset ${offset}`)
    expect(report.applied).toBe(false)
    expect(fs.image()).toEqual(before)
    await expect(FileStorage.open(DIR, { fs })).rejects.toMatchObject({ code: 'CORRUPT_LOG' })
  })

  it('cuts the log so the server starts with the intact prefix and appends after it', async () => {
    const { fs, txns } = await damagedDir()
    const report = await repairDataDir(DIR, { dryRun: false, fs })
    expect(report.applied).toBe(true)
    const { storage, recovered } = await FileStorage.open(DIR, { fs })
    expect(recovered.txns).toEqual(txns.slice(0, 2))
    await storage.append([txns[2]!])
    await storage.close()
    expect((await FileStorage.open(DIR, { fs })).recovered.lastZxid).toBe(txns[2]!.zxid)
  })

  it('counts log copies of txns a snapshot still carries as kept, and the next start writes them back', async () => {
    const fs = new MemoryStorageFs()
    const { storage } = await FileStorage.open(DIR, {
      fs,
      createIfMissing: true,
      segmentBytesMax: 2048,
    })
    const leader = new Workload(22, 2)
    leader.take(10)
    const ahead = new Workload(22, 2)
    ahead.take(10)
    const carried = ahead.take(40)
    const request = snapshotRequestOf(leader.tree, leader.sessions)
    await storage.installSnapshot(request, carried)
    await storage.close()
    // Put the carried txns back into the snapshot file, as a crash before its rewrite would leave it.
    const snapFile = `${DIR}/snap/${snapshotName(request.zxid)}`
    const installed = decodeSnapshot(await fs.readFile(snapFile), request.zxid)
    if ('problem' in installed) throw new Error(installed.problem)
    const source = {
      zxid: installed.zxid,
      resetZxid: installed.resetZxid,
      sessions: installed.sessions,
      nodes: installed.nodes,
      tail: carried,
    }
    await writeSnapshotFile(fs, `${DIR}/snap`, source, { recordsPerChunk: 8 })
    const image = fs.image()
    const first = [...image.files.keys()].filter((p) => p.includes('/log/log.')).sort()[0]!
    image.files.get(first)![SEGMENT_HEADER_BYTES + encodeRecord(carried[0]!).length + 20]! ^= 0xff
    const damaged = new MemoryStorageFs(image)
    const report = await repairDataDir(DIR, { dryRun: false, fs: damaged })
    expect(report.damage).toMatchObject({ code: 'CORRUPT_LOG', file: first })
    expect(report.lastKeptZxid).toBe(carried.at(-1)!.zxid)
    expect(report.intactTxnsLost).toBe(0)
    expect(report.summary).toContain('carries 40 txn(s)')
    const { storage: reopened, recovered } = await FileStorage.open(DIR, { fs: damaged })
    await reopened.close()
    expect(recovered.txns).toEqual(carried)
    expect(
      recovered.warnings.some((w) => w.includes('completed an interrupted snapshot install')),
    ).toBe(true)
    const again = await FileStorage.open(DIR, { fs: damaged })
    await again.storage.close()
    expect(again.recovered.txns).toEqual(carried)
    expect(again.recovered.snapshot?.tail).toEqual([])
  })
})
