/**
 * Why the core ignores an input. Messages from peers are untrusted and the network
 * loses, repeats and reorders them, so the core drops what makes no sense now instead
 * of throwing (errors.ts). Every such drop names its reason, is counted per reason in
 * `Peer.status().drops`, and is reported to `PeerConfig.onDrop` when the caller gave
 * one (docs/architecture.md, "Why the core drops a message").
 */
import type { ServerId } from '../../protocol/index.js'

/**
 * DropReason is a stable, kebab-case code for why an input was ignored. The codes are
 * part of the metrics (`conclave_peer_messages_dropped_total{reason}`): never rename one.
 */
export type DropReason =
  /** The message claims to come from this server itself. */
  | 'from-self'
  /** The sender (or the member a connection report names) is not a voting member of the ensemble. */
  | 'not-a-member'
  /** The message is not an object: nothing in it can be read. */
  | 'malformed'
  /** A server that cannot persist (storage stalled) stays silent in elections: the vote is not counted. */
  | 'storage-stalled'
  /** A vote for a leader outside the ensemble: it could never be carried out. */
  | 'vote-for-non-member'
  /** A LOOKING vote from an older election round: not counted (its sender is told where the election stands). */
  | 'stale-round'
  /**
   * The message means something only to a server in another role: a leader's message
   * reaching a looking server, a follower's message reaching a follower, a leader's
   * message reaching a leader, or a FOLLOWING/LEADING answer reaching a server that is
   * not looking.
   */
  | 'not-for-role'
  /** A follower got a leader's message from a member other than the leader it follows. */
  | 'not-from-leader'
  /**
   * The message carries an epoch other than that of the leadership this server follows or
   * leads. A follower that hears a newer epoch from its leader looks again instead, so what
   * is dropped is left over from an older leadership, or sent before the epoch was known.
   */
  | 'stale-epoch'
  /**
   * The message belongs to another step of the handshake or of broadcast than the one this
   * server (or, on a leader, the sending follower) is at: a second LEADERINFO, a proposal
   * before the sync, an ACK from a follower not yet synced, a request before establishment.
   */
  | 'wrong-phase'
  /** A DIFF, TRUNC or SNAP while the parts of an earlier one are still arriving. */
  | 'sync-in-progress'
  /** A SYNCPART while no streamed sync is being gathered (its header was lost or it was already whole). */
  | 'orphan-sync-part'
  /**
   * Nothing new: a message already received (a sync part or proposal whose txns are all
   * logged, a forwarded request already taken, a FOLLOWERINFO re-sent before our
   * LEADERINFO reached its sender).
   */
  | 'duplicate'
  /** A leader got a follower's message from a member with no handshake under way (never began one, or was forgotten). */
  | 'unknown-follower'
  /** The message answers an id this server never handed out or no longer waits on: a pong for a ping never sent, a READINDEXOK for no pending read. */
  | 'unknown-id'
  /** A forwarded request whose sequence number skips a lost one: dropped, and the leader forgets that follower so it rejoins. */
  | 'sequence-gap'

/** DROP_REASONS lists every DropReason, in the order above (for metrics and docs). */
export const DROP_REASONS: readonly DropReason[] = Object.freeze([
  'from-self',
  'not-a-member',
  'malformed',
  'storage-stalled',
  'vote-for-non-member',
  'stale-round',
  'not-for-role',
  'not-from-leader',
  'stale-epoch',
  'wrong-phase',
  'sync-in-progress',
  'orphan-sync-part',
  'duplicate',
  'unknown-follower',
  'unknown-id',
  'sequence-gap',
] as const)

/** Drop is one ignored input, as reported to `PeerConfig.onDrop`. */
export interface Drop {
  readonly reason: DropReason
  /** from is the sending member (or the member a connection report named); undefined when none. */
  readonly from: ServerId | undefined
  /** messageType is the peer message's `type`; undefined for an input that is not a message, or one without a readable type. */
  readonly messageType: string | undefined
}

/** DropCounts counts drops per reason; a reason never seen has no entry. */
export type DropCounts = Readonly<Partial<Record<DropReason, number>>>
