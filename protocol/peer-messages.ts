/**
 * Peer messages: everything ensemble members say to each other for election,
 * discovery, synchronization, broadcast, liveness, forwarded requests and
 * linearizable reads. They are plain objects tagged by a string `type`, with bigint
 * zxids and session ids, so msgpack (protocol/codec.ts) carries them as they are.
 *
 * Every message after election carries the `epoch` of the leadership it belongs to;
 * the core drops anything whose epoch is not the one it follows or leads. Peers'
 * bytes come off the network, so `decodePeerMessage` checks the shape of a decoded
 * value before the core sees it; the core in turn survives any well-shaped message
 * that makes no sense (stale, duplicated, out of phase, from an unknown id).
 */
import { ErrorCode } from './error-codes.js'
import { ProtocolError, checkValue } from './codec.js'
import type { Txn } from './txn.js'
import { txnCheck } from './txn-shape.js'
import type { SessionId } from './types.js'
import type { Zxid } from './zxid.js'
import {
  ShapeError,
  arrayOf,
  bool,
  fieldAt,
  int,
  isRecord,
  object,
  oneOf,
  optional,
  tagged,
  u64,
  type Check,
} from './schema.js'

/** ServerId is an ensemble member's id, 1-255 (the top byte of the session ids it creates). */
export type ServerId = number

/** PEER_SERVER_ID_MAX is the largest member id. */
export const PEER_SERVER_ID_MAX = 255

/** PeerState is what a server is doing, as announced in its votes. */
export type PeerState = 'looking' | 'following' | 'leading'

/**
 * VoteMessage is a leader-election notification. A LOOKING sender proposes `leader`,
 * whose last logged zxid is `leaderZxid` and whose currentEpoch is `leaderEpoch`, in
 * election `round`. A FOLLOWING or LEADING sender answers with the leader it serves
 * and that leadership's epoch, so a server that starts late can join it.
 */
export interface VoteMessage {
  type: 'vote'
  round: number
  state: PeerState
  leader: ServerId
  leaderZxid: Zxid
  leaderEpoch: number
}

/** FollowerInfoMessage opens discovery: a follower tells its chosen leader its durable epochs and last logged zxid. */
export interface FollowerInfoMessage {
  type: 'followerInfo'
  acceptedEpoch: number
  currentEpoch: number
  lastLoggedZxid: Zxid
}

/** LeaderInfoMessage proposes the new epoch: 1 + the highest acceptedEpoch of a quorum that connected. */
export interface LeaderInfoMessage {
  type: 'leaderInfo'
  epoch: number
}

/**
 * AckEpochMessage accepts the new epoch. `fresh` is false when the follower had
 * already accepted this epoch before (a retry); such an ack does not count toward
 * the quorum that fixes the epoch (ZooKeeper's `-1` reply).
 */
export interface AckEpochMessage {
  type: 'ackEpoch'
  epoch: number
  fresh: boolean
  currentEpoch: number
  lastLoggedZxid: Zxid
}

/**
 * A sync (DIFF, TRUNC or SNAP) is streamed in messages within the peer message budget:
 * the DIFF/TRUNC/SNAP message carries the first part of the txns, and when more follow
 * it names the zxid they reach in `throughZxid`; SyncPartMessages carry the rest, in
 * order. The follower applies the sync only once it holds all of it, so a sync is
 * still made durable, and acked, as one unit.
 */
export interface SyncParts {
  /** throughZxid, when present, is the zxid of the sync's last txn: SyncPartMessages carry the txns after `txns`, up to it. */
  throughZxid?: Zxid
}

/** DiffMessage syncs a follower whose log is a prefix of the leader's: append `txns` (and those of the parts that follow). */
export interface DiffMessage extends SyncParts {
  type: 'diff'
  epoch: number
  txns: Txn[]
  committedZxid: Zxid
}

/** TruncMessage syncs a follower holding a tail the leader lacks: drop everything after `truncateAfter`, then append `txns`. */
export interface TruncMessage extends SyncParts {
  type: 'trunc'
  epoch: number
  truncateAfter: Zxid
  txns: Txn[]
  committedZxid: Zxid
}

/**
 * SyncPartMessage carries the next txns of a DIFF, TRUNC or SNAP whose message named a
 * `throughZxid`: those right after `afterZxid`, the last zxid the sync carried so far
 * (so a lost or stale part is noticed, never logged around).
 */
export interface SyncPartMessage {
  type: 'syncPart'
  epoch: number
  afterZxid: Zxid
  txns: Txn[]
}

/** SnapshotPayload is an opaque snapshot of the leader's applied state at `zxid`. */
export interface SnapshotPayload {
  zxid: Zxid
  data: unknown
}

/** SnapMessage syncs a follower too far behind or diverged: install `snapshot`, then append `txns`. */
export interface SnapMessage extends SyncParts {
  type: 'snap'
  epoch: number
  snapshot: SnapshotPayload
  txns: Txn[]
  committedZxid: Zxid
}

/** NewLeaderMessage follows the sync payload: the follower makes it durable, writes currentEpoch, then acks. */
export interface NewLeaderMessage {
  type: 'newLeader'
  epoch: number
}

/** AckNewLeaderMessage says the follower's log up to `zxid` and its currentEpoch are durable. */
export interface AckNewLeaderMessage {
  type: 'ackNewLeader'
  epoch: number
  zxid: Zxid
}

/** UpToDateMessage says the leader is established: the follower may serve, and everything up to `committedZxid` is committed. */
export interface UpToDateMessage {
  type: 'upToDate'
  epoch: number
  committedZxid: Zxid
}

/** ProposalMessage carries one or more consecutive txns to log. */
export interface ProposalMessage {
  type: 'proposal'
  epoch: number
  txns: Txn[]
}

/** AckMessage is cumulative: every txn up to `zxid` is durable in the sender's log. */
export interface AckMessage {
  type: 'ack'
  epoch: number
  zxid: Zxid
}

/** CommitMessage is cumulative: every txn up to `zxid` is committed. */
export interface CommitMessage {
  type: 'commit'
  epoch: number
  zxid: Zxid
}

/**
 * PeerPingMessage is the leader's heartbeat; `seq` numbers heartbeat rounds for
 * linearizable reads; `lastZxid` is the leader's last logged zxid, so a follower
 * that lost a proposal notices it even when no later proposal comes; `established`
 * repeats UPTODATE's news for a follower whose UPTODATE was lost.
 */
export interface PeerPingMessage {
  type: 'ping'
  epoch: number
  seq: number
  committedZxid: Zxid
  lastZxid: Zxid
  established: boolean
}

/** PeerPongMessage answers a ping and reports the sessions the follower heard from since its last pong. */
export interface PeerPongMessage {
  type: 'pong'
  epoch: number
  seq: number
  sessions: SessionId[]
}

/**
 * ForwardedRequest is a client request a follower hands to the leader to prepare.
 * The core never looks inside `payload`; `origin` is the server holding the client.
 */
export interface ForwardedRequest {
  origin: ServerId
  sessionId: SessionId
  xid: number
  payload: unknown
}

/** ForwardMessage forwards one request; `seq` numbers a follower's requests to its leader, from 1, so order is checked. */
export interface ForwardMessage {
  type: 'request'
  epoch: number
  seq: number
  request: ForwardedRequest
}

/** ReadIndexMessage asks the leader for a read index confirmed by a quorum round. */
export interface ReadIndexMessage {
  type: 'readIndex'
  epoch: number
  id: number
}

/** ReadIndexOkMessage answers a ReadIndexMessage: the read may be served once `zxid` is applied. */
export interface ReadIndexOkMessage {
  type: 'readIndexOk'
  epoch: number
  id: number
  zxid: Zxid
}

/** PeerMessage is any message between ensemble members. */
export type PeerMessage =
  | VoteMessage
  | FollowerInfoMessage
  | LeaderInfoMessage
  | AckEpochMessage
  | DiffMessage
  | TruncMessage
  | SnapMessage
  | SyncPartMessage
  | NewLeaderMessage
  | AckNewLeaderMessage
  | UpToDateMessage
  | ProposalMessage
  | AckMessage
  | CommitMessage
  | PeerPingMessage
  | PeerPongMessage
  | ForwardMessage
  | ReadIndexMessage
  | ReadIndexOkMessage

/** PeerMessageType is the `type` tag of a PeerMessage. */
export type PeerMessageType = PeerMessage['type']

/** Envelope is a message addressed to one member. */
export interface Envelope {
  to: ServerId
  message: PeerMessage
}

// ------------------------------------------------------------------ shape checks

const tag = <T extends string>(name: T) => oneOf([name] as const)

/** PEER_TXNS_MAX bounds the txns in one sync or proposal message. */
export const PEER_TXNS_MAX = 1_000_000

/** PEER_SESSIONS_MAX bounds the session ids in one pong. */
export const PEER_SESSIONS_MAX = 1_000_000

const epoch = int(0, 0xffff_ffff)
const serverId = int(1, PEER_SERVER_ID_MAX)
const counter = int(0, Number.MAX_SAFE_INTEGER)

/**
 * plainBytes turns the Node Buffers msgpackr hands out into plain Uint8Array views,
 * everywhere inside an opaque value (forwarded payloads, snapshot data), so both
 * sides of a peer link see the same types. Nothing else is changed or checked.
 */
function plainBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return value.constructor === Uint8Array
      ? value
      : new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  }
  if (Array.isArray(value)) return value.map(plainBytes)
  if (isRecord(value)) {
    const out: Record<string, unknown> = {}
    // for-in, not Object.entries: a forwarded write crosses here, and entries allocates a pair per field.
    for (const k in value) if (Object.hasOwn(value, k)) out[k] = plainBytes(value[k])
    return out
  }
  return value
}

/** opaque accepts any value: the core passes it through untouched (bytes made plain). */
const opaque: Check<unknown> = (v) => plainBytes(v)

const txns = arrayOf(txnCheck, PEER_TXNS_MAX)
const throughZxid = optional(u64)

const forwardedRequest: Check<ForwardedRequest> = object<ForwardedRequest>({
  origin: serverId,
  sessionId: u64,
  xid: int(),
  payload: opaque,
})

const snapshot: Check<SnapshotPayload> = (v, where) => {
  if (!isRecord(v)) throw new ShapeError(`${where}: expected map`)
  return { zxid: u64(v.zxid, fieldAt(where, 'zxid')), data: plainBytes(v.data) }
}

const peerMessage: Check<PeerMessage> = tagged<PeerMessage>(
  'type',
  {
    vote: object<VoteMessage>({
      type: tag('vote'),
      round: counter,
      state: oneOf(['looking', 'following', 'leading'] as const),
      leader: serverId,
      leaderZxid: u64,
      leaderEpoch: epoch,
    }),
    followerInfo: object<FollowerInfoMessage>({
      type: tag('followerInfo'),
      acceptedEpoch: epoch,
      currentEpoch: epoch,
      lastLoggedZxid: u64,
    }),
    leaderInfo: object<LeaderInfoMessage>({ type: tag('leaderInfo'), epoch }),
    ackEpoch: object<AckEpochMessage>({
      type: tag('ackEpoch'),
      epoch,
      fresh: bool,
      currentEpoch: epoch,
      lastLoggedZxid: u64,
    }),
    diff: object<DiffMessage>({ type: tag('diff'), epoch, txns, committedZxid: u64, throughZxid }),
    trunc: object<TruncMessage>({
      type: tag('trunc'),
      epoch,
      truncateAfter: u64,
      txns,
      committedZxid: u64,
      throughZxid,
    }),
    snap: object<SnapMessage>({
      type: tag('snap'),
      epoch,
      snapshot,
      txns,
      committedZxid: u64,
      throughZxid,
    }),
    syncPart: object<SyncPartMessage>({ type: tag('syncPart'), epoch, afterZxid: u64, txns }),
    newLeader: object<NewLeaderMessage>({ type: tag('newLeader'), epoch }),
    ackNewLeader: object<AckNewLeaderMessage>({ type: tag('ackNewLeader'), epoch, zxid: u64 }),
    upToDate: object<UpToDateMessage>({ type: tag('upToDate'), epoch, committedZxid: u64 }),
    proposal: object<ProposalMessage>({ type: tag('proposal'), epoch, txns }),
    ack: object<AckMessage>({ type: tag('ack'), epoch, zxid: u64 }),
    commit: object<CommitMessage>({ type: tag('commit'), epoch, zxid: u64 }),
    ping: object<PeerPingMessage>({
      type: tag('ping'),
      epoch,
      seq: counter,
      committedZxid: u64,
      lastZxid: u64,
      established: bool,
    }),
    pong: object<PeerPongMessage>({
      type: tag('pong'),
      epoch,
      seq: counter,
      sessions: arrayOf(u64, PEER_SESSIONS_MAX),
    }),
    request: object<ForwardMessage>({
      type: tag('request'),
      epoch,
      seq: counter,
      request: forwardedRequest,
    }),
    readIndex: object<ReadIndexMessage>({ type: tag('readIndex'), epoch, id: counter }),
    readIndexOk: object<ReadIndexOkMessage>({
      type: tag('readIndexOk'),
      epoch,
      id: counter,
      zxid: u64,
    }),
  },
  (type) =>
    new ProtocolError(
      ErrorCode.MARSHALLING_ERROR,
      `unknown peer message type '${type.slice(0, 64)}'`,
    ),
)

/**
 * decodePeerMessage checks that a decoded msgpack value (see `decodeMessage` in
 * codec.ts) is a well-shaped PeerMessage and returns it normalized (bigint zxids,
 * unknown fields dropped), or a ProtocolError naming the bad field. Never throws.
 */
export function decodePeerMessage(value: unknown): PeerMessage | ProtocolError {
  return checkValue(peerMessage, value, 'peerMessage')
}
