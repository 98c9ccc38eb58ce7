/**
 * Disk full in the storage layer (no-space.ts): a write that fails with ENOSPC is
 * redone until space returns, nothing is reported durable before it is, the log stays
 * readable and holds each txn exactly once, and nothing acknowledged is lost.
 *
 * Method: FullDiskFs wraps the in-memory disk with a capacity. A write that does not
 * fit writes what fits (a partial record, as a real file system can) and fails with
 * ENOSPC; fdatasync can be made to fail with ENOSPC too, and then — the "fsyncgate"
 * behaviour of Linux — the bytes written since the last good fdatasync are lost (read
 * back as zeros) while a later fdatasync reports success. Tests free space from
 * `onStall`, so every retry happens at a known attempt.
 */
import { describe, expect, it } from 'vitest'
import type { Txn } from '../../../protocol/txn.js'
import { readEpochFile } from '../../../server/storage/epoch-file.js'
import { FileStorage } from '../../../server/storage/file-storage.js'
import { scanLog } from '../../../server/storage/log-scan.js'
import { MemoryStorageFs } from '../../../server/storage/memory-fs.js'
import type { NoSpaceEvents } from '../../../server/storage/no-space.js'
import { snapshotRequestOf } from '../../../server/storage/restore.js'
import type { FileStat, StorageFile, StorageFs } from '../../../server/storage/storage-fs.js'
import { Workload } from '../../storage/workload.js'

const DIR = '/data'

function ioError(code: string, syscall: string): Error {
  return Object.assign(new Error(`${code}: ${syscall} failed`), { code, syscall })
}

/** FullDiskFs is an in-memory disk with a capacity and chosen fdatasync failures. */
class FullDiskFs implements StorageFs {
  readonly inner = new MemoryStorageFs()
  /** capacityBytes bounds the total size of all files. */
  capacityBytes = Number.POSITIVE_INFINITY
  /** failFsyncs: how many of the next fdatasyncs fail with this code (losing the unsynced writes). */
  failFsyncs = 0
  failFsyncCode = 'ENOSPC'
  /** failWrites: the next writes of a path matching this fail at once (nothing written) with ENOSPC. */
  failWritesTo: RegExp | undefined
  /** dirty holds, per path, the ranges written since its last good fdatasync. */
  private readonly dirty = new Map<string, { position: number; length: number }[]>()

  async usedBytes(): Promise<number> {
    let used = 0
    for (const content of this.inner.image().files.values()) used += content.length
    return used
  }

  async createFile(path: string): Promise<StorageFile> {
    return this.wrap(await this.inner.createFile(path))
  }

  async openFile(path: string): Promise<StorageFile> {
    return this.wrap(await this.inner.openFile(path))
  }

  private wrap(file: StorageFile): StorageFile {
    const disk = this
    return {
      path: file.path,
      async write(bytes, position) {
        if (disk.failWritesTo?.test(file.path)) throw ioError('ENOSPC', 'write')
        const size = (await disk.inner.stat(file.path))?.size ?? 0
        const growth = Math.max(0, position + bytes.length - size)
        const free = disk.capacityBytes - (await disk.usedBytes())
        const fits = growth <= free ? bytes.length : Math.max(0, size + free - position)
        if (fits > 0) {
          await file.write(bytes.subarray(0, fits), position)
          disk.dirty.set(file.path, [
            ...(disk.dirty.get(file.path) ?? []),
            { position, length: fits },
          ])
        }
        if (fits < bytes.length) throw ioError('ENOSPC', 'write')
      },
      async fdatasync() {
        if (disk.failFsyncs > 0) {
          disk.failFsyncs--
          // The failed writeback's pages are dropped: what was written since the last good sync reads back as zeros.
          for (const range of disk.dirty.get(file.path) ?? []) {
            const size = (await disk.inner.stat(file.path))?.size ?? 0
            const length = Math.min(range.length, size - range.position)
            if (length > 0) await file.write(new Uint8Array(length), range.position)
          }
          disk.dirty.delete(file.path)
          throw ioError(disk.failFsyncCode, 'fdatasync')
        }
        disk.dirty.delete(file.path)
        await file.fdatasync()
      },
      truncate: (size) => file.truncate(size),
      close: () => file.close(),
    }
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.inner.readFile(path)
  }
  readdir(dir: string): Promise<string[]> {
    return this.inner.readdir(dir)
  }
  mkdir(dir: string): Promise<void> {
    return this.inner.mkdir(dir)
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to)
  }
  unlink(path: string): Promise<void> {
    return this.inner.unlink(path)
  }
  fsyncDir(dir: string): Promise<void> {
    return this.inner.fsyncDir(dir)
  }
  stat(path: string): Promise<FileStat | undefined> {
    return this.inner.stat(path)
  }
  checkAccess(dir: string): Promise<void> {
    return this.inner.checkAccess(dir)
  }
}

/** Stalls records what storage reported; `freeAt` frees the disk from the given failed attempt on. */
function stallRecorder(fs: FullDiskFs, freeAt = 2) {
  const stalls: { what: string; attempt: number; code: unknown }[] = []
  const resumes: { what: string; failedAttempts: number }[] = []
  const events: NoSpaceEvents & { retryMs: number } = {
    retryMs: 1,
    onStall: ({ what, attempt, error }) => {
      stalls.push({ what, attempt, code: (error as { code?: unknown }).code })
      if (attempt >= freeAt) {
        fs.capacityBytes = Number.POSITIVE_INFINITY
        fs.failWritesTo = undefined
      }
    },
    onResume: (resume) => resumes.push(resume),
  }
  return { stalls, resumes, events }
}

async function openStorage(
  fs: FullDiskFs,
  noSpace: NoSpaceEvents & { retryMs: number },
  options = {},
) {
  return FileStorage.open(DIR, {
    fs,
    createIfMissing: true,
    segmentBytesMax: 4096,
    recordsPerChunk: 7,
    noSpace,
    ...options,
  })
}

/** reopened reads the data directory back as a restarting server would. */
async function reopened(fs: FullDiskFs) {
  const { storage, recovered } = await FileStorage.open(DIR, { fs })
  await storage.close()
  return recovered
}

/** expectWholeLog closes storage and checks that a restart reads back exactly `txns`, with no torn tail. */
async function expectWholeLog(
  storage: FileStorage,
  fs: FullDiskFs,
  txns: readonly Txn[],
): Promise<void> {
  await storage.close()
  const recovered = await reopened(fs)
  expect(recovered.cutTail).toBeUndefined()
  expect(recovered.txns).toEqual(txns)
}

/** settledState tells whether a promise has settled yet (after letting queued work run). */
async function settledState(
  promise: Promise<unknown>,
): Promise<'pending' | 'resolved' | 'rejected'> {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending'
  promise.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  )
  await new Promise((resolve) => setTimeout(resolve, 0))
  return state
}

describe('disk full: the log', () => {
  it('an append that runs out of space mid-record stays pending, then succeeds once space returns; every txn is logged once', async () => {
    const fs = new FullDiskFs()
    const { stalls, resumes, events } = stallRecorder(fs, 3)
    const { storage } = await openStorage(fs, events)
    const work = new Workload(11)
    const acked = work.take(20)
    await storage.append(acked)
    fs.capacityBytes = (await fs.usedBytes()) + 100 // a record or two, then a partial one
    const blocked = work.take(10)
    await storage.append(blocked)
    expect(stalls.map((s) => [s.what, s.attempt, s.code])).toEqual([
      ['log append', 1, 'ENOSPC'],
      ['log append', 2, 'ENOSPC'],
      ['log append', 3, 'ENOSPC'],
    ])
    expect(resumes).toEqual([{ what: 'log append', failedAttempts: 3 }])
    await storage.append(work.take(5))
    await expectWholeLog(storage, fs, work.txns)
  })

  it('reports nothing durable while the disk is full', async () => {
    const fs = new FullDiskFs()
    let free: (() => void) | undefined
    // Without preallocation, so the append needs new space (into preallocated space it would not).
    const { storage } = await openStorage(
      fs,
      { retryMs: 1, onStall: () => void free?.() },
      { preallocateBytes: 0 },
    )
    const work = new Workload(12)
    await storage.append(work.take(5))
    fs.capacityBytes = await fs.usedBytes()
    const append = storage.append(work.take(3))
    await new Promise<void>((resolve) => (free = resolve))
    expect(await settledState(append)).toBe('pending')
    fs.capacityBytes = Number.POSITIVE_INFINITY
    await append
    await expectWholeLog(storage, fs, work.txns)
  })

  it('after a failed fdatasync the batch is written again, not just synced again (the failed sync lost the pages)', async () => {
    const fs = new FullDiskFs()
    const { stalls, events } = stallRecorder(fs, 1)
    const { storage } = await openStorage(fs, events)
    const work = new Workload(13)
    await storage.append(work.take(10))
    fs.failFsyncs = 1
    await storage.append(work.take(4))
    expect(stalls.map((s) => [s.what, s.code])).toEqual([['log append', 'ENOSPC']])
    // The redo cut the zeros with the unknown pages and allocated again: the segment still ends in zeros.
    await storage.append(work.take(1))
    const newest = (await scanLog(fs, `${DIR}/log`, 0n, 0n)).segments.at(-1)!
    expect(newest.sizeBytes).toBeGreaterThan(newest.validBytes)
    await expectWholeLog(storage, fs, work.txns)
  })

  it('a batch whose segment roll hits the full disk continues after the part already durable: no txn twice, none missing', async () => {
    const fs = new FullDiskFs()
    const { stalls, events } = stallRecorder(fs, 2)
    const { storage } = await openStorage(fs, events)
    const work = new Workload(14)
    await storage.append(work.take(3))
    // One batch big enough to roll segments; creating the next segment fails.
    fs.failWritesTo = /log\/.*\.tmp$/
    await storage.append(work.take(120))
    expect(stalls.length).toBe(2)
    await expectWholeLog(storage, fs, work.txns)
    // The aborted segment's temp file was removed, not left to hold the space.
    expect((await fs.readdir(`${DIR}/log`)).filter((name) => name.endsWith('.tmp'))).toEqual([])
  })

  it('closing while the disk is full gives up the pending append (rejected, not reported durable) and keeps what was durable', async () => {
    const fs = new FullDiskFs()
    let full: (() => void) | undefined
    // Without preallocation, so the append needs new space (into preallocated space it would not).
    const { storage } = await openStorage(
      fs,
      { retryMs: 1, onStall: () => void full?.() },
      { preallocateBytes: 0 },
    )
    const work = new Workload(15)
    const acked = work.take(8)
    await storage.append(acked)
    fs.capacityBytes = await fs.usedBytes()
    const stalled = new Promise<void>((resolve) => (full = resolve))
    const append = storage.append(work.take(2))
    const outcome = append.then(
      () => 'resolved',
      (err: unknown) => `rejected ${(err as { code?: string }).code}`,
    )
    await stalled
    await storage.close()
    expect(await outcome).toBe('rejected FAILED')
    fs.capacityBytes = Number.POSITIVE_INFINITY
    const recovered = await reopened(fs)
    expect(recovered.txns).toEqual(acked)
  })

  it('an append whose preallocation runs out of space waits, then the segment is extended again and holds every txn once', async () => {
    const fs = new FullDiskFs()
    const { stalls, resumes, events } = stallRecorder(fs, 2)
    const { storage } = await openStorage(fs, events, {
      segmentBytesMax: 1 << 20,
      preallocateBytes: 2048,
    })
    const work = new Workload(17)
    const segmentSize = async () => {
      const [name] = (await fs.readdir(`${DIR}/log`)).filter((n) => n.startsWith('log.'))
      return (await fs.stat(`${DIR}/log/${name}`))!.size
    }
    await storage.append(work.take(1))
    const allocated = await segmentSize()
    // Fill the allocation, then leave room for a record but not for the next 2 KiB of zeros.
    while ((await segmentSize()) === allocated) await storage.append(work.take(1))
    const extendedTo = await segmentSize()
    while ((await segmentSize()) === extendedTo) await storage.append(work.take(1))
    fs.capacityBytes = (await fs.usedBytes()) + 1000
    const before = await segmentSize()
    while ((await segmentSize()) === before && stalls.length === 0)
      await storage.append(work.take(1))
    expect(stalls.map((s) => [s.what, s.code])).toEqual([
      ['log append', 'ENOSPC'],
      ['log append', 'ENOSPC'],
    ])
    expect(resumes).toEqual([{ what: 'log append', failedAttempts: 2 }])
    expect(await segmentSize()).toBeGreaterThan(before)
    await storage.append(work.take(3))
    await expectWholeLog(storage, fs, work.txns)
  })

  it('any other write error still fails the log for good', async () => {
    const fs = new FullDiskFs()
    const { stalls, events } = stallRecorder(fs)
    const { storage } = await openStorage(fs, events)
    const work = new Workload(16)
    await storage.append(work.take(3))
    fs.failFsyncs = 1
    fs.failFsyncCode = 'EIO'
    await expect(storage.append(work.take(1))).rejects.toMatchObject({ code: 'FAILED' })
    await expect(storage.append(work.take(1))).rejects.toMatchObject({ code: 'FAILED' })
    expect(stalls).toEqual([])
    await storage.close()
  })
})

describe('disk full: epochs and snapshots', () => {
  it('an epoch write waits for space, then the new epochs are durable and no temp file is left', async () => {
    const fs = new FullDiskFs()
    const { stalls, events } = stallRecorder(fs, 2)
    const { storage } = await openStorage(fs, events)
    await storage.writeEpochs({ acceptedEpoch: 1, currentEpoch: 1 })
    fs.capacityBytes = await fs.usedBytes()
    fs.failWritesTo = /epochs\.tmp$/
    await storage.writeEpochs({ acceptedEpoch: 2, currentEpoch: 1 })
    expect(stalls.map((s) => s.what)).toEqual(['epoch file write', 'epoch file write'])
    expect(await readEpochFile(fs, DIR)).toEqual({ acceptedEpoch: 2, currentEpoch: 1 })
    expect((await fs.readdir(DIR)).filter((name) => name.endsWith('.tmp'))).toEqual([])
    await storage.close()
  })

  it('a background snapshot that runs out of space fails, gives its space back, stays due, and the log holds everything', async () => {
    const fs = new FullDiskFs()
    const { stalls, events } = stallRecorder(fs)
    const { storage } = await openStorage(fs, events, { snapshotEveryTxns: 50 })
    const work = new Workload(17)
    await storage.append(work.take(60))
    expect(storage.snapshotDue).toBe(true)
    const usedBefore = await fs.usedBytes()
    fs.capacityBytes = usedBefore + 300
    await expect(
      storage.snapshot(snapshotRequestOf(work.tree, work.sessions)),
    ).rejects.toMatchObject({ code: 'ENOSPC' })
    expect(stalls).toEqual([]) // not retried: the runtime tries again later
    expect(await fs.readdir(`${DIR}/snap`)).toEqual([])
    expect(await fs.usedBytes()).toBe(usedBefore)
    expect(storage.snapshotDue).toBe(true)
    fs.capacityBytes = Number.POSITIVE_INFINITY
    const info = await storage.snapshot(snapshotRequestOf(work.tree, work.sessions))
    expect(info.zxid).toBe(work.txns.at(-1)!.zxid)
    await storage.close()
    const recovered = await reopened(fs)
    expect(recovered.snapshot?.zxid).toBe(info.zxid)
  })

  it('a snapshot install from the leader waits for space and then lands whole, with every txn that came with it', async () => {
    const fs = new FullDiskFs()
    const { stalls, events } = stallRecorder(fs, 2)
    const { storage } = await openStorage(fs, events)
    const mine = new Workload(18)
    await storage.append(mine.take(5))
    const leader = new Workload(19, 2)
    leader.take(40)
    const carried: Txn[] = new Workload(19, 2).take(45).slice(40)
    fs.capacityBytes = (await fs.usedBytes()) + 500
    await storage.installSnapshot(snapshotRequestOf(leader.tree, leader.sessions), carried)
    expect(stalls.every((s) => s.what === 'snapshot install' || s.what === 'log append')).toBe(true)
    expect(stalls.length).toBeGreaterThanOrEqual(2)
    await storage.close()
    const recovered = await reopened(fs)
    expect(recovered.snapshot?.zxid).toBe(leader.txns.at(-1)!.zxid)
    expect(recovered.snapshot?.nodes.length).toBe(leader.tree.nodeCount)
    expect(recovered.txns).toEqual(carried)
  })

  it('a snapshot install refuses a one-shot record source, which a redone write would find empty', async () => {
    const fs = new FullDiskFs()
    const { storage } = await openStorage(fs, { retryMs: 1 })
    const leader = new Workload(20)
    leader.take(10)
    const request = {
      ...snapshotRequestOf(leader.tree, leader.sessions),
      nodes: leader.tree.snapshotEntries(),
    }
    await expect(storage.installSnapshot(request, [])).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    })
    await storage.close()
  })
})
