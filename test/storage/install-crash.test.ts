/**
 * Crash images of a snapshot install (ZAB's SNAP): a follower with a diverged log
 * receives the leader's snapshot, which must replace its whole log. At every crash
 * point the directory must recover to either the follower's old state or the leader's
 * snapshot (plus the txns logged after it), never to the snapshot with stale txns
 * replayed on top. Method: record the install on the in-memory disk, build every crash
 * image (crash-model.ts) and compare digests.
 */
import { describe, expect, it } from 'vitest'
import { FileStorage } from '../../server/storage/file-storage.js'
import { MemoryStorageFs } from '../../server/storage/memory-fs.js'
import { restoreStandalone, snapshotRequestOf } from '../../server/storage/restore.js'
import { crashImages } from './crash-model.js'
import { SESSION_OPTIONS, Workload } from './workload.js'

const DIR = '/data'
const OPTIONS = { segmentBytesMax: 2048, recordsPerChunk: 8 }

describe('snapshot install crash images', () => {
  // Case 1: the leader's snapshot is from a newer epoch. Case 2: it is below the end of
  // the follower's log in the same epoch, so stale records lie above the snapshot zxid.
  it.each([
    { name: 'newer epoch', leaderSeed: 32, leaderEpoch: 3 },
    { name: 'same epoch, below the stale log end', leaderSeed: 77, leaderEpoch: 2 },
  ])('recover to the old state or the leader snapshot, never a mix ($name)', { timeout: 60_000 }, async ({ leaderSeed, leaderEpoch }) => {
    const fs = new MemoryStorageFs()
    const { storage } = await FileStorage.open(DIR, { fs, createIfMissing: true, ...OPTIONS })
    // The follower's own history diverges from the leader's after epoch 1: it logged epoch-2 txns the leader never had.
    const follower = new Workload(31, 2)
    await storage.append(follower.take(60))
    await storage.snapshot(snapshotRequestOf(follower.tree, follower.sessions))
    await storage.append(follower.take(40))
    const before = fs.image()
    const opsBefore = fs.ops.length
    const leader = new Workload(leaderSeed, leaderEpoch)
    leader.take(30)
    await storage.installSnapshot(snapshotRequestOf(leader.tree, leader.sessions))
    const after = leader.take(5)
    await storage.append(after)
    await storage.close()
    const oldDigest = follower.tree.digest()
    const leaderDigests = new Map<bigint, bigint>()
    const replay = new Workload(leaderSeed, leaderEpoch)
    replay.take(30)
    leaderDigests.set(replay.txns.at(-1)!.zxid, replay.tree.digest())
    for (let i = 0; i < after.length; i++) leaderDigests.set(replay.next().zxid, replay.tree.digest())
    let images = 0
    const failures: string[] = []
    const ops = fs.ops.slice(opsBefore)
    for (const crash of crashImages(before, ops, (n) => [1, Math.floor(n / 2), n - 1], () => '')) {
      images++
      const label = `prefix ${crash.prefix}/${ops.length} ${JSON.stringify(crash.variant)}`
      const opened = await FileStorage.open(DIR, { fs: new MemoryStorageFs(crash.image), ...OPTIONS }).catch((err: unknown) => err)
      if (!(typeof opened === 'object' && opened !== null && 'recovered' in opened)) {
        failures.push(`${label}: refused: ${String(opened)}`)
        continue
      }
      const { recovered, storage: reopened } = opened as Awaited<ReturnType<typeof FileStorage.open>>
      await reopened.close()
      const digest = restoreStandalone(recovered, SESSION_OPTIONS).tree.digest()
      const isOld = recovered.lastZxid === follower.txns.at(-1)!.zxid && digest === oldDigest
      const isLeader = leaderDigests.get(recovered.lastZxid) === digest
      if (!isOld && !isLeader) failures.push(`${label}: recovered zxid ${recovered.lastZxid} with a state that is neither`)
    }
    expect(failures).toEqual([])
    expect(images).toBeGreaterThan(ops.length)
  })
})
