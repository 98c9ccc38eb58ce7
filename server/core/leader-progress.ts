/**
 * FollowerProgress: what a leader knows about one follower, from FOLLOWERINFO to
 * broadcast. The stage only moves forward; a new FOLLOWERINFO after the handshake
 * started means the follower came back (restart or rejoin) and starts a new record.
 */
import type { ServerId, Zxid } from '../../protocol/index.js'

/**
 * FollowerStage is how far a follower got with this leader:
 * - `connected`: FOLLOWERINFO received, LEADERINFO sent;
 * - `epochAcked`: ACKEPOCH received;
 * - `syncing`: DIFF/TRUNC/SNAP and NEWLEADER sent; proposals and commits flow to it;
 * - `synced`: NEWLEADER acked; its ACKs count toward commits.
 */
export type FollowerStage = 'connected' | 'epochAcked' | 'syncing' | 'synced'

/** FollowerProgress is the leader's record of one follower. */
export interface FollowerProgress {
  readonly id: ServerId
  stage: FollowerStage
  acceptedEpoch: number
  currentEpoch: number
  lastLoggedZxid: Zxid
  /** freshEpochAck: its ACKEPOCH accepted our epoch for the first time (only those fix the epoch). */
  freshEpochAck: boolean
  /** ackedZxid: cumulative; every txn of ours up to here is durable on it. Invariant: <= the leader's last logged zxid. */
  ackedZxid: Zxid
  lastHeardTick: number
  /** pongSeq: the newest heartbeat round it answered. */
  pongSeq: number
  /** nextRequestSeq: the sequence number its next forwarded request must carry. */
  nextRequestSeq: number
}

const STAGE_ORDER: Record<FollowerStage, number> = {
  connected: 0,
  epochAcked: 1,
  syncing: 2,
  synced: 3,
}

/** newProgress starts the record of a follower that just sent FOLLOWERINFO. */
export function newProgress(
  id: ServerId,
  info: { acceptedEpoch: number; currentEpoch: number; lastLoggedZxid: Zxid },
  nowTick: number,
): FollowerProgress {
  return {
    id,
    stage: 'connected',
    acceptedEpoch: info.acceptedEpoch,
    currentEpoch: info.currentEpoch,
    lastLoggedZxid: info.lastLoggedZxid,
    freshEpochAck: false,
    ackedZxid: 0n,
    lastHeardTick: nowTick,
    pongSeq: 0,
    nextRequestSeq: 1,
  }
}

/** reached tells whether a follower's stage is at least `stage`. */
export function reached(progress: FollowerProgress, stage: FollowerStage): boolean {
  return STAGE_ORDER[progress.stage] >= STAGE_ORDER[stage]
}

/** isForwarding tells whether a follower receives proposals and commits (its sync was sent). */
export function isForwarding(progress: FollowerProgress): boolean {
  return reached(progress, 'syncing')
}
