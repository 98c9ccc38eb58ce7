/**
 * A member whose disk is full (Peer.storageStalled): it must leave the leadership it
 * leads or follows and stay out of elections, so the members that can write go on
 * without it, and rejoin by itself once it can persist again — with persistence it was
 * already handed (a Ready held unwritten, as the runtime retries it) completed late
 * and nothing acknowledged lost.
 */
import { describe, expect, test } from 'vitest'
import { Cluster } from './harness.js'

/** sentBy lists the message types `id` put on the wire while `during` ran. */
function sentBy(c: Cluster, id: number, during: () => void): string[] {
  const sent: string[] = []
  c.holdWhere((m) => {
    if (m.from === id) sent.push(m.message.type)
    return false
  })
  try {
    during()
  } finally {
    c.clearRules()
  }
  return sent
}

describe('storage stalled', () => {
  test('a stalled leader steps down, stays silent, a member that can write leads; it rejoins as a follower when it can write again', () => {
    const c = new Cluster([1, 2, 3])
    c.runUntil(() => c.allServing())
    expect(c.leaderId()).toBe(3)
    const before = c.write(3)
    c.stabilize()
    const oldEpoch = c.peer(3).status().epoch!

    // The next write's persistence hits the full disk: the runtime holds its Ready and retries.
    c.node(3).holdPersist = true
    c.write(3)
    c.stabilize()
    expect(c.node(3).inFlight).toBeDefined()
    c.peer(3).storageStalled(true)
    expect(c.peer(3).role).toBe('looking')
    expect(c.peer(3).established).toBe(false)

    // 1 and 2 elect a leader among themselves; 3 sends nothing at all meanwhile.
    const sent = sentBy(c, 3, () => {
      c.runUntil(() => c.leaderId() === 2 && c.peer(1).established && c.peer(1).leaderId === 2)
      // Its persistence now succeeds late (the held Ready completes), still stalled: it must stay out.
      c.completePersist(3)
      c.run(60)
    })
    expect(sent).toEqual([])
    expect(c.peer(3).role).toBe('looking')
    expect(c.peer(2).status().epoch).toBeGreaterThan(oldEpoch)
    const during = c.write(2)
    c.stabilize()
    expect(c.appliedZxids(1)).toContain(during.zxid)

    // Space is back: 3 rejoins the new leadership as a follower and catches up.
    c.node(3).holdPersist = false
    c.completePersist(3) // the step-down's own Ready, taken while persistence was still held
    c.peer(3).storageStalled(false)
    c.runUntil(() => c.allServing())
    expect(c.leaderId()).toBe(2)
    expect(c.peer(3).role).toBe('following')
    const after = c.write(2)
    c.stabilize()
    for (const id of [1, 2, 3]) {
      expect(c.appliedZxids(id)).toEqual(c.appliedZxids(2))
      expect(c.appliedZxids(id)).toEqual(
        expect.arrayContaining([before.zxid, during.zxid, after.zxid]),
      )
    }
  })

  test('a stalled follower stops acknowledging; the others commit without it, and it catches up when it can write again', () => {
    const c = new Cluster([1, 2, 3])
    c.runUntil(() => c.allServing())
    c.write(3)
    c.stabilize()
    c.peer(1).storageStalled(true)
    expect(c.peer(1).role).toBe('looking')
    const sent = sentBy(c, 1, () => {
      c.write(3)
      c.write(3)
      c.run(60)
    })
    expect(sent).toEqual([])
    // The leader did not lose its quorum: the same epoch, writes committed by 2 and 3.
    expect(c.leaderId()).toBe(3)
    expect(c.appliedZxids(2)).toEqual(c.appliedZxids(3))
    expect(c.appliedZxids(3)).toHaveLength(3)
    expect(c.appliedZxids(1)).toHaveLength(1)

    c.peer(1).storageStalled(false)
    c.runUntil(() => c.allServing())
    expect(c.leaderId()).toBe(3)
    c.write(3)
    c.stabilize()
    expect(c.appliedZxids(1)).toEqual(c.appliedZxids(3))
    expect(c.appliedZxids(1)).toHaveLength(4)
  })

  test('a stalled standalone server stops serving and serves again once it can write', () => {
    const c = new Cluster([1])
    c.runUntil(() => c.allServing())
    c.write(1)
    c.stabilize()
    c.peer(1).storageStalled(true)
    c.run(30)
    expect(c.peer(1).established).toBe(false)
    c.peer(1).storageStalled(false)
    c.runUntil(() => c.allServing())
    c.write(1)
    c.stabilize()
    expect(c.appliedZxids(1)).toHaveLength(2)
  })
})
