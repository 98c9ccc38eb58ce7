/**
 * Recovery scenarios: what a new leader does with the history it inherits and how
 * each follower is brought in line (DIFF, TRUNC, SNAP), including crashes that lose
 * whatever was not yet fsynced. Every test states the exact outcome: which writes
 * exist on which server afterwards, which sync each server received, and that no
 * write a client saw acknowledged is ever lost.
 */
import { describe, expect, test } from 'vitest'
import { makeZxid } from '../../protocol/index.js'
import { Cluster, isType } from './harness.js'

const z = makeZxid

describe('leader crash mid-proposal', () => {
  test('a proposal no follower received is gone everywhere and was never acknowledged', () => {
    const c = new Cluster([1, 2, 3])
    c.runUntil(() => c.allServing())
    c.write()
    c.stabilize()
    c.dropWhere((m) => m.from === 3 && isType(m, 'proposal'))
    const lost = c.write()
    c.stabilize()
    expect(lost.zxid).toBe(z(1, 2))
    expect(c.node(3).disk.log.map((t) => t.zxid)).toEqual([z(1, 1), z(1, 2)]) // durable on the leader only
    expect(c.acked.has(lost.xid)).toBe(false)
    c.crash(3)
    c.clearRules()
    c.runUntil(() => c.leaderId() === 2 && c.peer(1).established)
    c.write(2)
    c.stabilize()
    c.restart(3)
    c.runUntil(() => c.allServing())
    for (const id of [1, 2, 3]) expect(c.appliedZxids(id)).toEqual([z(1, 1), z(2, 1)])
    expect(c.node(3).disk.log.map((t) => t.zxid)).toEqual([z(1, 1), z(2, 1)])
    expect(c.node(3).syncModes).toEqual(['trunc'])
    expect(c.acked.has(lost.xid)).toBe(false)
  })

  test('a proposal one follower logged survives everywhere though its client got no answer', () => {
    const c = new Cluster([1, 2, 3])
    c.runUntil(() => c.allServing())
    c.dropWhere((m) => m.from === 3 && m.to === 2 && isType(m, 'proposal'))
    c.dropWhere((m) => m.to === 3 && isType(m, 'ack')) // the leader never learns it could commit
    const w = c.write()
    c.stabilize()
    expect(c.acked.has(w.xid)).toBe(false)
    expect(c.peer(1).status().lastLoggedZxid).toBe(w.zxid)
    c.crash(3)
    c.clearRules()
    c.runUntil(() => c.leaderId() === 1 && c.peer(2).established)
    c.restart(3)
    c.runUntil(() => c.allServing())
    for (const id of [1, 2, 3]) expect(c.appliedZxids(id)).toEqual([w.zxid])
  })

  test('an acknowledged write whose COMMIT never left the leader survives the leader crash', () => {
    const c = new Cluster([1, 2, 3])
    c.runUntil(() => c.allServing())
    c.dropWhere((m) => m.from === 3 && isType(m, 'commit', 'ping'))
    const w = c.write()
    c.stabilize()
    expect(c.acked.get(w.xid)).toBe(w.zxid)
    expect(c.peer(1).status().lastCommittedZxid).toBe(0n)
    c.crash(3)
    c.clearRules()
    c.runUntil(() => c.leaderId() === 2 && c.peer(1).established)
    for (const id of [1, 2]) expect(c.appliedZxids(id)).toEqual([w.zxid])
  })
})

describe('synchronization', () => {
  test('DIFF: a follower a few writes behind receives exactly the missing txns', () => {
    const c = new Cluster([1, 2, 3])
    c.runUntil(() => c.allServing())
    c.write()
    c.stabilize()
    c.crash(1)
    for (let i = 0; i < 3; i++) c.write()
    c.stabilize()
    c.restart(1)
    c.runUntil(() => c.peer(1).established)
    expect(c.node(1).syncModes).toEqual(['diff'])
    expect(c.appliedZxids(1)).toEqual([z(1, 1), z(1, 2), z(1, 3), z(1, 4)])
  })

  test('TRUNC: an uncommitted old-epoch tail is cut back and the new epoch appended', () => {
    const c = new Cluster([1, 2, 3])
    c.runUntil(() => c.allServing())
    c.write()
    c.write()
    c.stabilize()
    // The old leader logs two more proposals nobody else sees, then crashes.
    c.crashWithUnsentProposals(3, 2)
    expect(c.node(3).disk.log.map((t) => t.zxid)).toEqual([z(1, 1), z(1, 2), z(1, 3), z(1, 4)])
    c.runUntil(() => c.leaderId() === 2 && c.peer(1).established)
    c.write(2)
    c.stabilize()
    c.restart(3)
    c.runUntil(() => c.allServing())
    expect(c.node(3).syncModes).toEqual(['trunc'])
    const expected = [z(1, 1), z(1, 2), z(2, 1)]
    expect(c.node(3).disk.log.map((t) => t.zxid)).toEqual(expected)
    for (const id of [1, 2, 3]) expect(c.appliedZxids(id)).toEqual(expected)
  })

  test('SNAP: a follower further behind than the DIFF limit gets a snapshot and the tail after it', () => {
    const c = new Cluster([1, 2, 3], { config: { diffLimitTxns: 5 } })
    c.runUntil(() => c.allServing())
    c.crash(1)
    for (let i = 0; i < 12; i++) c.write()
    c.stabilize()
    c.snapshotNow(3)
    c.restart(1)
    c.runUntil(() => c.peer(1).established)
    expect(c.node(1).syncModes).toEqual(['snap'])
    expect(c.node(1).disk.snapshot?.zxid).toBe(z(1, 12))
    expect(c.appliedZxids(1)).toEqual(c.appliedZxids(3))
    expect(c.appliedZxids(1)).toHaveLength(12)
    // Only diffLimitTxns committed txns stay in the leader's memory.
    expect(c.peer(3).status().logLength).toBe(5)
  })

  test('SNAP: an uncommitted tail from an epoch the leader has no txn of cannot be truncated', () => {
    const c = new Cluster([1, 2, 3])
    c.runUntil(() => c.allServing())
    c.write()
    c.stabilize()
    // Epoch 2 under leader 3 again (a restart forces a new epoch); its only proposal stays on 3.
    c.crash(3)
    c.restart(3)
    c.runUntil(() => c.allServing() && c.peer(3).status().currentEpoch === 2)
    expect(c.leaderId()).toBe(3)
    c.dropWhere((m) => m.from === 3 && isType(m, 'proposal'))
    c.write()
    c.stabilize()
    c.crash(3)
    c.clearRules()
    c.runUntil(() => c.leaderId() === 2 && c.peer(1).established)
    c.write(2)
    c.stabilize()
    c.restart(3)
    c.runUntil(() => c.allServing())
    // (2,1) lies in an epoch the leader's history skips: TRUNC would cross from epoch 2 to 1.
    expect(c.node(3).syncModes.at(-1)).toBe('snap')
    const expected = [z(1, 1), z(3, 1)]
    for (const id of [1, 2, 3]) expect(c.appliedZxids(id)).toEqual(expected)
  })
})

describe('whole-ensemble crash', () => {
  test('every server crashes mid-pipeline, losing unsynced writes; no acknowledged write is lost', () => {
    const c = new Cluster([1, 2, 3])
    c.runUntil(() => c.allServing())
    for (let i = 0; i < 5; i++) c.write()
    c.stabilize()
    // More writes in flight: the leader's and node 1's fsyncs never complete.
    c.node(3).holdPersist = true
    c.node(1).holdPersist = true
    for (let i = 0; i < 3; i++) c.write()
    c.stabilize()
    const acked = new Map(c.acked)
    expect([...acked.keys()]).toEqual([1, 2, 3, 4, 5])
    for (const id of [1, 2, 3]) c.crash(id)
    for (const id of [1, 2, 3]) {
      c.node(id).holdPersist = false
      c.restart(id)
    }
    c.runUntil(() => c.allServing(), 200)
    for (const id of [1, 2, 3]) {
      const applied = c.appliedZxids(id)
      for (const zxid of acked.values()) expect(applied).toContain(zxid)
      expect(applied).toEqual(c.appliedZxids(c.requireLeader()))
    }
  })

  test('a restart with a durable log but no snapshot re-applies only what the new epoch commits', () => {
    const c = new Cluster([1, 2, 3])
    c.runUntil(() => c.allServing())
    for (let i = 0; i < 4; i++) c.write()
    c.stabilize()
    c.snapshotNow(1)
    for (const id of [1, 2, 3]) c.crash(id)
    for (const id of [1, 2, 3]) c.restart(id)
    expect(c.appliedZxids(1)).toEqual([z(1, 1), z(1, 2), z(1, 3), z(1, 4)])
    expect(c.appliedZxids(2)).toEqual([])
    c.runUntil(() => c.allServing())
    expect(c.leaderId()).toBe(3)
    for (const id of [1, 2, 3])
      expect(c.appliedZxids(id)).toEqual([z(1, 1), z(1, 2), z(1, 3), z(1, 4)])
    expect(c.peer(3).status().currentEpoch).toBe(2)
  })
})
