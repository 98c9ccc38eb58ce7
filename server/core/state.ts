/**
 * ReplicaState is what every role shares: the log, the two epochs, the commit and
 * durability positions, the logical clock, and the pending Ready being built.
 * Roles (looking, following, leading) change it only through these methods, so the
 * rules that keep it consistent live in one place:
 *
 * - the log only grows at the end, except through `truncateLogAfter` and
 *   `installSnapshot`, and never loses a committed txn;
 * - `lastCommittedZxid` only grows and never passes the last logged zxid;
 * - `durableZxid` is a promise: every txn of the current history up to it is on
 *   disk. It advances only in `advance`, and drops at once when the history is cut;
 * - a message that promises durability (AFTER_PERSIST_TYPES) leaves through
 *   `sendAfterPersist` unless what it promises is durable already;
 * - every input a role ignores goes through `drop`, which counts it by reason.
 */
import type { PeerMessage, ServerId, SnapshotPayload, Txn, Zxid } from '../../protocol/index.js'
import { epochOf, formatZxid } from '../../protocol/index.js'
import type { ResolvedConfig } from './config.js'
import type { DropCounts, DropReason } from './drop.js'
import { RestoreError, assert } from './errors.js'
import { QuorumSpec } from './quorum.js'
import { PendingWork, type PersistWork, type Ready } from './ready.js'
import { TxnLog } from './txn-log.js'

/**
 * PersistentState is what a server restarts from: its durable epochs, the zxid of
 * the snapshot its runtime loaded (ZXID_ZERO without one), and every txn logged
 * after that snapshot, in zxid order. The runtime rebuilds its tree from the
 * snapshot alone; logged txns are applied only when the core commits them again.
 */
export interface PersistentState {
  acceptedEpoch: number
  currentEpoch: number
  snapshotZxid: Zxid
  log: readonly Txn[]
}

/** checkRestoredState refuses a PersistentState that cannot have been written by a correct server. */
export function checkRestoredState(restored: PersistentState): void {
  const { acceptedEpoch, currentEpoch, snapshotZxid, log } = restored
  for (const [name, value] of [
    ['acceptedEpoch', acceptedEpoch],
    ['currentEpoch', currentEpoch],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff)
      throw new RestoreError(`${name}: expected an epoch, got ${String(value)}`)
  }
  if (currentEpoch > acceptedEpoch)
    throw new RestoreError(`currentEpoch ${currentEpoch} is above acceptedEpoch ${acceptedEpoch}`)
  if (typeof snapshotZxid !== 'bigint' || snapshotZxid < 0n)
    throw new RestoreError('snapshotZxid: expected a zxid')
  if (!Array.isArray(log)) throw new RestoreError('log: expected an array of txns')
  let previous = snapshotZxid
  for (const txn of log) {
    if (typeof txn?.zxid !== 'bigint' || txn.zxid <= previous) {
      throw new RestoreError(
        `log: txn ${String(txn?.zxid)} does not follow ${formatZxid(previous)}`,
      )
    }
    previous = txn.zxid
  }
  if (epochOf(previous) > acceptedEpoch) {
    throw new RestoreError(
      `log: zxid ${formatZxid(previous)} is from an epoch never accepted (acceptedEpoch ${acceptedEpoch})`,
    )
  }
}

/**
 * AFTER_PERSIST_TYPES are the peer messages that promise their receiver something is
 * durable on their sender, so they may leave only once it is (Ready.sendAfterPersist):
 * - `ack`: every txn up to its zxid is logged durably (the leader counts it toward commit);
 * - `ackEpoch`: the follower's acceptedEpoch (the new epoch) is durable (Zab phase 1);
 * - `ackNewLeader`: the synced history and the currentEpoch after it are durable;
 * - `leaderInfo`: the leader's acceptedEpoch is durable;
 * - `newLeader`: the leader's currentEpoch is durable.
 * The three acknowledgements never go through `send`; LEADERINFO and NEWLEADER do when
 * their epoch is durable already (a late follower). The planted bug `ack-before-fsync`
 * is the only way around this, for `ack` only.
 */
export const AFTER_PERSIST_TYPES: ReadonlySet<PeerMessage['type']> = new Set([
  'ack',
  'ackEpoch',
  'ackNewLeader',
  'leaderInfo',
  'newLeader',
] as const)

/** NOTHING_DURABLE marks that no part of the current history is known durable (a snapshot is being installed). */
const NOTHING_DURABLE: Zxid = -1n

/** ReplicaState is the state shared by all roles of one Peer. Internal to the core. */
export class ReplicaState {
  readonly config: ResolvedConfig
  readonly quorum: QuorumSpec
  readonly log: TxnLog
  /** tickNow counts calls to `Peer.tick`: the core's only clock. */
  tickNow = 0
  /** unreachable are members whose connection the runtime reported closed (and not reopened since). */
  readonly unreachable = new Set<ServerId>()
  /** storageStalled: the runtime cannot persist (disk full); this server stays out of elections and leaderships. */
  storageStalled = false
  acceptedEpoch: number
  currentEpoch: number
  durableAcceptedEpoch: number
  durableCurrentEpoch: number
  /** durableZxid: every txn of the current history up to here is durable. */
  durableZxid: Zxid
  /** lastCommittedZxid: every txn up to here is committed (known to be in every future leader's history). */
  lastCommittedZxid: Zxid
  /** appliedZxid: the runtime has applied every commit up to here (confirmed through `advance`). */
  appliedZxid: Zxid
  pending = new PendingWork()
  /** dropCounts counts the inputs the roles ignored, by reason (see `drop`). */
  private readonly dropCounts: Partial<Record<DropReason, number>> = {}
  private inFlight: Ready | undefined
  private inFlightThroughZxid: Zxid = 0n
  private cutSinceHandout: Zxid | undefined

  constructor(config: ResolvedConfig, restored: PersistentState) {
    this.config = config
    this.quorum = new QuorumSpec(config.members)
    this.acceptedEpoch = restored.acceptedEpoch
    this.currentEpoch = restored.currentEpoch
    this.durableAcceptedEpoch = restored.acceptedEpoch
    this.durableCurrentEpoch = restored.currentEpoch
    this.log = new TxnLog(restored.snapshotZxid, restored.log)
    this.durableZxid = this.log.lastZxid
    this.lastCommittedZxid = restored.snapshotZxid
    this.appliedZxid = restored.snapshotZxid
  }

  /** lastLoggedZxid is the zxid of the last txn in the log (logged, maybe not yet durable). */
  get lastLoggedZxid(): Zxid {
    return this.log.lastZxid
  }

  /** hasReadyInFlight tells whether a Ready was handed out and not yet advanced. */
  get hasReadyInFlight(): boolean {
    return this.inFlight !== undefined
  }

  // ------------------------------------------------------------------ log and epochs

  /** appendTxn logs one txn after the last; it will be persisted with the next Ready. */
  appendTxn(txn: Txn): void {
    assert(
      epochOf(txn.zxid) <= this.acceptedEpoch,
      () => `txn ${formatZxid(txn.zxid)} from an epoch never accepted (${this.acceptedEpoch})`,
    )
    this.log.append(txn)
    this.pending.txns.push(txn)
  }

  /**
   * truncateLogAfter drops every logged txn after `zxid` (TRUNC). Txns not yet handed
   * out are simply forgotten; txns on disk or in flight are cut by the next Ready.
   */
  truncateLogAfter(zxid: Zxid): void {
    assert(
      zxid >= this.lastCommittedZxid,
      `truncation to ${formatZxid(zxid)} would drop committed ${formatZxid(this.lastCommittedZxid)}`,
    )
    if (zxid >= this.log.lastZxid) return
    const handedOutLast = this.handedOutLastZxid()
    this.log.truncateAfter(zxid)
    this.pending.txns = this.pending.txns.filter((txn) => txn.zxid <= zxid)
    if (handedOutLast > zxid) {
      this.pending.truncateAfter =
        this.pending.truncateAfter === undefined || zxid < this.pending.truncateAfter
          ? zxid
          : this.pending.truncateAfter
    }
    this.cut(zxid)
  }

  /**
   * installSnapshot replaces the whole history with a snapshot at `snapshot.zxid`
   * (SNAP). The snapshot may be older than what this server had committed: a
   * leader's applied state lags its log. The commit point then goes back to the
   * snapshot and the txns after it are committed again as the leader says so; the
   * caller checks that the txns sent with the snapshot reach the old commit point.
   */
  installSnapshot(snapshot: SnapshotPayload): void {
    this.log.resetTo(snapshot.zxid)
    this.pending.snapshot = snapshot
    this.pending.truncateAfter = undefined
    this.pending.txns = []
    // Commits not handed out yet are either in the snapshot or will be committed again after it.
    this.pending.commit = []
    this.lastCommittedZxid = snapshot.zxid
    if (this.appliedZxid > snapshot.zxid) this.appliedZxid = snapshot.zxid
    this.cut(NOTHING_DURABLE)
  }

  /** setAcceptedEpoch records a newly accepted epoch; durable with the next Ready. */
  setAcceptedEpoch(epoch: number): void {
    assert(
      epoch >= this.acceptedEpoch,
      `acceptedEpoch may not go back from ${this.acceptedEpoch} to ${epoch}`,
    )
    this.acceptedEpoch = epoch
    this.pending.epochs = { accepted: this.acceptedEpoch, current: this.currentEpoch }
  }

  /** setCurrentEpoch records the epoch whose history this log now is; durable with the next Ready. */
  setCurrentEpoch(epoch: number): void {
    assert(
      epoch <= this.acceptedEpoch,
      `currentEpoch ${epoch} above acceptedEpoch ${this.acceptedEpoch}`,
    )
    assert(
      epoch >= this.currentEpoch,
      `currentEpoch may not go back from ${this.currentEpoch} to ${epoch}`,
    )
    this.currentEpoch = epoch
    this.pending.epochs = { accepted: this.acceptedEpoch, current: this.currentEpoch }
  }

  /** commitThrough commits every logged txn up to `zxid` (capped at the last logged), in order. */
  commitThrough(zxid: Zxid): void {
    const through = zxid < this.log.lastZxid ? zxid : this.log.lastZxid
    if (through <= this.lastCommittedZxid) return
    for (const txn of this.log.range(this.lastCommittedZxid, through)) this.pending.commit.push(txn)
    this.lastCommittedZxid = through
  }

  // ------------------------------------------------------------------ messages

  /**
   * send queues a message that may leave at once. A message promising durability
   * (AFTER_PERSIST_TYPES) may come here only when the promise holds already; otherwise
   * it must go through `sendAfterPersist` (the planted bug `ack-before-fsync` excepted).
   */
  send(to: ServerId, message: PeerMessage): void {
    if (AFTER_PERSIST_TYPES.has(message.type)) this.checkSendNow(message)
    this.pending.send.push({ to, message })
  }

  /** checkSendNow asserts that a durability-promising message may leave before the next fsync. */
  private checkSendNow(message: PeerMessage): void {
    if (message.type === 'leaderInfo') {
      return assert(
        this.durableAcceptedEpoch >= message.epoch,
        `LEADERINFO for epoch ${message.epoch} sent before acceptedEpoch is durable (${this.durableAcceptedEpoch})`,
      )
    }
    if (message.type === 'newLeader') {
      return assert(
        this.durableCurrentEpoch >= message.epoch,
        `NEWLEADER for epoch ${message.epoch} sent before currentEpoch is durable (${this.durableCurrentEpoch})`,
      )
    }
    // An acknowledgement: never before the fsync, but for the planted bug.
    assert(
      message.type === 'ack' && this.config.bug === 'ack-before-fsync',
      `${message.type} must leave through sendAfterPersist`,
    )
  }

  /** sendAfterPersist queues a message that may leave only once this Ready's persistence is durable. */
  sendAfterPersist(to: ServerId, message: PeerMessage): void {
    this.pending.sendAfterPersist.push({ to, message })
  }

  /** broadcast sends one message to every other member. */
  broadcast(message: PeerMessage): void {
    for (const id of this.config.members) if (id !== this.config.id) this.send(id, message)
  }

  // ------------------------------------------------------------------ drops

  /**
   * drop records that a role ignored an input: counted under `reason`, and reported to
   * the caller's `onDrop` when it gave one. Returns nothing, so a role can `return` it.
   */
  drop(reason: DropReason, from: ServerId | undefined, messageType: string | undefined): void {
    this.dropCounts[reason] = (this.dropCounts[reason] ?? 0) + 1
    this.config.onDrop?.({ reason, from, messageType })
  }

  /** drops returns a copy of the drop counts (reasons never seen are absent). */
  drops(): DropCounts {
    return Object.freeze({ ...this.dropCounts })
  }

  // ------------------------------------------------------------------ Ready / advance

  /** takeReady hands out the pending work as a Ready and starts a new batch. */
  takeReady(soft: Pick<Ready, 'role' | 'leaderId' | 'established'>): Ready {
    assert(this.inFlight === undefined, 'ready() called again before advance()')
    const work = this.pending
    const persist: PersistWork = work.persistWork()
    const ready: Ready = {
      persist,
      send: work.send,
      sendAfterPersist: work.sendAfterPersist,
      commit: work.commit,
      commitDurable:
        this.config.bug === 'apply-before-persist'
          ? work.commit.length
          : persist.snapshot === undefined
            ? this.durablePrefix(work.commit)
            : 0,
      role: soft.role,
      leaderId: soft.leaderId,
      established: soft.established,
      becameEstablished: work.becameEstablished,
      leaderLost: work.leaderLost,
      requests: work.requests,
      readsReady: work.readsReady,
      readsFailed: work.readsFailed,
      sessionsTouched: [...work.sessionsTouched],
      mustSync: work.hasPersist(),
    }
    this.inFlight = ready
    this.inFlightThroughZxid = this.log.lastZxid
    this.cutSinceHandout = undefined
    this.pending = new PendingWork()
    return ready
  }

  /** durablePrefix counts the leading txns of `commit` this server's durable log holds. */
  private durablePrefix(commit: readonly Txn[]): number {
    let count = 0
    while (count < commit.length && commit[count]!.zxid <= this.durableZxid) count++
    return count
  }

  /** isInFlight tells whether `ready` is the Ready handed out and not yet advanced. */
  isInFlight(ready: Ready): boolean {
    return this.inFlight === ready
  }

  /** completeReady records that the in-flight Ready was carried out: durable positions, applied commits, memory trim. */
  completeReady(): void {
    const ready = this.inFlight
    assert(ready !== undefined, 'advance() without a Ready in flight')
    const epochs = ready.persist.epochs
    if (epochs !== undefined) {
      this.durableAcceptedEpoch = epochs.accepted
      this.durableCurrentEpoch = epochs.current
    }
    const through = this.inFlightThroughZxid
    this.durableZxid =
      this.cutSinceHandout !== undefined && this.cutSinceHandout < through
        ? this.cutSinceHandout
        : through
    // The runtime replaced its tree with the snapshot, then applied the commits after it.
    const snapshot = ready.persist.snapshot
    if (snapshot !== undefined) this.appliedZxid = snapshot.zxid
    const lastCommit = ready.commit[ready.commit.length - 1]
    if (lastCommit !== undefined && lastCommit.zxid > this.appliedZxid)
      this.appliedZxid = lastCommit.zxid
    this.inFlight = undefined
    this.cutSinceHandout = undefined
    this.log.trimTo(
      this.appliedZxid < this.lastCommittedZxid ? this.appliedZxid : this.lastCommittedZxid,
      this.config.diffLimitTxns,
      this.config.diffLimitBytes,
    )
  }

  /** handedOutLastZxid is where the disk's log will end once every handed-out Ready is done. */
  private handedOutLastZxid(): Zxid {
    const pendingFirst = this.pending.txns[0]
    if (this.pending.snapshot !== undefined) return this.pending.snapshot.zxid
    // The log is the handed-out history plus the pending txns at its end.
    return pendingFirst === undefined
      ? this.log.lastZxid
      : (this.log.latestBefore(pendingFirst.zxid) ?? this.log.base)
  }

  /** cut records that the history was cut back to `zxid`: nothing above it is durable any more. */
  private cut(zxid: Zxid): void {
    if (this.durableZxid > zxid) this.durableZxid = zxid
    if (this.cutSinceHandout === undefined || zxid < this.cutSinceHandout)
      this.cutSinceHandout = zxid
  }
}
