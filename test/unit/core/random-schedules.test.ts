/**
 * Randomized schedules against the core's safety promises. fast-check picks a seed
 * per run; the seed drives a schedule over 3 or 5 peers: ticks, writes at the
 * leader, out-of-order delivery, drops, duplicates, partitions, held fsyncs, and
 * crashes that lose whatever was not durable, then restarts. After every step each
 * peer's invariants are checked (by the harness); throughout, the applied
 * histories of all servers must be prefixes of one history; at the end everything
 * heals and every acknowledged write must be applied everywhere.
 *
 * This is not the deterministic simulator (test/sim owns that): it is the core's
 * own smoke alarm, small enough to run in the unit suite.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import type { ServerId, Txn } from '../../../protocol/index.js'
import type { SimBug } from '../../../server/core/index.js'
import { Cluster, mulberry32 } from '../../scenario/harness.js'

/** checkPrefixes asserts that all applied histories (and the longest seen so far) agree. */
function checkPrefixes(c: Cluster, longest: { txns: Txn[] }): void {
  for (const node of c.nodes.values()) {
    const applied = node.applied
    const shorter = applied.length <= longest.txns.length ? applied : longest.txns
    const other = applied.length <= longest.txns.length ? longest.txns : applied
    for (let i = 0; i < shorter.length; i++) {
      const a = shorter[i] as Txn
      const b = other[i] as Txn
      if (a.zxid !== b.zxid || a.xid !== b.xid) {
        throw new Error(
          `server ${node.id} applied ${a.zxid}/${a.xid} at ${i} where another applied ${b.zxid}/${b.xid}`,
        )
      }
    }
    if (applied.length > longest.txns.length) longest.txns = [...applied]
  }
}

function runSchedule(seed: number, size: 3 | 5, steps: number): void {
  const random = mulberry32(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const ids: ServerId[] = size === 3 ? [1, 2, 3] : [1, 2, 3, 4, 5]
  const bug = process.env.SCHEDULE_BUG as SimBug | undefined
  const c = new Cluster(ids, {
    seed,
    config: { leaderTimeoutTicks: 5, initTimeoutTicks: 30, diffLimitTxns: 4, bug },
  })
  const longest = { txns: [] as Txn[] }
  for (let step = 0; step < steps; step++) {
    const r = random()
    const up = c.up()
    if (r < 0.08) c.tick()
    else if (r < 0.23) {
      const leader = c.leaderId()
      if (leader !== undefined && c.peer(leader).canPropose()) c.write(leader)
    } else if (r < 0.48) {
      for (const n of up) c.processReady(n.id)
    } else if (r < 0.83) {
      // A burst of deliveries in random order (delay reorders).
      const burst = 1 + Math.floor(random() * 8)
      for (let i = 0; i < burst && c.queue.length > 0; i++)
        c.deliverAt(Math.floor(random() * c.queue.length))
    } else if (r < 0.86) {
      if (c.queue.length > 0) c.queue.splice(Math.floor(random() * c.queue.length), 1)
    } else if (r < 0.88) {
      const m = c.queue[Math.floor(random() * c.queue.length)]
      if (m !== undefined) c.queue.push(m)
    } else if (r < 0.9) {
      const n = pick(up)
      if (n !== undefined) n.holdPersist = !n.holdPersist
      if (n !== undefined && !n.holdPersist) c.completePersist(n.id)
    } else if (r < 0.91) {
      // A crash keeps a random prefix of the in-flight Ready's disk operations.
      const n = pick(up)
      if (n !== undefined && up.length > 1) c.crash(n.id, Math.floor(random() * 4))
    } else if (r < 0.95) {
      const down = [...c.nodes.values()].filter((n) => n.peer === undefined)
      const n = pick(down)
      if (n !== undefined) {
        n.holdPersist = false
        c.restart(n.id)
      }
    } else if (r < 0.96) {
      c.isolate(pick(ids))
    } else if (r < 0.975) {
      const n = pick(up)
      if (n !== undefined) c.snapshotNow(n.id)
    } else c.healAll()
    checkPrefixes(c, longest)
  }
  // Heal everything and let the ensemble settle: every acknowledged write must be everywhere.
  c.healAll()
  for (const n of c.nodes.values()) {
    n.holdPersist = false
    if (n.peer === undefined) c.restart(n.id)
    else c.completePersist(n.id)
  }
  c.runUntil(() => {
    const leader = c.leaderId()
    if (!c.allServing() || leader === undefined) return false
    const committed = c.peer(leader).status().lastCommittedZxid
    return c.up().every((n) => n.appliedZxid === committed)
  }, 400)
  checkPrefixes(c, longest)
  const leader = c.requireLeader()
  if (process.env.SCHEDULE_DEBUG) {
    for (const n of c.nodes.values())
      console.log(
        n.id,
        c.describe(),
        'applied',
        n.applied.map((t) => `${t.zxid >> 32n}:${t.zxid & 0xffffffffn}`).join(','),
        'log',
        n.peer
          ?.logTxns()
          .map((t) => `${t.zxid >> 32n}:${t.zxid & 0xffffffffn}`)
          .join(','),
        'disk',
        n.disk.snapshot?.zxid,
        n.disk.log.length,
      )
    console.log(
      'acked',
      [...c.acked.values()].map((z) => `${z >> 32n}:${z & 0xffffffffn}`).join(','),
    )
  }
  if (process.env.SCHEDULE_STATS)
    console.log(
      `seed ${seed}: acked ${c.acked.size}, epoch ${c.peer(leader).status().currentEpoch}, applied ${c.appliedZxids(leader).length}, syncs ${[...c.nodes.values()].map((n) => n.syncModes.join('')).join('|')}`,
    )
  for (const zxid of c.acked.values()) {
    for (const id of ids)
      expect(
        c.appliedZxids(id),
        `seed ${seed}: server ${id} lacks acked ${zxid} (leader ${leader})`,
      ).toContain(zxid)
  }
}

describe('random schedules', () => {
  const replay = process.env.SCHEDULE_SEED
  test.runIf(replay !== undefined)('replay one seed (SCHEDULE_SEED, SCHEDULE_SIZE)', () => {
    runSchedule(Number(replay), process.env.SCHEDULE_SIZE === '5' ? 5 : 3, 1500)
  })

  test('three servers: applied histories agree and acknowledged writes survive', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) =>
        runSchedule(seed, 3, Number(process.env.SCHEDULE_STEPS ?? 1500)),
      ),
      { numRuns: Number(process.env.SCHEDULE_RUNS ?? 60) },
    )
  })

  test('five servers: applied histories agree and acknowledged writes survive', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) =>
        runSchedule(seed, 5, Number(process.env.SCHEDULE_STEPS ?? 1500)),
      ),
      { numRuns: Number(process.env.SCHEDULE_RUNS ?? 30) },
    )
  })
})
