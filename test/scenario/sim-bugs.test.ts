/**
 * Proof that each deliberate protocol bug (PeerConfig.bug, filled from
 * CONCLAVE_SIM_BUG by the simulator) really breaks the protocol. Each test runs
 * one script twice: with the bug, the script ends in the violation the bug's name
 * promises (an acknowledged write lost, or servers applying different histories);
 * without it, the very same script ends safely. A simulator that runs with the
 * switch set must therefore be able to find a failure.
 */
import { describe, expect, test } from 'vitest'
import { makeZxid, type Zxid } from '../../protocol/index.js'
import type { SimBug } from '../../server/core/index.js'
import { Cluster, isType } from './harness.js'

const z = makeZxid

/** lostAcknowledged lists acknowledged writes that no server that is up has applied. */
function lostAcknowledged(c: Cluster): Zxid[] {
  const applied = new Set(c.up().flatMap((n) => n.applied.map((t) => t.zxid)))
  return [...c.acked.values()].filter((zxid) => !applied.has(zxid))
}

describe('ack-before-fsync', () => {
  /** A follower acks a write it has not fsynced, then crashes; the leader is lost too. */
  function script(bug: SimBug | undefined): Cluster {
    const c = new Cluster([1, 2, 3], bug === undefined ? {} : { config: { bug } })
    c.runUntil(() => c.allServing())
    c.dropWhere((m) => m.to === 2 && isType(m, 'proposal', 'commit'))
    c.node(1).holdPersist = true
    c.write(3)
    c.stabilize()
    c.crash(1) // node 1 loses the unsynced write
    c.crash(3) // and the leader is gone: one server down in the end
    c.clearRules()
    c.node(1).holdPersist = false
    c.restart(1)
    c.runUntil(() => c.leaderId() !== undefined && c.peer(1).established && c.peer(2).established)
    return c
  }

  test('with the bug, a write acknowledged to its client is lost with only one server down', () => {
    const c = script('ack-before-fsync')
    expect([...c.acked.values()]).toEqual([z(1, 1)])
    expect(lostAcknowledged(c)).toEqual([z(1, 1)])
  })

  test('without it, the write was never acknowledged', () => {
    const c = script(undefined)
    expect(c.acked.size).toBe(0)
    expect(lostAcknowledged(c)).toEqual([])
  })
})

describe('commit-without-quorum', () => {
  function script(bug: SimBug | undefined): Cluster {
    const c = new Cluster([1, 2, 3], bug === undefined ? {} : { config: { bug } })
    c.runUntil(() => c.allServing())
    c.dropWhere((m) => m.from === 3 && isType(m, 'proposal'))
    c.write(3)
    c.stabilize()
    c.crash(3)
    c.clearRules()
    c.runUntil(() => c.leaderId() === 2 && c.peer(1).established)
    return c
  }

  test('with the bug, the leader acknowledges a write no follower has, and it is lost', () => {
    const c = script('commit-without-quorum')
    expect(lostAcknowledged(c)).toEqual([z(1, 1)])
  })

  test('without it, nothing is acknowledged', () => {
    const c = script(undefined)
    expect(c.acked.size).toBe(0)
  })
})

describe('vote-ignores-zxid', () => {
  /**
   * Node 1 logged and acked a write node 2 never saw; the leader committed it and
   * answered its client, then crashed before its COMMIT went out. 1 and 2 elect.
   */
  function script(bug: SimBug | undefined): Cluster {
    const c = new Cluster([1, 2, 3], bug === undefined ? {} : { config: { bug } })
    c.runUntil(() => c.allServing())
    c.dropWhere((m) => m.to === 2 && isType(m, 'proposal'))
    c.dropWhere((m) => m.from === 3 && isType(m, 'commit', 'ping'))
    c.write(3)
    c.stabilize()
    c.crash(3)
    c.clearRules()
    c.runUntil(() => c.leaderId() !== undefined && c.peer(1).established && c.peer(2).established)
    return c
  }

  test('with the bug, the server without the write wins and the acknowledged write is lost', () => {
    const c = script('vote-ignores-zxid')
    expect(c.acked.size).toBe(1)
    expect(c.leaderId()).toBe(2)
    expect(lostAcknowledged(c)).toEqual([z(1, 1)])
  })

  test('without it, the server holding the write wins and the write survives', () => {
    const c = script(undefined)
    expect(c.leaderId()).toBe(1)
    expect(lostAcknowledged(c)).toEqual([])
    expect(c.appliedZxids(2)).toEqual([z(1, 1)])
  })
})

describe('trunc-across-epoch', () => {
  /**
   * Node 3 leads epoch 2 and logs (2,1) alone, then crashes; nodes 1 and 2 go on to
   * epoch 3 with (3,1). When 3 returns, the latest point of the leader's history below
   * its tail is (1,1): the cut would cross from epoch 2 into epoch 1.
   */
  function script(bug: SimBug | undefined): Cluster {
    const c = new Cluster([1, 2, 3], bug === undefined ? {} : { config: { bug } })
    c.runUntil(() => c.allServing())
    c.write(3)
    c.stabilize()
    c.crash(3)
    c.restart(3)
    c.runUntil(() => c.allServing() && c.peer(3).status().currentEpoch === 2)
    c.dropWhere((m) => m.from === 3 && isType(m, 'proposal'))
    c.write(3)
    c.stabilize()
    c.crash(3)
    c.clearRules()
    c.runUntil(() => c.leaderId() === 2 && c.peer(1).established)
    c.write(2)
    c.stabilize()
    c.restart(3)
    c.runUntil(
      () => c.node(3).syncModes.length > 0 && c.peer(3).status().lastCommittedZxid >= z(1, 1),
      50,
    )
    c.run(3)
    return c
  }

  test('with the bug, the returning server keeps its stale tail and applies a history nobody else has', () => {
    const c = script('trunc-across-epoch')
    expect(c.node(3).syncModes[0]).toBe('trunc')
    expect(c.appliedZxids(2)).toEqual([z(1, 1), z(3, 1)])
    expect(c.appliedZxids(3)).toEqual([z(1, 1), z(2, 1)])
  })

  test('without it, the returning server is sent a snapshot and ends with the leader’s history', () => {
    const c = script(undefined)
    expect(c.node(3).syncModes).toEqual(['snap'])
    for (const id of [1, 2, 3]) expect(c.appliedZxids(id)).toEqual([z(1, 1), z(3, 1)])
  })
})
