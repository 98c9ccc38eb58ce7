/**
 * Streamed synchronization: a DIFF (or TRUNC) whose txns exceed the peer message budget
 * arrives as the DIFF message and SYNCPART messages. The follower applies it only once
 * it holds all of it, so the sync is durable as one unit before NEWLEADER is acked; a
 * lost part, or a crash in the middle, leaves the follower's log as it was, and the next
 * sync brings it in line. The budget is set so a part holds two of the harness's txns.
 */
import { describe, expect, test } from 'vitest'
import { makeZxid, type Zxid } from '../../protocol/index.js'
import { Cluster, isType, type InFlightMessage } from './harness.js'

const z = makeZxid
/** BUDGET_BYTES holds two of the harness's no-op txns (txnBytesBound 264 each) per message. */
const BUDGET_BYTES = 600

/** behindByNine: a 3-server ensemble where follower 1 was down while leader 3 committed 9 more writes. */
function behindByNine(): { c: Cluster; before: Zxid[]; all: Zxid[] } {
  const c = new Cluster([1, 2, 3], { config: { peerMessageBudgetBytes: BUDGET_BYTES } })
  c.runUntil(() => c.allServing())
  c.write()
  c.stabilize()
  expect(c.requireLeader()).toBe(3)
  c.crash(1)
  for (let i = 0; i < 9; i++) c.write()
  c.stabilize()
  const all = Array.from({ length: 10 }, (_, i) => z(1, i + 1))
  return { c, before: [z(1, 1)], all }
}

/** recordSync collects the sync messages delivered to `id`. */
function recordSync(c: Cluster, id: number): InFlightMessage[] {
  const seen: InFlightMessage[] = []
  c.onDeliver = (m) => {
    if (m.to === id && isType(m, 'diff', 'trunc', 'snap', 'syncPart')) seen.push(m)
  }
  return seen
}

describe('a sync streamed in parts', () => {
  test('a DIFF over several parts brings the follower exactly the missing txns', () => {
    const { c, all } = behindByNine()
    const seen = recordSync(c, 1)
    c.restart(1)
    c.runUntil(() => c.allServing())
    // Two txns a message: the DIFF and four parts carry the nine missing txns.
    expect(seen.map((m) => m.message.type)).toEqual([
      'diff',
      'syncPart',
      'syncPart',
      'syncPart',
      'syncPart',
    ])
    const diff = seen[0]!.message
    expect(diff.type === 'diff' && diff.throughZxid).toBe(z(1, 10))
    expect(c.node(1).syncModes).toEqual(['diff'])
    expect(c.node(1).disk.log.map((t) => t.zxid)).toEqual(all)
    for (const id of [1, 2, 3]) expect(c.appliedZxids(id)).toEqual(all)
  })

  test('a lost part is noticed: nothing of that sync is logged, and the next sync completes it', () => {
    const { c, before, all } = behindByNine()
    let dropped = 0
    c.dropWhere((m) => m.to === 1 && isType(m, 'syncPart') && dropped++ === 1)
    c.restart(1)
    c.runUntil(() => dropped > 1 && c.peer(1).role !== 'following', 50)
    expect(c.node(1).transitions.some((t) => /sync part after .* does not follow/.test(t))).toBe(
      true,
    )
    // The parts that did arrive were not logged around the hole.
    expect(c.node(1).disk.log.map((t) => t.zxid)).toEqual(before)
    c.clearRules()
    c.runUntil(() => c.allServing())
    for (const id of [1, 2, 3]) expect(c.appliedZxids(id)).toEqual(all)
    expect(c.node(1).disk.log.map((t) => t.zxid)).toEqual(all)
  })

  test('NEWLEADER before the last part (parts lost at the end) sends the follower back to election', () => {
    const { c, before, all } = behindByNine()
    let parts = 0
    c.dropWhere((m) => m.to === 1 && isType(m, 'syncPart') && ++parts >= 3)
    c.restart(1)
    c.runUntil(() => parts >= 4 && c.peer(1).role !== 'following', 50)
    expect(
      c.node(1).transitions.some((t) => /NEWLEADER arrived before the sync reached/.test(t)),
    ).toBe(true)
    expect(c.node(1).disk.log.map((t) => t.zxid)).toEqual(before)
    c.clearRules()
    c.runUntil(() => c.allServing())
    for (const id of [1, 2, 3]) expect(c.appliedZxids(id)).toEqual(all)
  })

  test('a follower that crashes mid-DIFF restarts from its old log and is synced again', () => {
    const { c, before, all } = behindByNine()
    // The first two parts arrive; the rest are held on the wire when the follower crashes.
    let parts = 0
    c.holdWhere(
      (m) => m.to === 1 && (isType(m, 'newLeader') || (isType(m, 'syncPart') && ++parts > 2)),
    )
    c.restart(1)
    c.runUntil(() => c.held.some((m) => isType(m, 'newLeader')), 50)
    expect(c.peer(1).status().lastLoggedZxid).toBe(before.at(-1))
    c.crash(1)
    c.clearRules()
    c.held = []
    expect(c.node(1).disk.log.map((t) => t.zxid)).toEqual(before)
    c.restart(1)
    c.runUntil(() => c.allServing())
    expect(c.node(1).disk.log.map((t) => t.zxid)).toEqual(all)
    for (const id of [1, 2, 3]) expect(c.appliedZxids(id)).toEqual(all)
  })

  test('a TRUNC over several parts cuts the stale tail and appends the new epoch', () => {
    const c = new Cluster([1, 2, 3], { config: { peerMessageBudgetBytes: BUDGET_BYTES } })
    c.runUntil(() => c.allServing())
    c.write()
    c.stabilize()
    // The old leader logs two proposals nobody else sees, then crashes.
    c.crashWithUnsentProposals(3, 2)
    c.runUntil(() => c.leaderId() === 2 && c.peer(1).established)
    for (let i = 0; i < 5; i++) c.write(2)
    c.stabilize()
    const seen = recordSync(c, 3)
    c.restart(3)
    c.runUntil(() => c.allServing())
    expect(seen.map((m) => m.message.type)).toEqual(['trunc', 'syncPart', 'syncPart'])
    const expected = [z(1, 1), ...Array.from({ length: 5 }, (_, i) => z(2, i + 1))]
    expect(c.node(3).disk.log.map((t) => t.zxid)).toEqual(expected)
    for (const id of [1, 2, 3]) expect(c.appliedZxids(id)).toEqual(expected)
  })
})
