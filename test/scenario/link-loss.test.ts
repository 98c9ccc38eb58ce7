/**
 * A follower told that its connection to the leader closed (a killed leader's socket)
 * starts an election once the connection has stayed closed for leaderLinkGraceTicks,
 * instead of waiting out leaderTimeoutTicks of silence; a connection that reopens
 * within the grace (a flapping link) costs nothing in broadcast. While the follower is
 * synchronizing, a connection that reopens restarts the handshake with the same leader:
 * a sync message lost with it is never re-sent, and waiting would cost
 * initTimeoutTicks. An election in which every reachable member agrees decides without
 * the finalize wait.
 */
import { expect, test } from 'vitest'
import type { PeerMessage } from '../../protocol/index.js'
import { Cluster, isType } from './harness.js'

function failoverTicks(notify: boolean): number {
  const c = new Cluster([1, 2, 3])
  c.runUntil(() => c.allServing())
  const old = c.requireLeader()
  const w = c.write(old)
  c.runUntil(() => c.up().every((n) => n.appliedZxid === w.zxid))
  c.crash(old)
  if (notify) for (const n of c.up()) c.peer(n.id).peerDisconnected(old)
  return c.runUntil(() => {
    const leader = c.leaderId()
    return leader !== undefined && leader !== old && c.up().every((n) => c.peer(n.id).established)
  })
}

test('followers whose connection to the leader stays closed elect a new one well within the leader timeout', () => {
  const silent = failoverTicks(false)
  const told = failoverTicks(true)
  expect(silent).toBeGreaterThanOrEqual(10) // leaderTimeoutTicks
  // The grace (2 ticks), then an election that needs no finalize wait: the dead leader is known unreachable.
  expect(told).toBeLessThanOrEqual(3)
})

test('a connection to the leader that reopens within the grace changes nothing', () => {
  const c = new Cluster([1, 2, 3])
  c.runUntil(() => c.allServing())
  const leader = c.requireLeader()
  const follower = c
    .up()
    .map((n) => n.id)
    .find((id) => id !== leader)!
  const epoch = c.peer(leader).status().epoch
  for (let flap = 0; flap < 5; flap++) {
    c.peer(follower).peerDisconnected(leader)
    c.run(1)
    c.peer(follower).peerConnected(leader)
    c.run(1)
  }
  c.run(5)
  expect(c.leaderId()).toBe(leader)
  expect(c.peer(follower).status().epoch).toBe(epoch)
  expect(c.peer(follower).established).toBe(true)
})

test('losing the link to a member that is not the leader changes nothing', () => {
  const c = new Cluster([1, 2, 3])
  c.runUntil(() => c.allServing())
  const leader = c.requireLeader()
  const followers = c
    .up()
    .map((n) => n.id)
    .filter((id) => id !== leader)
  c.peer(followers[0]!).peerDisconnected(followers[1]!)
  c.peer(leader).peerDisconnected(followers[0]!)
  c.run(5)
  expect(c.up().every((n) => c.peer(n.id).established)).toBe(true)
  expect(c.leaderId()).toBe(leader)
})

/** flapOnFirst drops the first `type` message from `from` to `to` as a connection reset would: the link closes and reopens within the grace. */
function flapOnFirst(
  c: Cluster,
  type: PeerMessage['type'],
  from: number,
  to: number,
): () => boolean {
  let dropped = false
  c.dropWhere((m) => {
    if (dropped || m.from !== from || m.to !== to || !isType(m, type)) return false
    c.peer(to).peerDisconnected(from)
    c.peer(to).peerConnected(from)
    dropped = true
    return true
  })
  return () => dropped
}

test.each<PeerMessage['type']>(['diff', 'newLeader'])(
  'a %s lost with a connection that reopened within the grace restarts the handshake at once, not after initTimeoutTicks',
  (lost) => {
    const c = new Cluster([1, 2, 3])
    c.runUntil(() => c.allServing())
    const leader = c.requireLeader()
    const follower = c
      .up()
      .map((n) => n.id)
      .find((id) => id !== leader)!
    // The follower misses a write, so it rejoins with a DIFF, then NEWLEADER.
    c.crash(follower)
    c.write(leader)
    c.run(1)
    c.restart(follower)
    const dropped = flapOnFirst(c, lost, leader, follower)
    const ticks = c.runUntil(() => c.peer(follower).established, 200)
    expect(dropped()).toBe(true)
    // It used to sit until 'not synced with leader within 100 ticks' (initTimeoutTicks).
    expect(ticks).toBeLessThanOrEqual(5)
    expect(c.node(follower).transitions.at(-1)).toBe(`following ${leader}`)
    expect(c.leaderId()).toBe(leader)
    expect(c.appliedZxids(follower)).toEqual(c.appliedZxids(leader))
  },
)

test.each<PeerMessage['type']>(['diff', 'newLeader'])(
  "with one member down, a %s lost during a new leader's establishment costs a few ticks, not initTimeoutTicks",
  (lost) => {
    const c = new Cluster([1, 2, 3])
    c.runUntil(() => c.allServing())
    const old = c.requireLeader()
    c.write(old)
    c.run(1)
    c.crash(old)
    for (const n of c.up()) c.peer(n.id).peerDisconnected(old)
    // The survivors elect (3 > 2 > 1 among equal logs) and the follower syncs: both are needed.
    const [follower, leader] = c
      .up()
      .map((n) => n.id)
      .sort((a, b) => a - b) as [number, number]
    const dropped = flapOnFirst(c, lost, leader, follower)
    const ticks = c.runUntil(() => c.leaderId() === leader && c.peer(follower).established, 200)
    expect(dropped()).toBe(true)
    // A looking follower could not rejoin here (one answer is not a quorum): the handshake restarts in place.
    expect(ticks).toBeLessThanOrEqual(10)
    expect(c.node(leader).transitions).not.toContain('not established within 100 ticks')
  },
)

test('a follower that restarts its handshake keeps its fresh epoch ack counted (5 members, 2 down)', () => {
  for (const flap of [false, true]) {
    const c = new Cluster([1, 2, 3, 4, 5])
    c.crash(1)
    c.crash(2)
    // 4's ACKEPOCH is late, so the leader (5) still needs 3's fresh ack when 3's link flaps.
    c.holdWhere((m) => m.from === 4 && m.to === 5 && isType(m, 'ackEpoch'))
    c.run(3)
    expect(
      c
        .peer(5)
        .status()
        .followers.find((f) => f.id === 3)?.freshEpochAck,
    ).toBe(true)
    if (flap) {
      c.peer(3).peerDisconnected(5)
      c.peer(3).peerConnected(5)
    }
    c.run(2)
    c.clearRules()
    c.releaseHeld()
    // 3 restarts and acks the epoch again, no longer fresh (it accepted it before, from 5):
    // the leader must keep counting its first ack, or it waits out initTimeoutTicks.
    const ticks = c.runUntil(() => [3, 4, 5].every((id) => c.peer(id).established), 300)
    expect(ticks, `flap ${flap}`).toBeLessThanOrEqual(10)
    expect(c.node(5).transitions).not.toContain('not established within 100 ticks')
  }
})
