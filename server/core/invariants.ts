/**
 * checkInvariants: every invariant one Peer must keep on its own, checked in full
 * (O(log length)), for tests and the simulator to call after every step. Invariants
 * that span several peers (one leader per epoch, agreeing committed prefixes) are
 * the simulator's; `checkEnsembleInvariants` checks the ones visible from statuses.
 */
import type { Txn, Zxid } from '../../protocol/index.js'
import { epochOf, formatZxid } from '../../protocol/index.js'
import { assert } from './errors.js'
import type { Peer, PeerStatus } from './peer.js'

/** checkInvariants throws an AssertionError naming the first broken invariant of `peer`. */
export function checkInvariants(peer: Peer): void {
  const status = peer.status()
  checkEpochs(status)
  checkPositions(status)
  checkLog(status, peer.logTxns())
  checkRole(status)
}

function checkEpochs(s: PeerStatus): void {
  assert(
    s.currentEpoch <= s.acceptedEpoch,
    `server ${s.id}: currentEpoch ${s.currentEpoch} > acceptedEpoch ${s.acceptedEpoch}`,
  )
  assert(
    s.durableCurrentEpoch <= s.durableAcceptedEpoch,
    `server ${s.id}: durable currentEpoch above durable acceptedEpoch`,
  )
  assert(
    s.durableAcceptedEpoch <= s.acceptedEpoch,
    `server ${s.id}: durable acceptedEpoch above acceptedEpoch`,
  )
  assert(
    s.durableCurrentEpoch <= s.currentEpoch,
    `server ${s.id}: durable currentEpoch above currentEpoch`,
  )
  assert(
    epochOf(s.lastLoggedZxid) <= s.acceptedEpoch,
    `server ${s.id}: logged ${formatZxid(s.lastLoggedZxid)} from an epoch never accepted`,
  )
}

function checkPositions(s: PeerStatus): void {
  const z = (x: Zxid) => formatZxid(x)
  assert(
    s.lastCommittedZxid <= s.lastLoggedZxid,
    `server ${s.id}: committed ${z(s.lastCommittedZxid)} > logged ${z(s.lastLoggedZxid)}`,
  )
  assert(
    s.appliedZxid <= s.lastCommittedZxid,
    `server ${s.id}: applied ${z(s.appliedZxid)} > committed ${z(s.lastCommittedZxid)}`,
  )
  assert(
    s.durableZxid <= s.lastLoggedZxid,
    `server ${s.id}: durable ${z(s.durableZxid)} > logged ${z(s.lastLoggedZxid)}`,
  )
  assert(
    s.logBaseZxid <= s.lastCommittedZxid,
    `server ${s.id}: log base ${z(s.logBaseZxid)} above committed ${z(s.lastCommittedZxid)}`,
  )
}

function checkLog(s: PeerStatus, txns: readonly Txn[]): void {
  assert(txns.length === s.logLength, `server ${s.id}: log length disagrees with status`)
  let previous = s.logBaseZxid
  for (const txn of txns) {
    assert(txn.zxid > previous, `server ${s.id}: log not in zxid order at ${formatZxid(txn.zxid)}`)
    previous = txn.zxid
  }
  assert(previous === s.lastLoggedZxid, `server ${s.id}: last logged zxid disagrees with the log`)
}

function checkRole(s: PeerStatus): void {
  if (s.role === 'looking') {
    assert(
      s.leaderId === undefined && !s.established,
      `server ${s.id}: looking but names leader ${String(s.leaderId)}`,
    )
    return
  }
  if (s.role === 'following') {
    assert(
      s.leaderId !== undefined && s.leaderId !== s.id,
      `server ${s.id}: following without another leader`,
    )
    if (s.established) {
      assert(
        s.epoch === s.currentEpoch && s.epoch === s.acceptedEpoch,
        `server ${s.id}: serving follower with epochs ${s.acceptedEpoch}/${s.currentEpoch} for leader epoch ${String(s.epoch)}`,
      )
    }
    return
  }
  if (s.role === 'leading') {
    assert(s.leaderId === s.id, `server ${s.id}: leading but names leader ${String(s.leaderId)}`)
    if (s.phase !== 'discovery')
      assert(
        s.epoch === s.acceptedEpoch,
        `server ${s.id}: leading epoch ${String(s.epoch)} but accepted ${s.acceptedEpoch}`,
      )
    if (s.established) {
      assert(
        s.epoch === s.currentEpoch,
        `server ${s.id}: established leader of epoch ${String(s.epoch)} with currentEpoch ${s.currentEpoch}`,
      )
      assert(
        s.initialHistoryZxid !== undefined && s.lastCommittedZxid >= s.initialHistoryZxid,
        `server ${s.id}: established without committing its initial history`,
      )
    }
    for (const f of s.followers) {
      assert(
        f.ackedZxid <= s.lastLoggedZxid,
        `server ${s.id}: follower ${f.id} acked ${formatZxid(f.ackedZxid)} beyond the log`,
      )
    }
  }
}

/**
 * checkEnsembleInvariants checks what must hold across peers at any instant:
 * at most one established leader per epoch, and every established server's
 * epochs consistent with that leader's.
 */
export function checkEnsembleInvariants(statuses: readonly PeerStatus[]): void {
  const leaders = new Map<number, number>()
  for (const s of statuses) {
    if (s.role !== 'leading' || s.epoch === undefined || s.phase === 'discovery') continue
    const other = leaders.get(s.epoch)
    assert(other === undefined, `servers ${String(other)} and ${s.id} both lead epoch ${s.epoch}`)
    leaders.set(s.epoch, s.id)
  }
}
