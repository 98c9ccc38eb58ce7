/**
 * A follower told that its connection to the leader closed (a killed leader's socket)
 * starts an election once the connection has stayed closed for leaderLinkGraceTicks,
 * instead of waiting out leaderTimeoutTicks of silence; a connection that reopens
 * within the grace (a flapping link) costs nothing. An election in which every
 * reachable member agrees decides without the finalize wait.
 */
import { expect, test } from 'vitest'
import { Cluster } from './harness.js'

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
  const follower = c.up().map((n) => n.id).find((id) => id !== leader)!
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
  const followers = c.up().map((n) => n.id).filter((id) => id !== leader)
  c.peer(followers[0]!).peerDisconnected(followers[1]!)
  c.peer(leader).peerDisconnected(followers[0]!)
  c.run(5)
  expect(c.up().every((n) => c.peer(n.id).established)).toBe(true)
  expect(c.leaderId()).toBe(leader)
})
