/**
 * A follower told that its connection to the leader closed (a killed leader's socket)
 * starts an election at once, instead of waiting out leaderTimeoutTicks of silence,
 * and an election where every reachable member agrees decides without the finalize wait.
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

test('followers that hear their leader is disconnected elect a new one well within the leader timeout', () => {
  const silent = failoverTicks(false)
  const told = failoverTicks(true)
  expect(silent).toBeGreaterThanOrEqual(10) // leaderTimeoutTicks
  expect(told).toBeLessThan(silent - 5)
  // Both survivors agree and the dead leader is known unreachable: no finalize wait either.
  expect(told).toBeLessThanOrEqual(1)
})

test('losing the link to a member that is not the leader changes nothing', () => {
  const c = new Cluster([1, 2, 3])
  c.runUntil(() => c.allServing())
  const leader = c.requireLeader()
  const followers = c.up().map((n) => n.id).filter((id) => id !== leader)
  c.peer(followers[0]!).peerDisconnected(followers[1]!)
  c.peer(leader).peerDisconnected(followers[0]!)
  expect(c.up().every((n) => c.peer(n.id).established)).toBe(true)
  expect(c.leaderId()).toBe(leader)
})
