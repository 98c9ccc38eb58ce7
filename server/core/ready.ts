/**
 * The Ready contract: how the core hands work to the runtime, in the style of etcd
 * raft's Ready/Advance. The core never performs I/O; it accumulates what must be
 * done, `Peer.ready()` hands it over as one Ready, and `Peer.advance(ready)` tells
 * the core it was all done. The runtime must act on a Ready in exactly this order:
 *
 *   1. send `send` (may happen at once, even before or during step 2);
 *   2. persist `persist` and fsync all of it: when `snapshot` is set, install it
 *      together with every txn in `txns` as ONE atomic unit (a crash leaves the old
 *      snapshot and log, or the new snapshot followed by all those txns — never the
 *      snapshot alone); otherwise truncate after `truncateAfter`, then append
 *      `txns`. Then write `epochs`;
 *   3. only then send `sendAfterPersist` (acks that promise durability);
 *   4. apply `commit` to the tree, in order (after installing `snapshot`, if any);
 *      answer reads in `readsReady` once the tree has applied their zxid. The first
 *      `commitDurable` of them were durable on this server before this Ready and may
 *      be applied at once, before step 2 ends;
 *      the rest wait for step 2;
 *   5. call `advance(ready)`.
 *
 * One Ready is outstanding at a time: `ready()` may not be called again before
 * `advance()`. Meanwhile the runtime may keep calling `receive`, `tick`, `propose`
 * and the rest; their work waits for the next Ready. Batching this way is group
 * commit: the longer an fsync takes, the more the next Ready carries.
 */
import type {
  Envelope,
  ForwardedRequest,
  ServerId,
  SessionId,
  SnapshotPayload,
  Txn,
  Zxid,
} from '../../protocol/index.js'

/** Role is what a server is doing in the ensemble. ('observing' is reserved for observers, not yet built.) */
export type Role = 'looking' | 'following' | 'leading' | 'observing'

/** Phase is the ZAB phase a server is in. */
export type Phase = 'election' | 'discovery' | 'synchronization' | 'broadcast'

/** EpochState is the pair of durable epochs: the epoch last accepted (ACKEPOCH) and the one whose history is current (NEWLEADER). */
export interface EpochState {
  readonly accepted: number
  readonly current: number
}

/**
 * PersistWork is what must be durable before anything in `sendAfterPersist` is
 * sent, before `commit` is applied and before `advance` is called. Carry it out in
 * field order: `snapshot` with `txns` as one atomic unit (or `truncateAfter`, then
 * `txns`), then `epochs`. The unit matters: a snapshot may be older than this
 * server's durable log, and a crash that kept the snapshot but not the txns after it
 * would leave the old currentEpoch over a log missing txns it had held, letting its
 * vote overstate its history (simulator seed 12746).
 */
export interface PersistWork {
  /**
   * snapshot, when set, replaces everything: the log becomes exactly `txns` and the
   * applied tree becomes the snapshot. The snapshot and ALL of `txns` must become
   * durable atomically (FileStorage.installSnapshot(request, txns)). The core empties
   * the pending txns and `truncateAfter` when it takes a snapshot, so every txn here
   * follows the snapshot and `truncateAfter` is then unset (and redundant anyway).
   */
  readonly snapshot?: SnapshotPayload
  /** truncateAfter, when set, drops every logged txn with a greater zxid (never a committed one). */
  readonly truncateAfter?: Zxid
  /** txns are appended to the log in order (with `snapshot`, atomically with it); they are logged, not yet committed. */
  readonly txns: readonly Txn[]
  /** epochs, when set, are the new acceptedEpoch and currentEpoch, written atomically after the txns. */
  readonly epochs?: EpochState
}

/** ReadResult says a linearizable read (identified by the caller's token) may be answered once `zxid` is applied. */
export interface ReadResult {
  readonly token: unknown
  readonly zxid: Zxid
}

/** Ready is one batch of work from the core; see the module comment for the order in which to act on it. */
export interface Ready {
  /** persist must be durable (fsynced) before `sendAfterPersist`, `commit` and `advance`. */
  readonly persist: PersistWork
  /** send may be sent at once, before `persist` is durable (proposals, votes, heartbeats, commits). */
  readonly send: readonly Envelope[]
  /** sendAfterPersist may be sent only after `persist` is durable: ACKs, ACKEPOCH, ACK of NEWLEADER, NEWLEADER. */
  readonly sendAfterPersist: readonly Envelope[]
  /** commit lists committed txns in zxid order; apply them after `persist` (and after its snapshot) is done. */
  readonly commit: readonly Txn[]
  /**
   * commitDurable is how many leading txns of `commit` were already durable here when
   * this Ready was handed out (logged by an earlier Ready): committed by a quorum and
   * in this server's own log, they may be applied before `persist` is done, so a
   * commit does not wait for the fsync of txns proposed after it. Zero with a snapshot.
   */
  readonly commitDurable: number
  /** role is this server's role as of this Ready. */
  readonly role: Role
  /** leaderId is the leader this server follows or is, if any. */
  readonly leaderId: ServerId | undefined
  /** established is true when this server serves: an established leader, or a follower that got UPTODATE. */
  readonly established: boolean
  /**
   * becameEstablished is true in the Ready right after this server became an
   * established leader: give every session a fresh full timeout now (design.md §6).
   */
  readonly becameEstablished: boolean
  /**
   * leaderLost is true when, since the previous Ready, this server stopped following
   * or leading at least once. Requests it forwarded or listed before are in doubt:
   * answer them with CONNECTION_LOSS unless their commit arrives.
   */
  readonly leaderLost: boolean
  /**
   * requests (leader only) are client requests to prepare, its own and forwarded
   * ones, in arrival order per origin: prepare each and `propose` its txn in order.
   */
  readonly requests: readonly ForwardedRequest[]
  /** readsReady are linearizable reads confirmed by a quorum round: answer each once `zxid` is applied. */
  readonly readsReady: readonly ReadResult[]
  /** readsFailed are tokens of linearizable reads that cannot be confirmed (leadership lost): answer NOT_SERVING. */
  readonly readsFailed: readonly unknown[]
  /** sessionsTouched (leader only) are sessions followers heard from: refresh their expiry. */
  readonly sessionsTouched: readonly SessionId[]
  /** mustSync is true when `persist` holds anything, i.e. an fsync is needed before `sendAfterPersist`. */
  readonly mustSync: boolean
}

/** PendingWork accumulates a Ready's contents between two `ready()` calls. Internal to the core. */
export class PendingWork {
  snapshot: SnapshotPayload | undefined
  truncateAfter: Zxid | undefined
  txns: Txn[] = []
  epochs: EpochState | undefined
  send: Envelope[] = []
  sendAfterPersist: Envelope[] = []
  commit: Txn[] = []
  requests: ForwardedRequest[] = []
  readsReady: ReadResult[] = []
  readsFailed: unknown[] = []
  sessionsTouched = new Set<SessionId>()
  becameEstablished = false
  leaderLost = false

  /** hasPersist tells whether anything must be made durable. */
  hasPersist(): boolean {
    return (
      this.snapshot !== undefined ||
      this.truncateAfter !== undefined ||
      this.txns.length > 0 ||
      this.epochs !== undefined
    )
  }

  /** isEmpty tells whether there is nothing at all to hand over. */
  isEmpty(): boolean {
    return (
      !this.hasPersist() &&
      this.send.length === 0 &&
      this.sendAfterPersist.length === 0 &&
      this.commit.length === 0 &&
      this.requests.length === 0 &&
      this.readsReady.length === 0 &&
      this.readsFailed.length === 0 &&
      this.sessionsTouched.size === 0 &&
      !this.becameEstablished &&
      !this.leaderLost
    )
  }

  /** persistWork freezes the persistence part into a PersistWork. */
  persistWork(): PersistWork {
    return {
      ...(this.snapshot === undefined ? {} : { snapshot: this.snapshot }),
      ...(this.truncateAfter === undefined ? {} : { truncateAfter: this.truncateAfter }),
      txns: this.txns,
      ...(this.epochs === undefined ? {} : { epochs: this.epochs }),
    }
  }
}
