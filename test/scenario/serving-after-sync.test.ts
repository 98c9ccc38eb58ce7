/**
 * A follower serves only once its own sync is durable. Found by the simulator (seed
 * 5479 of a 20,000-seed run): a follower whose SNAP was still being written learned
 * from a heartbeat that the leader was established, took that as its lost UPTODATE,
 * and served reads from a tree the snapshot had not replaced yet — reads went back
 * before the session's own writes.
 */
import { expect, test } from 'vitest'
import { Cluster, isType } from './harness.js'

test('a heartbeat saying the leader is established does not make a follower serve before its sync is durable', () => {
  const c = new Cluster([1, 2, 3])
  c.runUntil(() => c.allServing())
  const leader = c.requireLeader()
  const [slow, other] = [1, 2, 3].filter((id) => id !== leader) as [number, number]
  // The slow follower leaves and comes back; its disk then holds its sync's Ready, and
  // its UPTODATE never arrives, so only heartbeats can tell it the leader serves.
  c.crash(slow)
  c.write(leader)
  c.stabilize()
  c.restart(slow)
  c.dropWhere((m) => m.to === slow && isType(m, 'upToDate'))
  // Its persistence completes as usual until it holds the Ready of its sync (NEWLEADER
  // received): that one stays unwritten.
  expect(
    c.runUntilHeld(slow, () => c.peer(slow).status().followerStep === 'awaitingUpToDate', 50),
  ).toBe(true)
  expect(c.peer(slow).status().followerStep).toBe('awaitingUpToDate')
  for (let i = 0; i < 5; i++) {
    // Heartbeats from an established leader arrive meanwhile.
    c.tick()
    for (const n of c.up()) c.processReady(n.id)
    c.deliverAll()
    for (const n of c.up()) c.processReady(n.id)
  }
  expect(c.peer(leader).established).toBe(true)
  expect(c.peer(other).established).toBe(true)
  expect(c.peer(slow).established).toBe(false)
  // Once the sync is durable (and the ack sent), the next heartbeat is enough.
  c.node(slow).holdPersist = false
  c.completePersist(slow)
  c.runUntil(() => c.peer(slow).established, 20)
})
