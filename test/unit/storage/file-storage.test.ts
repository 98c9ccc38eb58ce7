/**
 * FileStorage end to end on one data directory: snapshots round-trip the tree and
 * sessions, a fuzzy snapshot plus the log rebuilds exactly the live state, retention
 * keeps N snapshots and the log they need, a snapshot install (with the txns that came
 * with it) replaces the log, and restarts return every acknowledged txn. Method: a seeded workload of real txns on a
 * real DataTree, run on the in-memory disk (and the real disk for bad directories);
 * state after restart is compared by tree digest and session ids.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FileStorage } from '../../../server/storage/file-storage.js'
import { MemoryStorageFs } from '../../../server/storage/memory-fs.js'
import {
  restoreStandalone,
  snapshotRequestOf,
  persistentStateOf,
  restoreForEnsemble,
} from '../../../server/storage/restore.js'
import { StorageError } from '../../../server/storage/errors.js'
import { digestOfReplay, SESSION_OPTIONS, Workload } from '../../storage/workload.js'

const DIR = '/data'

async function freshStorage(fs: MemoryStorageFs, options = {}) {
  return FileStorage.open(DIR, {
    fs,
    createIfMissing: true,
    segmentBytesMax: 2048,
    recordsPerChunk: 7,
    ...options,
  })
}

describe('FileStorage', () => {
  it('starts empty, then restarts with every appended txn', async () => {
    const fs = new MemoryStorageFs()
    const { storage, recovered } = await freshStorage(fs)
    expect(recovered).toMatchObject({
      snapshot: undefined,
      txns: [],
      lastZxid: 0n,
      epochs: { acceptedEpoch: 0, currentEpoch: 0 },
    })
    const work = new Workload(1)
    for (let i = 0; i < 20; i++) await storage.append(work.take(5))
    await storage.close()
    const again = await FileStorage.open(DIR, { fs })
    expect(again.recovered.txns).toEqual(work.txns)
    const state = restoreStandalone(again.recovered, SESSION_OPTIONS)
    expect(state.tree.digest()).toBe(work.tree.digest())
    expect(state.sessions.all().map((s) => s.id)).toEqual(work.sessions.all().map((s) => s.id))
  })

  it('rebuilds the live state from a fuzzy snapshot taken while txns kept being applied', async () => {
    const fs = new MemoryStorageFs()
    const { storage } = await freshStorage(fs)
    const work = new Workload(2)
    await storage.append(work.take(150))
    const snapshotting = storage.snapshot(snapshotRequestOf(work.tree, work.sessions))
    // Keep writing and applying while the snapshot writes its chunks.
    for (let i = 0; i < 30; i++) await storage.append([work.next()])
    const info = await snapshotting
    expect(info.zxid).toBe(work.txns[149]!.zxid)
    await storage.close()
    const { recovered } = await FileStorage.open(DIR, { fs })
    expect(recovered.snapshot?.zxid).toBe(info.zxid)
    expect(recovered.snapshot!.fuzzyThroughZxid).toBeGreaterThan(info.zxid)
    expect(recovered.txns).toEqual(work.txns.slice(150))
    const state = restoreStandalone(recovered, SESSION_OPTIONS)
    expect(state.tree.digest()).toBe(work.tree.digest())
    expect(state.tree.digest()).toBe(digestOfReplay(work.txns))
  })

  it('keeps the newest N snapshots and only the log needed to replay from the oldest', async () => {
    const fs = new MemoryStorageFs()
    const { storage } = await freshStorage(fs, { snapshotsKept: 2 })
    const work = new Workload(3)
    const snapshotZxids: bigint[] = []
    for (let round = 0; round < 5; round++) {
      await storage.append(work.take(60))
      snapshotZxids.push((await storage.snapshot(snapshotRequestOf(work.tree, work.sessions))).zxid)
    }
    await storage.append(work.take(10))
    const snaps = (await fs.readdir(`${DIR}/snap`)).sort()
    expect(snaps).toEqual(
      snapshotZxids.slice(-2).map((z) => `snapshot.${z.toString(16).padStart(16, '0')}`),
    )
    const segments = (await fs.readdir(`${DIR}/log`)).sort()
    const firstZxid = BigInt(`0x${segments[0]!.slice(4)}`)
    // The first kept segment starts at or before the oldest kept snapshot + 1; nothing older is kept.
    expect(firstZxid).toBeLessThanOrEqual(snapshotZxids.at(-2)! + 1n)
    expect(segments.length).toBeLessThan(10)
    await storage.close()
    const { recovered } = await FileStorage.open(DIR, { fs })
    expect(restoreStandalone(recovered, SESSION_OPTIONS).tree.digest()).toBe(work.tree.digest())
  })

  it('installs a snapshot that replaces the log, and the log continues after it', async () => {
    const fs = new MemoryStorageFs()
    const { storage } = await freshStorage(fs)
    const stale = new Workload(4)
    await storage.append(stale.take(40))
    const leader = new Workload(5, 2)
    leader.take(25)
    await storage.installSnapshot(snapshotRequestOf(leader.tree, leader.sessions), [])
    await expect(storage.append([stale.next()])).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    const more = leader.take(5)
    await storage.append(more)
    await storage.close()
    const { recovered } = await FileStorage.open(DIR, { fs })
    expect(recovered.snapshot?.zxid).toBe(leader.txns[24]!.zxid)
    expect(recovered.txns).toEqual(more)
    expect(restoreStandalone(recovered, SESSION_OPTIONS).tree.digest()).toBe(leader.tree.digest())
  })

  it('installs a snapshot with the txns that came with it; they end up in the log, not in the snapshot file', async () => {
    const fs = new MemoryStorageFs()
    const { storage } = await freshStorage(fs)
    await storage.append(new Workload(4).take(40))
    const leader = new Workload(5, 2)
    leader.take(25)
    const ahead = new Workload(5, 2)
    ahead.take(25)
    const carried = ahead.take(30)
    await storage.installSnapshot(snapshotRequestOf(leader.tree, leader.sessions), carried)
    leader.take(30)
    expect(storage.lastZxid).toBe(carried.at(-1)!.zxid)
    const more = leader.take(5)
    await storage.append(more)
    // A snapshot taken inside the carried txns still finds every txn after it in the log.
    const inside = new Workload(5, 2)
    inside.take(40)
    await storage.snapshot(snapshotRequestOf(inside.tree, inside.sessions))
    await storage.close()
    const { recovered, storage: reopened } = await FileStorage.open(DIR, { fs })
    await reopened.close()
    expect(recovered.warnings.filter((w) => w.includes('completed an interrupted'))).toEqual([])
    expect(recovered.snapshot?.zxid).toBe(leader.txns[39]!.zxid)
    expect(recovered.txns).toEqual([...carried.slice(15), ...more])
    expect(restoreStandalone(recovered, SESSION_OPTIONS).tree.digest()).toBe(leader.tree.digest())
  })

  it('a TRUNC inside the txns that came with a snapshot is not undone by a restart', async () => {
    const fs = new MemoryStorageFs()
    const { storage } = await freshStorage(fs)
    const leader = new Workload(8, 3)
    leader.take(20)
    const ahead = new Workload(8, 3)
    ahead.take(20)
    const carried = ahead.take(10)
    await storage.installSnapshot(snapshotRequestOf(leader.tree, leader.sessions), carried)
    await storage.truncateAfter(carried[3]!.zxid)
    await storage.close()
    const { recovered, storage: reopened } = await FileStorage.open(DIR, { fs })
    await reopened.close()
    expect(recovered.snapshot?.tail).toEqual([])
    expect(recovered.txns).toEqual(carried.slice(0, 4))
    expect(recovered.lastZxid).toBe(carried[3]!.zxid)
  })

  it('refuses an install whose txns do not follow the snapshot, and writes nothing', async () => {
    const fs = new MemoryStorageFs()
    const { storage } = await freshStorage(fs)
    const logged = new Workload(9).take(10)
    await storage.append(logged)
    const leader = new Workload(10, 2)
    leader.take(5)
    const ahead = new Workload(10, 2)
    ahead.take(5)
    const gap = ahead.take(4).slice(1)
    await expect(
      storage.installSnapshot(snapshotRequestOf(leader.tree, leader.sessions), gap),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    await storage.close()
    const { recovered } = await FileStorage.open(DIR, { fs })
    expect(recovered.snapshot).toBeUndefined()
    expect(recovered.txns).toEqual(logged)
  })

  it('hands the ZAB core the snapshot zxid, the epochs and the txns after the snapshot', async () => {
    const fs = new MemoryStorageFs()
    const { storage } = await freshStorage(fs)
    const work = new Workload(6)
    await storage.append(work.take(30))
    await storage.snapshot(snapshotRequestOf(work.tree, work.sessions))
    await storage.append(work.take(10))
    await storage.writeEpochs({ acceptedEpoch: 2, currentEpoch: 1 })
    await storage.close()
    const { recovered } = await FileStorage.open(DIR, { fs })
    expect(persistentStateOf(recovered)).toEqual({
      acceptedEpoch: 2,
      currentEpoch: 1,
      snapshotZxid: work.txns[29]!.zxid,
      log: work.txns.slice(30),
    })
    expect(restoreForEnsemble(recovered, SESSION_OPTIONS).tree.appliedZxid).toBe(
      work.txns[29]!.zxid,
    )
  })

  it('refuses truncation below the newest snapshot', async () => {
    const fs = new MemoryStorageFs()
    const { storage } = await freshStorage(fs)
    const work = new Workload(7)
    await storage.append(work.take(30))
    await storage.snapshot(snapshotRequestOf(work.tree, work.sessions))
    await expect(storage.truncateAfter(work.txns[10]!.zxid)).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    })
  })

  it('falls back to an older snapshot when the newest is damaged, and refuses when none is readable', async () => {
    const fs = new MemoryStorageFs()
    const { storage } = await freshStorage(fs)
    const work = new Workload(8)
    await storage.append(work.take(30))
    await storage.snapshot(snapshotRequestOf(work.tree, work.sessions))
    await storage.append(work.take(30))
    const newest = await storage.snapshot(snapshotRequestOf(work.tree, work.sessions))
    await storage.close()
    const image = fs.image()
    const bytes = image.files.get(newest.file)!
    bytes[Math.floor(bytes.length / 2)]! ^= 4
    const damaged = new MemoryStorageFs(image)
    const { recovered } = await FileStorage.open(DIR, { fs: damaged })
    expect(recovered.snapshot?.zxid).toBe(work.txns[29]!.zxid)
    expect(recovered.warnings.join(' ')).toContain(newest.file)
    expect(restoreStandalone(recovered, SESSION_OPTIONS).tree.digest()).toBe(work.tree.digest())
    for (const name of await damaged.readdir(`${DIR}/snap`)) {
      const file = damaged.image().files.get(`${DIR}/snap/${name}`)!
      file[40]! ^= 1
      image.files.set(`${DIR}/snap/${name}`, file)
    }
    const hopeless = new MemoryStorageFs(image)
    await expect(FileStorage.open(DIR, { fs: hopeless })).rejects.toMatchObject({
      code: 'CORRUPT_SNAPSHOT',
    })
  })
})

describe('fall-back after restarts', () => {
  it('a restart keeps the log an older retained snapshot needs, so a newest snapshot damaged later still falls back', async () => {
    const fs = new MemoryStorageFs()
    const { storage } = await freshStorage(fs)
    const work = new Workload(9)
    await storage.append(work.take(40))
    await storage.snapshot(snapshotRequestOf(work.tree, work.sessions))
    await storage.append(work.take(40))
    const newest = await storage.snapshot(snapshotRequestOf(work.tree, work.sessions))
    await storage.append(work.take(10))
    await storage.close()
    // A clean restart from the newest snapshot, and a few more txns.
    const restarted = await FileStorage.open(DIR, { fs })
    expect(restarted.recovered.snapshot?.zxid).toBe(newest.zxid)
    await restarted.storage.append(work.take(5))
    await restarted.storage.close()
    // Now the newest snapshot rots: the older one and the log still give back everything.
    const image = fs.image()
    image.files.get(newest.file)![Math.floor(image.files.get(newest.file)!.length / 2)]! ^= 4
    const { recovered } = await FileStorage.open(DIR, { fs: new MemoryStorageFs(image) })
    expect(recovered.snapshot?.zxid).toBe(work.txns[39]!.zxid)
    expect(recovered.lastZxid).toBe(work.txns.at(-1)!.zxid)
    expect(restoreStandalone(recovered, SESSION_OPTIONS).tree.digest()).toBe(work.tree.digest())
  })
})

describe('bad data directories', () => {
  function tempDir(): string {
    return mkdtempSync(join(tmpdir(), 'conclave-datadir-'))
  }

  async function openError(dir: string): Promise<StorageError> {
    const error = await FileStorage.open(dir).then(
      () => undefined,
      (err: unknown) => err,
    )
    expect(error).toBeInstanceOf(StorageError)
    return error as StorageError
  }

  it('a missing directory names the path and says to create it', async () => {
    const base = tempDir()
    try {
      const error = await openError(join(base, 'nope'))
      expect(error.code).toBe('MISSING_DATA_DIR')
      expect(error.message).toContain(join(base, 'nope'))
      expect(error.message).toMatch(/Create it/)
    } finally {
      rmSync(base, { recursive: true, force: true })
    }
  })

  it('a file or a foreign non-empty directory is refused without touching it', async () => {
    const base = tempDir()
    try {
      writeFileSync(join(base, 'notes.txt'), 'mine')
      const error = await openError(base)
      expect(error.code).toBe('NOT_A_DATA_DIR')
      expect(error.message).toContain('notes.txt')
      const fileError = await openError(join(base, 'notes.txt'))
      expect(fileError.code).toBe('NOT_A_DATA_DIR')
    } finally {
      rmSync(base, { recursive: true, force: true })
    }
  })

  it.skipIf(process.getuid?.() === 0)(
    'an unreadable directory says which permission to fix',
    async () => {
      const base = tempDir()
      try {
        mkdirSync(join(base, 'd'))
        chmodSync(join(base, 'd'), 0o000)
        const error = await openError(join(base, 'd'))
        expect(error.code).toBe('UNREADABLE')
        expect(error.message).toMatch(/permission/)
      } finally {
        chmodSync(join(base, 'd'), 0o700)
        rmSync(base, { recursive: true, force: true })
      }
    },
  )

  it('an unwritable directory is refused with UNREADABLE (checked through the StorageFs seam)', async () => {
    const fs = new MemoryStorageFs()
    await fs.mkdir(DIR)
    fs.readOnlyDirs.add(DIR)
    await expect(FileStorage.open(DIR, { fs })).rejects.toMatchObject({
      code: 'UNREADABLE',
      file: DIR,
    })
  })

  it('an empty directory is adopted and reopened on the real disk', async () => {
    const base = tempDir()
    try {
      const first = await FileStorage.open(base)
      const work = new Workload(9)
      await first.storage.append(work.take(10))
      await first.storage.close()
      const second = await FileStorage.open(base)
      expect(second.recovered.txns).toEqual(work.txns)
      await second.storage.close()
    } finally {
      rmSync(base, { recursive: true, force: true })
    }
  })
})

describe('snapshots and the event loop', () => {
  it('yield between chunks, so other event-loop work runs while a snapshot is written', async () => {
    // The in-memory disk resolves every write without a macrotask turn, so only the
    // writer's own yields can let a timer run before the snapshot finishes.
    const fs = new MemoryStorageFs()
    const { storage } = await freshStorage(fs, { recordsPerChunk: 10 })
    const work = new Workload(12)
    await storage.append(work.take(200))
    // A task that reschedules itself on every event-loop turn counts the turns taken.
    let ticks = 0
    let running = true
    const spin = () => {
      ticks++
      if (running) setImmediate(spin)
    }
    setImmediate(spin)
    const info = await storage.snapshot(snapshotRequestOf(work.tree, work.sessions))
    running = false
    expect(info.nodes).toBe(work.tree.nodeCount)
    expect(ticks).toBeGreaterThan(3)
  })

  it('refuses a second snapshot while one is running, and truncation below a running snapshot', async () => {
    const fs = new MemoryStorageFs()
    const { storage } = await freshStorage(fs)
    const work = new Workload(13)
    await storage.append(work.take(100))
    const running = storage.snapshot(snapshotRequestOf(work.tree, work.sessions))
    expect(storage.snapshotInProgress).toBe(true)
    await expect(
      storage.snapshot(snapshotRequestOf(work.tree, work.sessions)),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    await expect(storage.truncateAfter(work.txns[50]!.zxid)).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    })
    await running
    expect(storage.snapshotInProgress).toBe(false)
  })
})
