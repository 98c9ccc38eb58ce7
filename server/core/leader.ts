/**
 * LeadingRole: a leader's side of discovery, synchronization and broadcast.
 *
 * Discovery: once a quorum (this server included) has sent FOLLOWERINFO, the new
 * epoch is 1 + the highest acceptedEpoch among them; it is persisted before
 * LEADERINFO leaves. Once a quorum has freshly accepted it (ACKEPOCH, the leader's
 * own durable acceptedEpoch included) the history is fixed: the leader writes its
 * currentEpoch and syncs each follower. A follower whose (currentEpoch, last
 * zxid) is ahead of the leader's before that point aborts the round.
 *
 * Synchronization: each follower gets a DIFF, TRUNC or SNAP (sync-plan.ts) then
 * NEWLEADER, which leaves only once the leader's currentEpoch is durable. With a
 * quorum of NEWLEADER acks (itself included) the leader is established: its whole
 * history is committed, UPTODATE goes out, and it serves.
 *
 * Synchronization messages, like proposal batches, stay within the peer message byte
 * budget: txns beyond it follow in SYNCPART messages before NEWLEADER.
 *
 * Broadcast: proposals get consecutive zxids and go out in batches of up to
 * proposalBatchMax txns, and at most peerMessageBudgetBytes, per message; ACKs are cumulative; the commit point is the
 * highest zxid held durably by a quorum that includes the leader's own fsync, so
 * commits are strictly in zxid order; COMMIT is cumulative too.
 *
 * Liveness: a heartbeat every heartbeatEveryTicks; without a quorum heard from
 * within leaderTimeoutTicks the leader steps down, which fails pending reads and
 * stops every commit. Not established within initTimeoutTicks: back to election.
 */
import type {
  ForwardedRequest,
  PeerMessage,
  ServerId,
  Txn,
  VoteMessage,
  Zxid,
} from '../../protocol/index.js'
import {
  COUNTER_MAX,
  batchesWithin,
  formatZxid,
  makeZxid,
  txnBytesBound,
} from '../../protocol/index.js'
import type { DropReason } from './drop.js'
import { CoreError, assert } from './errors.js'
import { isForwarding, newProgress, reached, type FollowerProgress } from './leader-progress.js'
import type { Phase, Role } from './ready.js'
import { ReadIndexQueue, type PendingRead } from './read-index.js'
import { answerLookingVote, type RoleBehavior, type RoleHost } from './role.js'
import { planSync } from './sync-plan.js'
import { isAhead } from './vote.js'

type LeaderStage = 'discovery' | 'synchronization' | 'broadcast'
type SyncHeader = Extract<PeerMessage, { type: 'diff' | 'trunc' | 'snap' }>
type FollowerMessage = Extract<
  PeerMessage,
  { type: 'ackEpoch' | 'ackNewLeader' | 'ack' | 'pong' | 'request' | 'readIndex' }
>

/** LeadingRole leads one epoch, from discovery to broadcast, until it steps down. */
export class LeadingRole implements RoleBehavior {
  readonly role: Role = 'leading'
  private readonly host: RoleHost
  private leaderEpoch: number | undefined
  /**
   * The zxids this leadership's epoch starts at (counter 0) and ends at (COUNTER_MAX),
   * set with leaderEpoch: nextZxid runs twice per write, and splitting the last zxid
   * into epoch and counter would cost bigint arithmetic each time.
   */
  private epochFirstZxid: Zxid = 0n
  private epochLastZxid: Zxid = 0n
  private stage: LeaderStage = 'discovery'
  private readonly followers = new Map<ServerId, FollowerProgress>()
  private readonly startTick: number
  private initialHistoryZxid: Zxid = 0n
  private pingSeq = 0
  private nextPingTick: number
  /** pingSeqQueued is a heartbeat round still in the pending Ready, so a read arriving now may use it. */
  private pingSeqQueued: number | undefined
  private readonly reads = new ReadIndexQueue()
  private unsentProposals: Txn[] = []
  private lastCommitSentZxid: Zxid = 0n

  constructor(host: RoleHost) {
    this.host = host
    this.startTick = host.state.tickNow
    this.nextPingTick = host.state.tickNow
  }

  get leaderId(): ServerId {
    return this.host.state.config.id
  }

  get phase(): Phase {
    return this.stage
  }

  get epoch(): number | undefined {
    return this.leaderEpoch
  }

  get established(): boolean {
    return this.stage === 'broadcast'
  }

  /** initialHistory is the last zxid of the history this leader started its epoch with. */
  get initialHistory(): Zxid {
    return this.initialHistoryZxid
  }

  /** progress lists the leader's record of each follower (copies, for status and invariant checks). */
  progress(): FollowerProgress[] {
    return [...this.followers.values()].map((p) => ({ ...p }))
  }

  /** start tries to fix the epoch at once (a one-member ensemble is its own quorum). */
  start(): void {
    this.maybeDecideEpoch()
  }

  onVote(from: ServerId, message: VoteMessage): void {
    answerLookingVote(this.host, from, message, {
      state: 'leading',
      leader: this.leaderId,
      epoch: this.leaderEpoch ?? this.host.state.acceptedEpoch,
    })
  }

  receive(from: ServerId, message: PeerMessage): void {
    const state = this.host.state
    if (message.type === 'followerInfo') return this.onFollowerInfo(from, message)
    if (!isFollowerMessage(message)) return state.drop('not-for-role', from, message.type)
    const progress = this.followers.get(from)
    if (progress === undefined) return state.drop('unknown-follower', from, message.type)
    if (message.epoch !== this.leaderEpoch) return state.drop('stale-epoch', from, message.type)
    progress.lastHeardTick = this.host.state.tickNow
    switch (message.type) {
      case 'ackEpoch':
        return this.onAckEpoch(progress, message)
      case 'ackNewLeader':
        return this.onAckNewLeader(progress, message.zxid)
      case 'ack':
        return this.onAck(progress, message.zxid)
      case 'pong':
        return this.onPong(progress, message)
      case 'request':
        return this.onRequest(progress, message.seq, message.request)
      case 'readIndex':
        return this.onReadIndex(progress, message.id)
    }
  }

  tick(): void {
    const state = this.host.state
    const now = state.tickNow
    if (this.stage !== 'broadcast' && now - this.startTick > state.config.initTimeoutTicks) {
      return this.host.becomeLooking(
        `not established within ${state.config.initTimeoutTicks} ticks`,
      )
    }
    if (this.leaderEpoch !== undefined && now >= this.nextPingTick) this.sendHeartbeat()
    this.forgetSilentFollowers()
    if (this.stage !== 'discovery')
      for (const p of this.followers.values()) if (p.stage === 'epochAcked') this.syncFollower(p)
    if (this.stage !== 'broadcast') return
    if (this.counterExhausted())
      return this.host.becomeLooking('zxid counter exhausted: a new epoch is needed')
    const alive: ServerId[] = [this.leaderId]
    for (const p of this.followers.values()) {
      if (p.stage === 'synced' && now - p.lastHeardTick <= state.config.leaderTimeoutTicks)
        alive.push(p.id)
    }
    if (!state.quorum.isQuorum(alive)) {
      return this.host.becomeLooking(
        `no quorum heard from within ${state.config.leaderTimeoutTicks} ticks`,
      )
    }
  }

  flush(): void {
    this.flushProposals()
    this.sendCommit()
  }

  afterTakeReady(): void {
    this.pingSeqQueued = undefined
  }

  afterAdvance(): void {
    this.maybeReachEpochQuorum()
    this.maybeEstablish()
    this.maybeCommit()
  }

  leave(): void {
    for (const read of this.reads.drain()) {
      if (read.origin === this.leaderId) this.host.state.pending.readsFailed.push(read.token)
    }
    // Requests not yet handed out can no longer be prepared here; the runtime treats them as in doubt.
    this.host.state.pending.requests = []
  }

  // ------------------------------------------------------------------ API used by Peer

  /** nextZxid is the zxid the next proposal must carry. */
  nextZxid(): Zxid {
    if (this.stage !== 'broadcast' || this.leaderEpoch === undefined)
      throw new CoreError('NOT_LEADER', 'not an established leader')
    if (this.counterExhausted())
      throw new CoreError('COUNTER_EXHAUSTED', `epoch ${this.leaderEpoch} has used every zxid`)
    const last = this.host.state.lastLoggedZxid
    // A leader's log holds no zxid of a later epoch, and this epoch's counter is below
    // COUNTER_MAX (checked above): the next zxid is one more, or the epoch's first.
    return last > this.epochFirstZxid ? last + 1n : this.epochFirstZxid + 1n
  }

  /** propose logs a txn and queues it for every follower; its zxid must be `nextZxid()`. */
  propose(txn: Txn): void {
    const expected = this.nextZxid()
    if (txn.zxid !== expected) {
      throw new CoreError(
        'ZXID_MISMATCH',
        `proposal carries ${formatZxid(txn.zxid)}, expected ${formatZxid(expected)}`,
      )
    }
    this.host.state.appendTxn(txn)
    this.unsentProposals.push(txn)
    if (this.host.state.config.bug === 'ack-before-fsync') this.maybeCommit()
  }

  /** forward queues a request to prepare (the leader's own client's); false when not established. */
  forward(request: ForwardedRequest): boolean {
    if (this.stage !== 'broadcast') return false
    this.host.state.pending.requests.push({ ...request, origin: this.leaderId })
    return true
  }

  /** readIndex starts a linearizable read on the leader itself; false when not established. */
  readIndex(token: unknown): boolean {
    if (this.stage !== 'broadcast') return false
    this.reads.add({
      origin: this.leaderId,
      token,
      zxid: this.host.state.lastCommittedZxid,
      seq: this.readRound(),
    })
    this.releaseReads()
    return true
  }

  // ------------------------------------------------------------------ discovery

  private onFollowerInfo(
    from: ServerId,
    message: Extract<PeerMessage, { type: 'followerInfo' }>,
  ): void {
    const state = this.host.state
    if (!state.quorum.isVoter(from)) return state.drop('not-a-member', from, message.type)
    const existing = this.followers.get(from)
    if (existing !== undefined && existing.stage !== 'connected') {
      // A FOLLOWERINFO sent before our LEADERINFO reached it is stale; anything else is a new attempt.
      if (this.leaderEpoch !== undefined && message.acceptedEpoch < this.leaderEpoch)
        return state.drop('duplicate', from, message.type)
    }
    if (this.leaderEpoch !== undefined && message.acceptedEpoch > this.leaderEpoch) {
      // It promised a newer (failed) leadership never to go back: it can never join ours.
      // Step down so that the next election picks an epoch above every promise.
      return this.host.becomeLooking(
        `member ${from} accepted epoch ${message.acceptedEpoch}, above ours (${this.leaderEpoch})`,
      )
    }
    const progress = newProgress(from, message, state.tickNow)
    // A member that reconnects and starts over has already made its promise for our
    // epoch durable; its new ACKEPOCH says `fresh: false` (it accepted the epoch before,
    // from us), so the fresh ack it gave stays counted, else a quorum could be lost.
    if (existing?.freshEpochAck === true) progress.freshEpochAck = true
    this.followers.set(from, progress)
    if (this.leaderEpoch === undefined) return this.maybeDecideEpoch()
    this.sendLeaderInfo(progress)
  }

  private maybeDecideEpoch(): void {
    const state = this.host.state
    if (this.leaderEpoch !== undefined) return
    if (!state.quorum.isQuorum([this.leaderId, ...this.followers.keys()])) return
    let highest = state.acceptedEpoch
    for (const p of this.followers.values())
      if (p.acceptedEpoch > highest) highest = p.acceptedEpoch
    if (highest >= 0xffff_ffff) return this.host.becomeLooking('epoch numbers exhausted')
    this.leaderEpoch = highest + 1
    this.epochFirstZxid = makeZxid(this.leaderEpoch, 0)
    this.epochLastZxid = makeZxid(this.leaderEpoch, COUNTER_MAX)
    state.setAcceptedEpoch(this.leaderEpoch)
    for (const p of this.followers.values()) this.sendLeaderInfo(p)
    this.nextPingTick = state.tickNow
  }

  private sendLeaderInfo(progress: FollowerProgress): void {
    const state = this.host.state
    const epoch = this.leaderEpoch
    assert(epoch !== undefined, 'LEADERINFO before the epoch is decided')
    // The leader's acceptedEpoch is durable before anyone hears of the epoch.
    if (state.durableAcceptedEpoch >= epoch) state.send(progress.id, { type: 'leaderInfo', epoch })
    else state.sendAfterPersist(progress.id, { type: 'leaderInfo', epoch })
  }

  private onAckEpoch(
    progress: FollowerProgress,
    message: Extract<PeerMessage, { type: 'ackEpoch' }>,
  ): void {
    const state = this.host.state
    if (progress.stage !== 'connected') return state.drop('wrong-phase', progress.id, message.type)
    progress.currentEpoch = message.currentEpoch
    progress.lastLoggedZxid = message.lastLoggedZxid
    progress.freshEpochAck ||= message.fresh
    progress.stage = 'epochAcked'
    if (this.stage === 'discovery') {
      const theirs = { epoch: message.currentEpoch, zxid: message.lastLoggedZxid }
      const ours = { epoch: state.currentEpoch, zxid: state.lastLoggedZxid }
      if (isAhead(theirs, ours, state.config.bug)) {
        return this.host.becomeLooking(
          `follower ${progress.id} is ahead of the leader (${formatZxid(message.lastLoggedZxid)})`,
        )
      }
      return this.maybeReachEpochQuorum()
    }
    this.syncFollower(progress)
  }

  private maybeReachEpochQuorum(): void {
    const state = this.host.state
    const epoch = this.leaderEpoch
    if (this.stage !== 'discovery' || epoch === undefined || state.durableAcceptedEpoch < epoch)
      return
    const acked: ServerId[] = [this.leaderId]
    for (const p of this.followers.values())
      if (reached(p, 'epochAcked') && p.freshEpochAck) acked.push(p.id)
    if (!state.quorum.isQuorum(acked)) return
    this.stage = 'synchronization'
    this.initialHistoryZxid = state.lastLoggedZxid
    state.setCurrentEpoch(epoch)
    for (const p of this.followers.values()) if (p.stage === 'epochAcked') this.syncFollower(p)
  }

  // ------------------------------------------------------------------ synchronization

  private syncFollower(progress: FollowerProgress): void {
    const state = this.host.state
    const epoch = this.leaderEpoch
    assert(epoch !== undefined, 'sync before the epoch is decided')
    // Earlier proposals go to the followers that already receive them before this one joins.
    this.flushProposals()
    const plan = planSync(
      state.log,
      progress.lastLoggedZxid,
      state.config.diffLimitTxns,
      state.config.bug,
    )
    const committedZxid = state.lastCommittedZxid
    if (plan.mode === 'diff')
      this.sendSync(progress.id, plan.txns, (txns) => ({
        type: 'diff',
        epoch,
        txns,
        committedZxid,
      }))
    if (plan.mode === 'trunc') {
      const truncateAfter = plan.truncateAfter
      this.sendSync(progress.id, plan.txns, (txns) => ({
        type: 'trunc',
        epoch,
        truncateAfter,
        txns,
        committedZxid,
      }))
    }
    if (plan.mode === 'snap') {
      const snapshot = state.config.snapshotSource()
      // The runtime's tree must be a committed point of our history that the log continues
      // from; right after installing a snapshot ourselves it may not be yet. Retry next tick.
      const usable = snapshot.zxid <= state.lastCommittedZxid && state.log.holds(snapshot.zxid)
      if (!usable) return
      this.sendSync(progress.id, state.log.after(snapshot.zxid), (txns) => ({
        type: 'snap',
        epoch,
        snapshot,
        txns,
        committedZxid,
      }))
    }
    // NEWLEADER promises our currentEpoch is durable, so it waits for that fsync when needed.
    if (state.durableCurrentEpoch >= epoch) state.send(progress.id, { type: 'newLeader', epoch })
    else state.sendAfterPersist(progress.id, { type: 'newLeader', epoch })
    progress.stage = 'syncing'
  }

  /**
   * sendSync sends a DIFF, TRUNC or SNAP (built by `header` around its first txns) and,
   * when its txns exceed one message's byte budget, the SyncParts that carry the rest.
   */
  private sendSync(to: ServerId, txns: Txn[], header: (first: Txn[]) => SyncHeader): void {
    const state = this.host.state
    const epoch = this.leaderEpoch
    assert(epoch !== undefined, 'sync before the epoch is decided')
    const [first = [], ...rest] = this.batches(txns, Number.POSITIVE_INFINITY)
    const through = txns.at(-1)?.zxid
    state.send(
      to,
      rest.length === 0 || through === undefined
        ? header(first)
        : { ...header(first), throughZxid: through },
    )
    let afterZxid = first.at(-1)?.zxid ?? 0n
    for (const part of rest) {
      state.send(to, { type: 'syncPart', epoch, afterZxid, txns: part })
      afterZxid = part.at(-1)?.zxid ?? afterZxid
    }
  }

  /** batches cuts txns into consecutive messages' worth: within the byte budget, at most `countMax` each. */
  private batches(txns: readonly Txn[], countMax: number): Txn[][] {
    return [
      ...batchesWithin(txns, txnBytesBound, {
        bytesMax: this.host.state.config.peerMessageBudgetBytes,
        countMax,
      }),
    ]
  }

  private onAckNewLeader(progress: FollowerProgress, zxid: Zxid): void {
    if (progress.stage !== 'syncing') return this.drop('wrong-phase', progress, 'ackNewLeader')
    const last = this.host.state.lastLoggedZxid
    progress.stage = 'synced'
    progress.ackedZxid = zxid < last ? zxid : last
    if (this.stage === 'broadcast') {
      this.sendUpToDate(progress)
      return this.maybeCommit()
    }
    this.maybeEstablish()
  }

  private maybeEstablish(): void {
    const state = this.host.state
    const epoch = this.leaderEpoch
    if (
      this.stage !== 'synchronization' ||
      epoch === undefined ||
      state.durableCurrentEpoch < epoch
    )
      return
    const synced: ServerId[] = [this.leaderId]
    for (const p of this.followers.values()) if (p.stage === 'synced') synced.push(p.id)
    if (!state.quorum.isQuorum(synced)) return
    this.stage = 'broadcast'
    // A quorum holds our whole initial history durably under the new epoch: it is committed.
    state.commitThrough(this.initialHistoryZxid)
    this.lastCommitSentZxid = state.lastCommittedZxid
    state.pending.becameEstablished = true
    for (const p of this.followers.values()) {
      p.lastHeardTick = state.tickNow
      if (p.stage === 'synced') this.sendUpToDate(p)
    }
  }

  private sendUpToDate(progress: FollowerProgress): void {
    const epoch = this.leaderEpoch
    assert(epoch !== undefined, 'UPTODATE before the epoch is decided')
    this.host.state.send(progress.id, {
      type: 'upToDate',
      epoch,
      committedZxid: this.host.state.lastCommittedZxid,
    })
  }

  // ------------------------------------------------------------------ broadcast

  private onAck(progress: FollowerProgress, zxid: Zxid): void {
    if (progress.stage !== 'synced') return this.drop('wrong-phase', progress, 'ack')
    const last = this.host.state.lastLoggedZxid
    const acked = zxid < last ? zxid : last
    if (acked > progress.ackedZxid) progress.ackedZxid = acked
    this.maybeCommit()
  }

  private maybeCommit(): void {
    if (this.stage !== 'broadcast') return
    const state = this.host.state
    const bug = state.config.bug
    const selfAcked = bug === 'ack-before-fsync' ? state.lastLoggedZxid : state.durableZxid
    const positions = new Map<ServerId, Zxid>([[this.leaderId, selfAcked]])
    for (const p of this.followers.values())
      if (p.stage === 'synced') positions.set(p.id, p.ackedZxid)
    const quorumZxid =
      bug === 'commit-without-quorum' ? selfAcked : state.quorum.quorumZxid(positions)
    // A quorum that includes the leader's own fsync.
    state.commitThrough(quorumZxid < selfAcked ? quorumZxid : selfAcked)
  }

  private flushProposals(): void {
    if (this.unsentProposals.length === 0) return
    const epoch = this.leaderEpoch
    assert(epoch !== undefined, 'proposals before the epoch is decided')
    // A batch closes at proposalBatchMax txns or at the byte budget, whichever comes first.
    for (const txns of this.batches(
      this.unsentProposals,
      this.host.state.config.proposalBatchMax,
    )) {
      // One message object for every follower, so the runtime's links encode it once.
      const proposal: PeerMessage = { type: 'proposal', epoch, txns }
      for (const p of this.followers.values())
        if (isForwarding(p)) this.host.state.send(p.id, proposal)
    }
    this.unsentProposals = []
  }

  private sendCommit(): void {
    const state = this.host.state
    const epoch = this.leaderEpoch
    if (
      this.stage !== 'broadcast' ||
      epoch === undefined ||
      state.lastCommittedZxid <= this.lastCommitSentZxid
    )
      return
    for (const p of this.followers.values()) {
      if (isForwarding(p))
        state.send(p.id, { type: 'commit', epoch, zxid: state.lastCommittedZxid })
    }
    this.lastCommitSentZxid = state.lastCommittedZxid
  }

  private counterExhausted(): boolean {
    // The counter never passes COUNTER_MAX, so only the epoch's very last zxid exhausts it.
    return this.leaderEpoch !== undefined && this.host.state.lastLoggedZxid === this.epochLastZxid
  }

  // ------------------------------------------------------------------ heartbeats, requests, reads

  private sendHeartbeat(): void {
    const state = this.host.state
    const epoch = this.leaderEpoch
    assert(epoch !== undefined, 'heartbeat before the epoch is decided')
    this.pingSeq += 1
    for (const p of this.followers.values()) {
      if (!reached(p, 'epochAcked')) continue
      state.send(p.id, {
        type: 'ping',
        epoch,
        seq: this.pingSeq,
        committedZxid: state.lastCommittedZxid,
        lastZxid: state.lastLoggedZxid,
        established: this.stage === 'broadcast',
      })
    }
    this.pingSeqQueued = this.pingSeq
    this.nextPingTick = state.tickNow + state.config.heartbeatEveryTicks
  }

  /** forgetSilentFollowers drops followers silent for initTimeoutTicks: they will come back with FOLLOWERINFO. */
  private forgetSilentFollowers(): void {
    const now = this.host.state.tickNow
    for (const [id, p] of this.followers) {
      if (now - p.lastHeardTick > this.host.state.config.initTimeoutTicks) this.followers.delete(id)
    }
  }

  private onPong(
    progress: FollowerProgress,
    message: Extract<PeerMessage, { type: 'pong' }>,
  ): void {
    if (!reached(progress, 'epochAcked')) return this.drop('wrong-phase', progress, message.type)
    if (message.seq > this.pingSeq) return this.drop('unknown-id', progress, message.type)
    if (message.seq > progress.pongSeq) progress.pongSeq = message.seq
    for (const id of message.sessions) this.host.state.pending.sessionsTouched.add(id)
    this.releaseReads()
  }

  private onRequest(progress: FollowerProgress, seq: number, request: ForwardedRequest): void {
    if (this.stage !== 'broadcast' || progress.stage !== 'synced')
      return this.drop('wrong-phase', progress, 'request')
    if (seq < progress.nextRequestSeq) return this.drop('duplicate', progress, 'request')
    if (seq > progress.nextRequestSeq) {
      // A request was lost: preparing later ones would break that session's order.
      // Forget the follower; it times out, rejoins, and its runtime fails what was in doubt.
      this.followers.delete(progress.id)
      return this.drop('sequence-gap', progress, 'request')
    }
    progress.nextRequestSeq += 1
    this.host.state.pending.requests.push({ ...request, origin: progress.id })
  }

  private onReadIndex(progress: FollowerProgress, id: number): void {
    if (this.stage !== 'broadcast' || progress.stage !== 'synced')
      return this.drop('wrong-phase', progress, 'readIndex')
    this.reads.add({
      origin: progress.id,
      remoteId: id,
      zxid: this.host.state.lastCommittedZxid,
      seq: this.readRound(),
    })
    this.releaseReads()
  }

  /** readRound is a heartbeat round that starts after now: a queued one not yet handed out, or a new one. */
  private readRound(): number {
    if (this.pingSeqQueued !== undefined) return this.pingSeqQueued
    this.sendHeartbeat()
    return this.pingSeq
  }

  private releaseReads(): void {
    if (this.reads.size === 0) return
    const state = this.host.state
    const answered = new Map<ServerId, number>([[this.leaderId, this.pingSeq]])
    for (const p of this.followers.values())
      if (reached(p, 'epochAcked')) answered.set(p.id, p.pongSeq)
    const confirmedSeq = state.quorum.quorumMinimum(answered, 0)
    for (const read of this.reads.release(confirmedSeq)) this.answerRead(read)
  }

  /** drop records that a message from a follower was ignored. */
  private drop(reason: DropReason, progress: FollowerProgress, type: PeerMessage['type']): void {
    this.host.state.drop(reason, progress.id, type)
  }

  private answerRead(read: PendingRead): void {
    const state = this.host.state
    if (read.origin === this.leaderId) {
      state.pending.readsReady.push({ token: read.token, zxid: read.zxid })
      return
    }
    const epoch = this.leaderEpoch
    if (epoch === undefined || read.remoteId === undefined) return
    state.send(read.origin, { type: 'readIndexOk', epoch, id: read.remoteId, zxid: read.zxid })
  }
}

function isFollowerMessage(message: PeerMessage): message is FollowerMessage {
  switch (message.type) {
    case 'ackEpoch':
    case 'ackNewLeader':
    case 'ack':
    case 'pong':
    case 'request':
    case 'readIndex':
      return true
    // followerInfo opens a handshake and is taken before this check; votes go to onVote.
    case 'followerInfo':
    case 'vote':
    case 'leaderInfo':
    case 'diff':
    case 'trunc':
    case 'snap':
    case 'syncPart':
    case 'newLeader':
    case 'upToDate':
    case 'proposal':
    case 'commit':
    case 'ping':
    case 'readIndexOk':
      return false
  }
}
