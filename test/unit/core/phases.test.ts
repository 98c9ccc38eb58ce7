/**
 * Each phase's message handling on one Peer, driven by hand: the test plays the
 * other members, feeds crafted messages, and inspects the exact Ready the peer
 * hands back — what it persists, what it sends at once, and what it holds until the
 * persistence is durable. These are the durability rules of design.md §4 checked
 * message by message, plus the Ready/advance contract itself.
 */
import { describe, expect, test } from 'vitest'
import {
  COUNTER_MAX,
  makeZxid,
  type PeerMessage,
  type Txn,
  type Zxid,
} from '../../../protocol/index.js'
import {
  AssertionError,
  CoreError,
  DROP_REASONS,
  Peer,
  resolveConfig,
  type Drop,
  checkInvariants,
  type PeerConfig,
  type PersistentState,
  type Ready,
} from '../../../server/core/index.js'
import { ReplicaState } from '../../../server/core/state.js'

const z = makeZxid
const txn = (zxid: Zxid): Txn => ({
  zxid,
  timeMs: 0,
  sessionId: 0n,
  xid: 0,
  op: { type: 'error', code: 0 },
})
const empty: PersistentState = { acceptedEpoch: 0, currentEpoch: 0, snapshotZxid: 0n, log: [] }

function newPeer(
  id: number,
  overrides: Partial<PeerConfig> = {},
  restored: PersistentState = empty,
): Peer {
  return new Peer(
    {
      id,
      members: [1, 2, 3],
      random: () => 0,
      snapshotSource: () => ({ zxid: 0n, data: 'tree' }),
      electionFinalizeTicks: 2,
      ...overrides,
    },
    restored,
  )
}

/** take hands out a Ready and advances it at once (as if persistence were instant). */
function take(peer: Peer): Ready {
  const ready = peer.ready()
  peer.advance(ready)
  checkInvariants(peer)
  return ready
}

const types = (envelopes: readonly { message: PeerMessage }[]) =>
  envelopes.map((e) => e.message.type)
const vote = (
  round: number,
  leader: number,
  leaderEpoch = 0,
  leaderZxid: Zxid = 0n,
): PeerMessage => ({
  type: 'vote',
  round,
  state: 'looking',
  leader,
  leaderZxid,
  leaderEpoch,
})

describe('election', () => {
  test('a new server votes for itself in round 1 and tells everyone', () => {
    const peer = newPeer(
      1,
      {},
      { ...empty, acceptedEpoch: 2, currentEpoch: 2, log: [txn(z(2, 4))] },
    )
    const ready = take(peer)
    expect(ready.send).toEqual([
      { to: 2, message: vote(1, 1, 2, z(2, 4)) },
      { to: 3, message: vote(1, 1, 2, z(2, 4)) },
    ])
    expect(ready.role).toBe('looking')
  })

  test('a better vote is adopted and re-broadcast; a worse one is answered to its sender only', () => {
    const peer = newPeer(2)
    take(peer)
    peer.receive(3, vote(1, 3))
    expect(take(peer).send.map((e) => [e.to, (e.message as { leader: number }).leader])).toEqual([
      [1, 3],
      [3, 3],
    ])
    peer.receive(1, vote(1, 1))
    expect(take(peer).send).toEqual([{ to: 1, message: vote(1, 3) }])
  })

  test('a newer round resets the election; an older one is answered with ours', () => {
    const peer = newPeer(2)
    take(peer)
    peer.receive(1, vote(5, 1))
    expect(peer.round).toBe(5)
    expect(peer.status().vote?.leader).toBe(2)
    expect(types(take(peer).send)).toEqual(['vote', 'vote'])
    peer.receive(3, vote(2, 3))
    expect(take(peer).send).toEqual([{ to: 3, message: vote(5, 2) }])
  })

  test('with a quorum agreeing it waits electionFinalizeTicks, then decides', () => {
    const peer = newPeer(3)
    take(peer)
    peer.receive(1, vote(1, 3))
    peer.tick()
    expect(peer.role).toBe('looking')
    peer.tick()
    expect(peer.role).toBe('leading')
    expect(peer.status().phase).toBe('discovery')
  })

  test('a better vote during the finalize wait changes the decision', () => {
    const peer = newPeer(2)
    take(peer)
    peer.receive(1, vote(1, 2)) // {1, 2} agree on 2: decide at tick 2
    peer.tick()
    peer.receive(3, vote(1, 3, 0, z(1, 1))) // better: {2, 3} agree on 3, a new wait until tick 3
    peer.tick()
    expect(peer.role).toBe('looking')
    peer.tick()
    expect(peer.role).toBe('following')
    expect(peer.leaderId).toBe(3)
  })

  test('votes for servers outside the ensemble are ignored', () => {
    const peer = newPeer(1)
    take(peer)
    peer.receive(2, vote(1, 77, 9, z(9, 9)))
    expect(peer.status().vote?.leader).toBe(1)
    peer.receive(9, vote(1, 9))
    expect(peer.status().vote?.leader).toBe(1)
  })

  test('joining an established leader needs a quorum of answers including the leader’s own LEADING', () => {
    const peer = newPeer(1)
    take(peer)
    peer.tick()
    const answer = (state: 'following' | 'leading'): PeerMessage => ({
      type: 'vote',
      round: 4,
      state,
      leader: 3,
      leaderZxid: 0n,
      leaderEpoch: 2,
    })
    peer.receive(2, answer('following'))
    peer.tick()
    expect(peer.role).toBe('looking')
    peer.receive(3, answer('leading'))
    expect(peer.role).toBe('following')
    expect(peer.leaderId).toBe(3)
    expect(take(peer).send).toEqual([
      {
        to: 3,
        message: { type: 'followerInfo', acceptedEpoch: 0, currentEpoch: 0, lastLoggedZxid: 0n },
      },
    ])
  })
})

/** follower returns server 1 following 3 in discovery, with `restored` state. */
function follower(restored: PersistentState = empty, overrides: Partial<PeerConfig> = {}): Peer {
  const peer = newPeer(1, overrides, restored)
  take(peer)
  peer.receive(3, vote(1, 3, 9))
  peer.receive(2, vote(1, 3, 9))
  peer.tick()
  peer.tick()
  expect(peer.role).toBe('following')
  take(peer)
  return peer
}

describe('follower', () => {
  test('the server it chose answers that it follows another: it looks again at once, in the same round', () => {
    const peer = follower()
    peer.receive(3, {
      type: 'vote',
      round: 1,
      state: 'following',
      leader: 2,
      leaderZxid: 0n,
      leaderEpoch: 0,
    })
    expect(peer.role).toBe('looking')
  })

  test('a FOLLOWERINFO from a server that takes it for its leader is answered with whom it follows', () => {
    const peer = follower()
    peer.receive(2, { type: 'followerInfo', acceptedEpoch: 0, currentEpoch: 0, lastLoggedZxid: 0n })
    expect(take(peer).send).toEqual([
      {
        to: 2,
        message: {
          type: 'vote',
          round: 1,
          state: 'following',
          leader: 3,
          leaderZxid: 0n,
          leaderEpoch: 0,
        },
      },
    ])
    expect(peer.role).toBe('following')
  })

  test('LEADERINFO: acceptedEpoch is persisted before ACKEPOCH leaves', () => {
    const peer = follower({ ...empty, acceptedEpoch: 1, currentEpoch: 1, log: [txn(z(1, 1))] })
    peer.receive(3, { type: 'leaderInfo', epoch: 4 })
    const ready = take(peer)
    expect(ready.persist.epochs).toEqual({ accepted: 4, current: 1 })
    expect(ready.send).toEqual([])
    expect(ready.sendAfterPersist).toEqual([
      {
        to: 3,
        message: {
          type: 'ackEpoch',
          epoch: 4,
          fresh: true,
          currentEpoch: 1,
          lastLoggedZxid: z(1, 1),
        },
      },
    ])
  })

  test('LEADERINFO for the epoch already accepted acks without claiming freshness', () => {
    const peer = follower({ ...empty, acceptedEpoch: 4, currentEpoch: 1 })
    peer.receive(3, { type: 'leaderInfo', epoch: 4 })
    const ready = take(peer)
    expect(ready.persist.epochs).toBeUndefined()
    expect((ready.sendAfterPersist[0]?.message as { fresh: boolean }).fresh).toBe(false)
  })

  test('LEADERINFO older than the accepted epoch sends the follower back to election', () => {
    const peer = follower({ ...empty, acceptedEpoch: 5, currentEpoch: 1 })
    peer.receive(3, { type: 'leaderInfo', epoch: 4 })
    expect(peer.role).toBe('looking')
    expect(peer.status().lastTransition).toBe('leader 3 proposed epoch 4 below accepted 5')
  })

  test('DIFF then NEWLEADER: synced txns and currentEpoch persist before the NEWLEADER ack', () => {
    const peer = follower()
    peer.receive(3, { type: 'leaderInfo', epoch: 2 })
    take(peer)
    peer.receive(3, {
      type: 'diff',
      epoch: 2,
      txns: [txn(z(1, 1)), txn(z(1, 2))],
      committedZxid: z(1, 1),
    })
    peer.receive(3, { type: 'newLeader', epoch: 2 })
    const ready = take(peer)
    expect(ready.persist.txns.map((t) => t.zxid)).toEqual([z(1, 1), z(1, 2)])
    expect(ready.persist.epochs).toEqual({ accepted: 2, current: 2 })
    expect(ready.send).toEqual([])
    expect(ready.sendAfterPersist).toEqual([
      { to: 3, message: { type: 'ackNewLeader', epoch: 2, zxid: z(1, 2) } },
    ])
    expect(ready.commit.map((t) => t.zxid)).toEqual([z(1, 1)])
    peer.receive(3, { type: 'upToDate', epoch: 2, committedZxid: z(1, 2) })
    const serving = take(peer)
    expect(serving.established).toBe(true)
    expect(serving.commit.map((t) => t.zxid)).toEqual([z(1, 2)])
  })

  test('TRUNC cuts the logged tail and appends what follows; below the commit point it is refused', () => {
    const restored = {
      acceptedEpoch: 1,
      currentEpoch: 1,
      snapshotZxid: z(1, 1),
      log: [txn(z(1, 2)), txn(z(1, 3))],
    }
    const peer = follower(restored)
    peer.receive(3, { type: 'leaderInfo', epoch: 2 })
    take(peer)
    peer.receive(3, {
      type: 'trunc',
      epoch: 2,
      truncateAfter: z(1, 2),
      txns: [txn(z(2, 1))],
      committedZxid: 0n,
    })
    const ready = take(peer)
    expect(ready.persist.truncateAfter).toBe(z(1, 2))
    expect(ready.persist.txns.map((t) => t.zxid)).toEqual([z(2, 1)])
    expect(peer.logTxns().map((t) => t.zxid)).toEqual([z(1, 2), z(2, 1)])

    const refusing = follower(restored)
    refusing.receive(3, { type: 'leaderInfo', epoch: 2 })
    take(refusing)
    refusing.receive(3, {
      type: 'trunc',
      epoch: 2,
      truncateAfter: z(1, 0),
      txns: [],
      committedZxid: 0n,
    })
    expect(refusing.role).toBe('looking')
    expect(refusing.logTxns()).toHaveLength(2)
  })

  test('SNAP replaces the log and the applied state', () => {
    const peer = follower({
      acceptedEpoch: 1,
      currentEpoch: 1,
      snapshotZxid: 0n,
      log: [txn(z(1, 1))],
    })
    peer.receive(3, { type: 'leaderInfo', epoch: 3 })
    take(peer)
    peer.receive(3, {
      type: 'snap',
      epoch: 3,
      snapshot: { zxid: z(2, 5), data: 'tree@2.5' },
      txns: [txn(z(2, 6))],
      committedZxid: z(2, 5),
    })
    const ready = take(peer)
    expect(ready.persist.snapshot).toEqual({ zxid: z(2, 5), data: 'tree@2.5' })
    expect(ready.persist.txns.map((t) => t.zxid)).toEqual([z(2, 6)])
    expect(peer.status()).toMatchObject({
      logBaseZxid: z(2, 5),
      lastCommittedZxid: z(2, 5),
      appliedZxid: z(2, 5),
    })
  })

  test('in broadcast: proposals are logged and ACKed after the fsync; duplicates are ignored; a gap means resync', () => {
    const peer = follower()
    peer.receive(3, { type: 'leaderInfo', epoch: 2 })
    peer.receive(3, { type: 'diff', epoch: 2, txns: [], committedZxid: 0n })
    peer.receive(3, { type: 'newLeader', epoch: 2 })
    peer.receive(3, { type: 'upToDate', epoch: 2, committedZxid: 0n })
    take(peer)
    peer.receive(3, { type: 'proposal', epoch: 2, txns: [txn(z(2, 1)), txn(z(2, 2))] })
    peer.receive(3, { type: 'proposal', epoch: 2, txns: [txn(z(2, 2)), txn(z(2, 3))] })
    let ready = take(peer)
    expect(ready.persist.txns.map((t) => t.zxid)).toEqual([z(2, 1), z(2, 2), z(2, 3)])
    expect(ready.send).toEqual([])
    expect(ready.sendAfterPersist).toEqual([
      { to: 3, message: { type: 'ack', epoch: 2, zxid: z(2, 3) } },
    ])
    peer.receive(3, { type: 'commit', epoch: 2, zxid: z(2, 2) })
    ready = take(peer)
    expect(ready.commit.map((t) => t.zxid)).toEqual([z(2, 1), z(2, 2)])
    peer.receive(3, { type: 'proposal', epoch: 2, txns: [txn(z(2, 5))] })
    expect(peer.role).toBe('looking')
  })

  test('with ack-before-fsync the ACK leaves before the txn is durable', () => {
    const peer = follower(empty, { bug: 'ack-before-fsync' })
    peer.receive(3, { type: 'leaderInfo', epoch: 2 })
    peer.receive(3, { type: 'diff', epoch: 2, txns: [], committedZxid: 0n })
    peer.receive(3, { type: 'newLeader', epoch: 2 })
    peer.receive(3, { type: 'upToDate', epoch: 2, committedZxid: 0n })
    take(peer)
    peer.receive(3, { type: 'proposal', epoch: 2, txns: [txn(z(2, 1))] })
    const ready = take(peer)
    expect(types(ready.send)).toEqual(['ack'])
    expect(ready.sendAfterPersist).toEqual([])
  })

  test('messages from anyone but the leader, or for another epoch, change nothing', () => {
    const peer = follower()
    peer.receive(3, { type: 'leaderInfo', epoch: 2 })
    take(peer)
    const before = peer.status()
    peer.receive(2, { type: 'diff', epoch: 2, txns: [txn(z(1, 1))], committedZxid: 0n })
    peer.receive(3, { type: 'diff', epoch: 1, txns: [txn(z(1, 1))], committedZxid: 0n })
    peer.receive(3, { type: 'newLeader', epoch: 2 })
    // Nothing changed but the drop counts: each message is counted under its reason.
    expect({ ...peer.status(), drops: before.drops }).toEqual(before)
    expect(peer.status().drops).toEqual({
      'not-from-leader': 1,
      'stale-epoch': 1,
      'wrong-phase': 1,
    })
    expect(peer.hasReady()).toBe(false)
  })
})

/** leader returns server 3 leading, in discovery. */
function leader(restored: PersistentState = empty, overrides: Partial<PeerConfig> = {}): Peer {
  const peer = newPeer(3, overrides, restored)
  take(peer)
  peer.receive(1, vote(1, 3, restored.currentEpoch, restored.log.at(-1)?.zxid ?? 0n))
  peer.tick()
  peer.tick()
  expect(peer.role).toBe('leading')
  take(peer)
  return peer
}

const info = (acceptedEpoch: number, currentEpoch = 0, lastLoggedZxid: Zxid = 0n): PeerMessage => ({
  type: 'followerInfo',
  acceptedEpoch,
  currentEpoch,
  lastLoggedZxid,
})

/** establish has member 1 follow a fresh leader through epoch 1 until it may propose. */
function establish(peer: Peer): void {
  peer.receive(1, info(0))
  take(peer)
  peer.receive(1, {
    type: 'ackEpoch',
    epoch: 1,
    fresh: true,
    currentEpoch: 0,
    lastLoggedZxid: 0n,
  })
  take(peer)
  peer.receive(1, { type: 'ackNewLeader', epoch: 1, zxid: 0n })
  take(peer)
}

describe('leader', () => {
  test('the new epoch is 1 + the highest acceptedEpoch of a quorum, persisted before LEADERINFO leaves', () => {
    const peer = leader({ ...empty, acceptedEpoch: 2, currentEpoch: 1 })
    peer.receive(1, info(6, 1))
    const ready = take(peer)
    expect(ready.persist.epochs).toEqual({ accepted: 7, current: 1 })
    expect(ready.send).toEqual([])
    expect(ready.sendAfterPersist).toEqual([{ to: 1, message: { type: 'leaderInfo', epoch: 7 } }])
    peer.receive(2, info(3))
    expect(take(peer).send).toEqual([{ to: 2, message: { type: 'leaderInfo', epoch: 7 } }])
  })

  test('a fresh ACKEPOCH quorum fixes the history: currentEpoch, then sync and NEWLEADER after its fsync', () => {
    const peer = leader({
      ...empty,
      acceptedEpoch: 1,
      currentEpoch: 1,
      log: [txn(z(1, 1)), txn(z(1, 2))],
    })
    peer.receive(1, info(1, 1, z(1, 1)))
    take(peer)
    peer.receive(1, {
      type: 'ackEpoch',
      epoch: 2,
      fresh: true,
      currentEpoch: 1,
      lastLoggedZxid: z(1, 1),
    })
    const ready = take(peer)
    expect(ready.persist.epochs).toEqual({ accepted: 2, current: 2 })
    expect(ready.send).toEqual([
      { to: 1, message: { type: 'diff', epoch: 2, txns: [txn(z(1, 2))], committedZxid: 0n } },
    ])
    expect(ready.sendAfterPersist).toEqual([{ to: 1, message: { type: 'newLeader', epoch: 2 } }])
    expect(peer.status().phase).toBe('synchronization')
    peer.receive(1, { type: 'ackNewLeader', epoch: 2, zxid: z(1, 2) })
    const established = take(peer)
    expect(established.becameEstablished).toBe(true)
    expect(established.commit.map((t) => t.zxid)).toEqual([z(1, 1), z(1, 2)])
    expect(established.send).toEqual([
      { to: 1, message: { type: 'upToDate', epoch: 2, committedZxid: z(1, 2) } },
    ])
  })

  test('an ACKEPOCH that is not fresh does not count toward the epoch quorum', () => {
    const peer = leader()
    peer.receive(1, info(1))
    take(peer)
    peer.receive(1, {
      type: 'ackEpoch',
      epoch: 1,
      fresh: false,
      currentEpoch: 0,
      lastLoggedZxid: 0n,
    })
    take(peer)
    expect(peer.status().phase).toBe('discovery')
  })

  test('a follower ahead of the leader during discovery aborts the round', () => {
    const peer = leader({ ...empty, acceptedEpoch: 1, currentEpoch: 1, log: [txn(z(1, 1))] })
    peer.receive(1, info(1, 1, z(1, 2)))
    take(peer)
    peer.receive(1, {
      type: 'ackEpoch',
      epoch: 2,
      fresh: true,
      currentEpoch: 1,
      lastLoggedZxid: z(1, 2),
    })
    expect(peer.role).toBe('looking')
    expect(peer.status().lastTransition).toBe('follower 1 is ahead of the leader (0x1_00000002)')
  })

  test('a member that accepted a newer epoch makes the leader step down', () => {
    const peer = leader()
    peer.receive(1, info(0))
    take(peer)
    expect(peer.status().acceptedEpoch).toBe(1)
    peer.receive(2, info(4))
    expect(peer.role).toBe('looking')
  })

  test('propose is refused before establishment and with the wrong zxid', () => {
    const peer = leader()
    expect(() => peer.propose(txn(z(1, 1)))).toThrow(CoreError)
    expect(() => peer.nextZxid()).toThrow(/not an established leader/)
    establish(peer)
    expect(peer.canPropose()).toBe(true)
    expect(peer.nextZxid()).toBe(z(1, 1))
    try {
      peer.propose(txn(z(1, 2)))
      expect.unreachable()
    } catch (err) {
      expect((err as CoreError).code).toBe('ZXID_MISMATCH')
    }
    expect(() => newPeer(1).propose(txn(z(1, 1)))).toThrow(/is looking/)
  })

  test('an epoch whose counter is used up takes no more proposals and ends the leadership', () => {
    const peer = leader()
    establish(peer)
    // 2^32 proposals are out of reach: log one txn just below the end of the counter.
    const state = (peer as unknown as { state: ReplicaState }).state
    state.appendTxn(txn(z(1, COUNTER_MAX - 1)))
    take(peer)
    expect(peer.nextZxid()).toBe(z(1, COUNTER_MAX))
    peer.propose(txn(z(1, COUNTER_MAX)))
    take(peer)
    expect(() => peer.nextZxid()).toThrow(expect.objectContaining({ code: 'COUNTER_EXHAUSTED' }))
    peer.tick()
    expect(peer.role).toBe('looking')
  })
})

describe('the Ready contract', () => {
  test('one Ready at a time; advance takes exactly the Ready handed out', () => {
    const peer = newPeer(1)
    const ready = peer.ready()
    expect(peer.hasReady()).toBe(false)
    expect(() => peer.ready()).toThrow(expect.objectContaining({ code: 'READY_OUTSTANDING' }))
    expect(() => peer.advance({ ...ready })).toThrow(
      expect.objectContaining({ code: 'READY_MISMATCH' }),
    )
    peer.advance(ready)
    expect(() => peer.advance(ready)).toThrow(CoreError)
    expect(peer.hasReady()).toBe(false)
  })

  test('work that arrives while a Ready is in flight waits for the next one', () => {
    const peer = newPeer(2)
    const first = peer.ready()
    peer.receive(3, vote(1, 3))
    expect(types(first.send)).toEqual(['vote', 'vote'])
    peer.advance(first)
    expect(peer.hasReady()).toBe(true)
    expect(types(peer.ready().send)).toEqual(['vote', 'vote'])
  })
})

describe('drops', () => {
  /** recorder returns an onDrop that keeps every drop, and the list it fills. */
  function recorder(): { onDrop: (drop: Drop) => void; seen: Drop[] } {
    const seen: Drop[] = []
    return { onDrop: (drop) => seen.push(drop), seen }
  }

  /** serving returns server 1 following 3 in broadcast, epoch 2, with every drop recorded. */
  function serving(): { peer: Peer; seen: Drop[] } {
    const { onDrop, seen } = recorder()
    const peer = follower(empty, { onDrop })
    peer.receive(3, { type: 'leaderInfo', epoch: 2 })
    peer.receive(3, { type: 'diff', epoch: 2, txns: [], committedZxid: 0n })
    peer.receive(3, { type: 'newLeader', epoch: 2 })
    peer.receive(3, { type: 'upToDate', epoch: 2, committedZxid: 0n })
    take(peer)
    expect(peer.established).toBe(true)
    expect(seen).toEqual([])
    return { peer, seen }
  }

  test('every reason is listed once, in kebab-case', () => {
    expect(new Set(DROP_REASONS).size).toBe(DROP_REASONS.length)
    for (const reason of DROP_REASONS) expect(reason).toMatch(/^[a-z]+(-[a-z]+)*$/)
  })

  test('a proposal from a member other than the leader: not-from-leader, reported with its sender', () => {
    const { peer, seen } = serving()
    peer.receive(2, { type: 'proposal', epoch: 2, txns: [txn(z(2, 1))] })
    expect(seen).toEqual([{ reason: 'not-from-leader', from: 2, messageType: 'proposal' }])
    expect(peer.status().drops).toEqual({ 'not-from-leader': 1 })
    expect(peer.status().lastLoggedZxid).toBe(0n)
  })

  test('messages of an older epoch: stale-epoch; a proposal whose txns are all logged: duplicate', () => {
    const { peer, seen } = serving()
    peer.receive(3, { type: 'proposal', epoch: 2, txns: [txn(z(2, 1))] })
    peer.receive(3, { type: 'commit', epoch: 1, zxid: z(2, 1) })
    peer.receive(3, { type: 'proposal', epoch: 1, txns: [txn(z(1, 7))] })
    peer.receive(3, { type: 'proposal', epoch: 2, txns: [txn(z(2, 1))] })
    expect(seen.map((d) => [d.reason, d.messageType])).toEqual([
      ['stale-epoch', 'commit'],
      ['stale-epoch', 'proposal'],
      ['duplicate', 'proposal'],
    ])
    expect(peer.status().drops).toEqual({ 'stale-epoch': 2, duplicate: 1 })
    expect(peer.status().lastCommittedZxid).toBe(0n)
  })

  test('a second LEADERINFO, and a leader’s message to a follower: wrong-phase, not-for-role', () => {
    const { peer, seen } = serving()
    peer.receive(3, { type: 'leaderInfo', epoch: 2 })
    peer.receive(3, { type: 'ack', epoch: 2, zxid: 0n })
    expect(seen).toEqual([
      { reason: 'wrong-phase', from: 3, messageType: 'leaderInfo' },
      { reason: 'not-for-role', from: 3, messageType: 'ack' },
    ])
  })

  test('while looking: a vote of an older round is answered but not counted; anything but a vote is not for this role', () => {
    const { onDrop, seen } = recorder()
    const peer = newPeer(1, { onDrop })
    take(peer)
    peer.receive(2, vote(0, 2, 5))
    peer.receive(2, {
      type: 'ping',
      epoch: 1,
      seq: 1,
      committedZxid: 0n,
      lastZxid: 0n,
      established: true,
    })
    peer.receive(2, vote(1, 9))
    expect(seen.map((d) => d.reason)).toEqual([
      'stale-round',
      'not-for-role',
      'vote-for-non-member',
    ])
    expect(take(peer).send).toEqual([{ to: 2, message: vote(1, 1) }])
    expect(peer.status().vote?.leader).toBe(1)
  })

  test('on a leader: a FOLLOWERINFO that crossed our LEADERINFO, an ACK before the sync, strangers and answers', () => {
    const { onDrop, seen } = recorder()
    const peer = leader(empty, { onDrop })
    peer.receive(1, info(0))
    take(peer)
    peer.receive(1, { type: 'ack', epoch: 1, zxid: 0n })
    peer.receive(2, { type: 'ack', epoch: 1, zxid: 0n })
    peer.receive(1, {
      type: 'ackEpoch',
      epoch: 0,
      fresh: true,
      currentEpoch: 0,
      lastLoggedZxid: 0n,
    })
    peer.receive(1, {
      type: 'ackEpoch',
      epoch: 1,
      fresh: true,
      currentEpoch: 0,
      lastLoggedZxid: 0n,
    })
    peer.receive(1, info(0))
    peer.receive(2, {
      type: 'vote',
      round: 1,
      state: 'following',
      leader: 3,
      leaderZxid: 0n,
      leaderEpoch: 1,
    })
    expect(seen).toEqual([
      { reason: 'wrong-phase', from: 1, messageType: 'ack' },
      { reason: 'unknown-follower', from: 2, messageType: 'ack' },
      { reason: 'stale-epoch', from: 1, messageType: 'ackEpoch' },
      { reason: 'duplicate', from: 1, messageType: 'followerInfo' },
      { reason: 'not-for-role', from: 2, messageType: 'vote' },
    ])
    expect(peer.status().phase).toBe('synchronization')
  })

  test('from this server itself or a non-member, or not an object: dropped by the Peer, counted without onDrop', () => {
    const peer = newPeer(1)
    take(peer)
    peer.receive(1, vote(1, 1))
    peer.receive(7, vote(1, 7))
    peer.receive(2, null as unknown as PeerMessage)
    peer.peerDisconnected(9)
    expect(peer.status().drops).toEqual({ 'from-self': 1, 'not-a-member': 2, malformed: 1 })
  })
})

describe('after-persist messages', () => {
  const state = (bug?: PeerConfig['bug']) =>
    new ReplicaState(
      resolveConfig({
        id: 1,
        members: [1, 2, 3],
        random: () => 0,
        snapshotSource: () => ({ zxid: 0n, data: '' }),
        bug,
      }),
      { ...empty, acceptedEpoch: 2, currentEpoch: 1 },
    )

  test('an acknowledgement asked to leave through send is an assertion error', () => {
    const s = state()
    expect(() => s.send(3, { type: 'ack', epoch: 2, zxid: 0n })).toThrow(AssertionError)
    expect(() =>
      s.send(3, { type: 'ackEpoch', epoch: 2, fresh: false, currentEpoch: 1, lastLoggedZxid: 0n }),
    ).toThrow(AssertionError)
    expect(() => s.send(3, { type: 'ackNewLeader', epoch: 2, zxid: 0n })).toThrow(AssertionError)
    s.sendAfterPersist(3, { type: 'ack', epoch: 2, zxid: 0n })
    expect(s.pending.send).toEqual([])
  })

  test('LEADERINFO and NEWLEADER go through send only for an epoch durable already', () => {
    const s = state()
    s.send(2, { type: 'leaderInfo', epoch: 2 })
    s.send(2, { type: 'newLeader', epoch: 1 })
    expect(() => s.send(2, { type: 'leaderInfo', epoch: 3 })).toThrow(AssertionError)
    expect(() => s.send(2, { type: 'newLeader', epoch: 2 })).toThrow(AssertionError)
    expect(types(s.pending.send)).toEqual(['leaderInfo', 'newLeader'])
  })

  test('the planted bug ack-before-fsync lets an ACK (and only an ACK) through send', () => {
    const s = state('ack-before-fsync')
    s.send(3, { type: 'ack', epoch: 2, zxid: 0n })
    expect(types(s.pending.send)).toEqual(['ack'])
    expect(() => s.send(3, { type: 'ackNewLeader', epoch: 2, zxid: 0n })).toThrow(AssertionError)
  })
})
