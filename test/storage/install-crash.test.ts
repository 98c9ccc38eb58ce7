/**
 * Crash images of a snapshot install (ZAB's SNAP): a follower with a diverged log
 * receives the leader's snapshot and the txns that came with it, which together must
 * replace its whole log atomically (the Ready contract, server/core/ready.ts). At
 * every crash point the directory must recover to either the follower's old state or
 * the leader's snapshot followed by EVERY one of those txns (plus any prefix of the
 * txns appended after the install) — never the snapshot alone or with only some of
 * its txns, which is how simulator seed 12746 lost an acknowledged write, and never
 * the snapshot with stale txns replayed on top. A second open of each crash image
 * must find the same state with nothing left to complete.
 * Method: record the install on the in-memory disk, build every crash image
 * (crash-model.ts) and compare digests.
 */
import { describe, expect, it } from 'vitest'
import type { Txn } from '../../protocol/txn.js'
import { FileStorage } from '../../server/storage/file-storage.js'
import { MemoryStorageFs } from '../../server/storage/memory-fs.js'
import { restoreStandalone, snapshotRequestOf } from '../../server/storage/restore.js'
import { crashImages } from './crash-model.js'
import { SESSION_OPTIONS, Workload } from './workload.js'

const DIR = '/data'
// Small segments and chunks: the carried txns span several snapshot frames and log
// segments; each segment is extended with zeros a few times (preallocation).
const OPTIONS = { segmentBytesMax: 2048, recordsPerChunk: 8, preallocateBytes: 512 }

describe('snapshot install crash images', () => {
  // Newer epoch: the leader's snapshot is from a newer epoch than the follower's log.
  // Same epoch: the snapshot lies below the end of the follower's log, so stale records
  // lie above the snapshot zxid. Older than an earlier install: the follower installed a
  // snapshot from epoch 4 before, and now gets an epoch-3 snapshot older than that one.
  it.each([
    { name: 'newer epoch', leaderSeed: 32, leaderEpoch: 3, earlierInstall: false },
    {
      name: 'same epoch, below the stale log end',
      leaderSeed: 77,
      leaderEpoch: 2,
      earlierInstall: false,
    },
    { name: 'older than an earlier install', leaderSeed: 78, leaderEpoch: 3, earlierInstall: true },
  ])(
    'recover to the old state or the snapshot with all its txns, never a mix ($name)',
    { timeout: 120_000 },
    async ({ leaderSeed, leaderEpoch, earlierInstall }) => {
      const fs = new MemoryStorageFs()
      const { storage } = await FileStorage.open(DIR, { fs, createIfMissing: true, ...OPTIONS })
      // The follower's own history diverges from the leader's after epoch 1: it logged epoch-2 txns the leader never had.
      const follower = new Workload(31, earlierInstall ? 4 : 2)
      if (earlierInstall) {
        const twin = new Workload(31, 4)
        follower.take(70)
        twin.take(70)
        await storage.installSnapshot(
          snapshotRequestOf(follower.tree, follower.sessions),
          twin.take(10),
        )
        follower.take(10)
        await storage.append(follower.take(20))
      } else {
        await storage.append(follower.take(60))
        await storage.snapshot(snapshotRequestOf(follower.tree, follower.sessions))
        await storage.append(follower.take(40))
      }
      const before = fs.image()
      const opsBefore = fs.ops.length
      // The leader's snapshot at its 30th txn, then the 20 txns after it in the same Ready.
      const leader = new Workload(leaderSeed, leaderEpoch)
      leader.take(30)
      const ahead = new Workload(leaderSeed, leaderEpoch)
      ahead.take(30)
      const carried = ahead.take(20)
      await storage.installSnapshot(snapshotRequestOf(leader.tree, leader.sessions), carried)
      leader.take(20)
      const after = leader.take(5)
      await storage.append(after)
      await storage.close()

      const oldDigest = follower.tree.digest()
      const replay = new Workload(leaderSeed, leaderEpoch)
      replay.take(50)
      // Acceptable leader states: every carried txn, then any prefix of the later appends.
      const leaderDigests = new Map<bigint, bigint>([
        [replay.txns.at(-1)!.zxid, replay.tree.digest()],
      ])
      for (let i = 0; i < after.length; i++)
        leaderDigests.set(replay.next().zxid, replay.tree.digest())
      let images = 0
      let leaderImages = 0
      let completedTails = 0
      const failures: string[] = []
      const ops = fs.ops.slice(opsBefore)
      for (const crash of crashImages(
        before,
        ops,
        (n) => [1, Math.floor(n / 2), n - 1],
        () => '',
      )) {
        images++
        const label = `prefix ${crash.prefix}/${ops.length} ${JSON.stringify(crash.variant)}`
        const disk = new MemoryStorageFs(crash.image)
        const first = await openAndDescribe(disk)
        if (typeof first === 'string') {
          failures.push(`${label}: refused: ${first}`)
          continue
        }
        const isOld = first.lastZxid === follower.txns.at(-1)!.zxid && first.digest === oldDigest
        const isLeader =
          leaderDigests.get(first.lastZxid) === first.digest &&
          first.snapshotZxid === leader.txns[29]!.zxid &&
          startsWith(first.txns, carried)
        if (!isOld && !isLeader)
          failures.push(
            `${label}: recovered zxid ${first.lastZxid.toString(16)} with a state that is neither`,
          )
        if (isLeader) leaderImages++
        if (first.completedTail) completedTails++
        // The first open finished any interrupted install: a second one finds the same state and nothing to do.
        const second = await openAndDescribe(new MemoryStorageFs(disk.image()))
        if (typeof second === 'string') failures.push(`${label}: second open refused: ${second}`)
        else if (
          second.digest !== first.digest ||
          second.lastZxid !== first.lastZxid ||
          second.completedTail ||
          second.tailLeft > 0
        ) {
          failures.push(
            `${label}: second open differs (zxid ${second.lastZxid.toString(16)}, completed tail ${second.completedTail}, tail left ${second.tailLeft})`,
          )
        }
      }
      expect(failures).toEqual([])
      expect(images).toBeGreaterThan(ops.length)
      // Both outcomes occur, and some crashes left the carried txns only in the snapshot file.
      expect(leaderImages).toBeGreaterThan(0)
      expect(leaderImages).toBeLessThan(images)
      expect(completedTails).toBeGreaterThan(0)
    },
  )
})

interface Opened {
  lastZxid: bigint
  snapshotZxid: bigint
  digest: bigint
  txns: Txn[]
  completedTail: boolean
  tailLeft: number
}

async function openAndDescribe(fs: MemoryStorageFs): Promise<Opened | string> {
  const opened = await FileStorage.open(DIR, { fs, ...OPTIONS }).catch((err: unknown) =>
    String(err),
  )
  if (typeof opened === 'string') return opened
  const { recovered, storage } = opened
  await storage.close()
  return {
    lastZxid: recovered.lastZxid,
    snapshotZxid: recovered.snapshot?.zxid ?? 0n,
    digest: restoreStandalone(recovered, SESSION_OPTIONS).tree.digest(),
    txns: recovered.txns,
    completedTail: recovered.warnings.some((w) =>
      w.includes('completed an interrupted snapshot install'),
    ),
    tailLeft: recovered.snapshot?.tail.length ?? 0,
  }
}

function startsWith(txns: readonly Txn[], prefix: readonly Txn[]): boolean {
  return prefix.every((txn, i) => txns[i]?.zxid === txn.zxid)
}
