/**
 * FollowingRole: a follower's side of discovery, synchronization and broadcast.
 *
 * Discovery: send FOLLOWERINFO (re-sent until answered); on LEADERINFO persist the
 * new acceptedEpoch *before* ACKEPOCH leaves (it goes in sendAfterPersist); refuse
 * a leader whose epoch is older than one already accepted.
 *
 * Synchronization: apply the DIFF, TRUNC or SNAP the leader sends — never truncating
 * a committed txn; a sync streamed in parts (SYNCPART) is gathered and applied whole,
 * a lost part sends the follower back to election — then on NEWLEADER write currentEpoch and ack. Both go in one
 * Ready, synced txns first, so the ack promises that the synced history *and* the
 * epoch are durable (ZOOKEEPER-3911 and its successors: persist, then currentEpoch,
 * then ACK). UPTODATE makes the follower serve.
 *
 * Broadcast: log proposals that extend the log without a gap (a gap means lost
 * messages: go back to election and resync), ACK cumulatively after the fsync,
 * commit what the leader's cumulative COMMIT (or heartbeat) says is committed.
 *
 * Liveness: silence from the leader for leaderTimeoutTicks (initTimeoutTicks
 * overall until UPTODATE) sends the follower back to election.
 */
import type {
  AckEpochMessage,
  ForwardedRequest,
  PeerMessage,
  ServerId,
  SessionId,
  Txn,
  VoteMessage,
  Zxid,
} from '../../protocol/index.js'
import { counterOf, epochOf, formatZxid } from '../../protocol/index.js'
import { jitterTicks } from './config.js'
import type { DropReason } from './drop.js'
import { assert } from './errors.js'
import type { Phase, Role } from './ready.js'
import { answerLookingVote, type RoleBehavior, type RoleHost } from './role.js'

/** FollowerStep is where a follower stands in the handshake with its leader. */
export type FollowerStep =
  'discovery' | 'awaitingSync' | 'awaitingNewLeader' | 'awaitingUpToDate' | 'broadcast'

type SyncMessage = Extract<PeerMessage, { type: 'diff' | 'trunc' | 'snap' }>

/** PartialSync is a sync message whose txns are still arriving in parts, up to `throughZxid`. */
interface PartialSync {
  header: SyncMessage
  txns: Txn[]
  lastZxid: Zxid
  throughZxid: Zxid
}

/** SESSION_ID_BYTES_MAX is the most bytes one session id takes in a pong (msgpack uint 64). */
const SESSION_ID_BYTES_MAX = 9

/** isNextProposal tells whether `next` directly follows `last` in the leader's epoch `epoch`. */
export function isNextProposal(last: Zxid, next: Zxid, epoch: number): boolean {
  if (epochOf(next) !== epoch) return false
  if (epochOf(last) === epoch) return counterOf(next) === counterOf(last) + 1
  return counterOf(next) === 1
}

/** FollowingRole follows one leader through discovery, synchronization and broadcast. */
export class FollowingRole implements RoleBehavior {
  readonly role: Role = 'following'
  readonly leaderId: ServerId
  private readonly host: RoleHost
  /** leaderRound is the election round the leader was chosen in; only a newer LOOKING vote from it means it left. */
  private readonly leaderRound: number
  private leaderEpoch: number | undefined
  private step: FollowerStep = 'discovery'
  /** newLeaderAck follows our ack of NEWLEADER: queued, in the Ready handed out, then durable and sent. */
  /** linkLostAtTick is when the connection to the leader closed, while it stays closed. */
  private linkLostAtTick: number | undefined
  private newLeaderAck: 'none' | 'pending' | 'handedOut' | 'durable' = 'none'
  private readonly startTick: number
  private lastHeardTick: number
  private infoResendAtTick: number
  private lastAckSentZxid: Zxid = -1n
  private requestSeq = 0
  private nextReadId = 1
  private readonly reads = new Map<number, unknown>()
  private readonly touched = new Set<SessionId>()
  /** partialSync is a streamed DIFF/TRUNC/SNAP whose parts are still arriving (applied once whole). */
  private partialSync: PartialSync | undefined
  /** behind records a leader position our log had not reached when a ping said so. */
  private behind: { targetZxid: Zxid; sinceTick: number } | undefined

  constructor(host: RoleHost, leaderId: ServerId, leaderRound: number) {
    assert(leaderId !== host.state.config.id, 'a server cannot follow itself')
    assert(host.state.quorum.isVoter(leaderId), `leader ${leaderId} is not a member`)
    this.host = host
    this.leaderId = leaderId
    this.leaderRound = leaderRound
    this.startTick = host.state.tickNow
    this.lastHeardTick = host.state.tickNow
    this.infoResendAtTick = host.state.tickNow
  }

  get phase(): Phase {
    if (this.step === 'discovery') return 'discovery'
    return this.step === 'broadcast' ? 'broadcast' : 'synchronization'
  }

  get epoch(): number | undefined {
    return this.leaderEpoch
  }

  get established(): boolean {
    return this.step === 'broadcast'
  }

  /** followerStep is the handshake step, for status and tests. */
  get followerStep(): FollowerStep {
    return this.step
  }

  /** start opens discovery with FOLLOWERINFO. */
  start(): void {
    this.sendFollowerInfo()
  }

  onVote(from: ServerId, message: VoteMessage): void {
    this.checkEntry(from)
    if (from === this.leaderId && message.state !== 'leading' && message.round > this.leaderRound) {
      return this.host.becomeLooking(`leader ${from} left its leadership (round ${message.round})`)
    }
    // The server we chose follows another: it will never lead us (elected while we
    // decided, in the same round). Waiting for the init timeout would idle us for seconds.
    if (from === this.leaderId && message.state === 'following' && message.leader !== from) {
      return this.host.becomeLooking(`leader ${from} follows ${message.leader}`)
    }
    answerLookingVote(this.host, from, message, {
      state: 'following',
      leader: this.leaderId,
      epoch: this.leaderEpoch ?? this.host.state.acceptedEpoch,
    })
  }

  receive(from: ServerId, message: PeerMessage): void {
    this.checkEntry(from)
    if (from !== this.leaderId) {
      // Someone takes us for its leader: tell it whom we follow, so it looks again.
      if (message.type === 'followerInfo') return this.answerNotLeading(from)
      return this.host.state.drop('not-from-leader', from, message.type)
    }
    if (
      'epoch' in message &&
      this.leaderEpoch !== undefined &&
      message.epoch > this.leaderEpoch &&
      message.type !== 'leaderInfo'
    ) {
      // Our leader leads a newer epoch: it stepped down and was elected again while we missed it.
      return this.host.becomeLooking(`leader ${from} moved on to epoch ${message.epoch}`)
    }
    switch (message.type) {
      case 'leaderInfo':
        return this.onLeaderInfo(message.epoch)
      case 'diff':
      case 'trunc':
      case 'snap':
        return this.onSyncHeader(message)
      case 'syncPart':
        return this.onSyncPart(message)
      case 'newLeader':
        return this.onNewLeader(message.epoch)
      case 'upToDate':
        return this.onUpToDate(message.epoch, message.committedZxid)
      case 'proposal':
        return this.onProposal(message.epoch, message.txns)
      case 'commit':
        return this.onCommit(message.epoch, message.zxid)
      case 'ping':
        return this.onPing(message)
      case 'readIndexOk':
        return this.onReadIndexOk(message.epoch, message.id, message.zxid)
      case 'vote': // votes come in through onVote
      case 'followerInfo':
      case 'ackEpoch':
      case 'ackNewLeader':
      case 'ack':
      case 'pong':
      case 'request':
      case 'readIndex':
        // Messages for a leader: not ours to act on.
        return this.host.state.drop('not-for-role', from, message.type)
    }
  }

  /**
   * checkEntry asserts what holds whenever a message reaches this role: it comes from
   * another member (the Peer drops the rest), and past discovery the leader's epoch is
   * known and is the epoch this server accepted (it accepts no other while following).
   */
  private checkEntry(from: ServerId): void {
    const state = this.host.state
    assert(
      from !== state.config.id && state.quorum.isVoter(from),
      () => `message from ${from}, not another member`,
    )
    if (this.step === 'discovery') return
    assert(
      this.leaderEpoch !== undefined && this.leaderEpoch === state.acceptedEpoch,
      () =>
        `following in ${this.step} with leader epoch ${String(this.leaderEpoch)}, accepted ${state.acceptedEpoch}`,
    )
  }

  /** drop records that a message from the leader was ignored. */
  private drop(reason: DropReason, type: PeerMessage['type']): void {
    this.host.state.drop(reason, this.leaderId, type)
  }

  tick(): void {
    const now = this.host.state.tickNow
    const config = this.host.state.config
    if (this.step !== 'broadcast' && now - this.startTick > config.initTimeoutTicks) {
      return this.host.becomeLooking(
        `not synced with leader ${this.leaderId} within ${config.initTimeoutTicks} ticks`,
      )
    }
    if (this.step === 'discovery') {
      if (now >= this.infoResendAtTick) this.sendFollowerInfo()
      return
    }
    if (now - this.lastHeardTick > config.leaderTimeoutTicks) {
      return this.host.becomeLooking(
        `leader ${this.leaderId} silent for ${config.leaderTimeoutTicks} ticks`,
      )
    }
    if (
      this.linkLostAtTick !== undefined &&
      now - this.linkLostAtTick >= config.leaderLinkGraceTicks
    ) {
      return this.host.becomeLooking(
        `lost the connection to leader ${this.leaderId} for ${config.leaderLinkGraceTicks} ticks`,
      )
    }
  }

  /**
   * onLeaderLink records that the connection to the leader closed (up = false) or opened
   * again. A connection still closed `leaderLinkGraceTicks` later sends this follower back
   * to election without waiting out the leader timeout: a killed leader is replaced
   * quickly, while a link that merely flapped reconnects within the grace and costs nothing
   * in broadcast, where a proposal lost with it shows up as a gap.
   *
   * While synchronizing, a flap is not free: a DIFF/TRUNC/SNAP or NEWLEADER lost with the
   * connection is never re-sent, and nothing but initTimeoutTicks would notice, since the
   * leader's pings keep the follower from timing out. So a follower whose connection
   * reopens before it has acknowledged NEWLEADER starts the handshake with the same leader
   * again (FOLLOWERINFO), the handshake a ZooKeeper learner runs on every new
   * connection; the leader treats it as a new attempt. No election is needed, so this
   * works even when the members still answering for the leader are too few for a
   * looking server to join it.
   */
  onLeaderLink(up: boolean): void {
    if (!up) {
      this.linkLostAtTick ??= this.host.state.tickNow
      return
    }
    const reopened = this.linkLostAtTick !== undefined
    this.linkLostAtTick = undefined
    if (reopened && (this.step === 'awaitingSync' || this.step === 'awaitingNewLeader'))
      this.restartHandshake()
  }

  /** restartHandshake goes back to discovery with the same leader: anything it sent us may be lost. */
  private restartHandshake(): void {
    this.step = 'discovery'
    this.partialSync = undefined
    this.sendFollowerInfo()
  }

  /** flush queues one cumulative ACK for everything logged since the last ack, to leave after the fsync. */
  flush(): void {
    if (this.step !== 'awaitingUpToDate' && this.step !== 'broadcast') return
    const state = this.host.state
    assert(this.leaderEpoch !== undefined, `${this.step} without a leader epoch`)
    if (state.lastLoggedZxid <= this.lastAckSentZxid) return
    const ack: PeerMessage = { type: 'ack', epoch: this.leaderEpoch, zxid: state.lastLoggedZxid }
    // The deliberate bug sends the ACK before the txns it covers are durable.
    if (state.config.bug === 'ack-before-fsync') state.send(this.leaderId, ack)
    else state.sendAfterPersist(this.leaderId, ack)
    this.lastAckSentZxid = state.lastLoggedZxid
  }

  afterTakeReady(): void {
    if (this.newLeaderAck === 'pending') this.newLeaderAck = 'handedOut'
  }

  afterAdvance(): void {
    // The Ready that carried our NEWLEADER ack is done: the sync is durable and applied.
    if (this.newLeaderAck === 'handedOut') this.newLeaderAck = 'durable'
  }

  leave(): void {
    for (const token of this.reads.values()) this.host.state.pending.readsFailed.push(token)
    this.reads.clear()
  }

  /** forward sends a client request to the leader; false when not serving (no established leader). */
  forward(request: ForwardedRequest): boolean {
    if (this.step !== 'broadcast' || this.leaderEpoch === undefined) return false
    this.requestSeq += 1
    const forwarded: ForwardedRequest = { ...request, origin: this.host.state.config.id }
    this.host.state.send(this.leaderId, {
      type: 'request',
      epoch: this.leaderEpoch,
      seq: this.requestSeq,
      request: forwarded,
    })
    return true
  }

  /** readIndex asks the leader for a quorum-confirmed read index; false when not serving. */
  readIndex(token: unknown): boolean {
    if (this.step !== 'broadcast' || this.leaderEpoch === undefined) return false
    const id = this.nextReadId++
    this.reads.set(id, token)
    this.host.state.send(this.leaderId, { type: 'readIndex', epoch: this.leaderEpoch, id })
    return true
  }

  /** touchSessions records session activity to report in the next pong. */
  touchSessions(ids: Iterable<SessionId>): void {
    for (const id of ids) this.touched.add(id)
  }

  /** answerNotLeading sends `to` our vote: following our leader, not leading. */
  private answerNotLeading(to: ServerId): void {
    const state = this.host.state
    state.send(to, {
      type: 'vote',
      round: this.host.round,
      state: 'following',
      leader: this.leaderId,
      leaderZxid: state.lastLoggedZxid,
      leaderEpoch: this.leaderEpoch ?? state.acceptedEpoch,
    })
  }

  private sendFollowerInfo(): void {
    const state = this.host.state
    state.send(this.leaderId, {
      type: 'followerInfo',
      acceptedEpoch: state.acceptedEpoch,
      currentEpoch: state.currentEpoch,
      lastLoggedZxid: state.lastLoggedZxid,
    })
    this.infoResendAtTick =
      state.tickNow + jitterTicks(state.config.electionResendTicks, state.config.random)
  }

  private onLeaderInfo(epoch: number): void {
    if (this.step !== 'discovery') return this.drop('wrong-phase', 'leaderInfo')
    const state = this.host.state
    if (epoch < state.acceptedEpoch) {
      return this.host.becomeLooking(
        `leader ${this.leaderId} proposed epoch ${epoch} below accepted ${state.acceptedEpoch}`,
      )
    }
    const fresh = epoch > state.acceptedEpoch
    if (fresh) state.setAcceptedEpoch(epoch)
    this.leaderEpoch = epoch
    this.lastHeardTick = state.tickNow
    const ack: AckEpochMessage = {
      type: 'ackEpoch',
      epoch,
      fresh,
      currentEpoch: state.currentEpoch,
      lastLoggedZxid: state.lastLoggedZxid,
    }
    // Zab phase 1: acceptedEpoch must be durable before ACKEPOCH leaves.
    state.sendAfterPersist(this.leaderId, ack)
    this.step = 'awaitingSync'
  }

  private isCurrent(epoch: number): boolean {
    if (epoch !== this.leaderEpoch) return false
    this.lastHeardTick = this.host.state.tickNow
    return true
  }

  /**
   * onSyncHeader takes a DIFF, TRUNC or SNAP: whole, it is applied at once; when parts
   * follow (`throughZxid`), it is kept until they have all arrived.
   */
  private onSyncHeader(message: SyncMessage): void {
    if (this.step !== 'awaitingSync') return this.drop('wrong-phase', message.type)
    if (this.partialSync !== undefined) return this.drop('sync-in-progress', message.type)
    if (!this.isCurrent(message.epoch)) return this.drop('stale-epoch', message.type)
    const last = message.txns.at(-1)?.zxid
    if (message.throughZxid === undefined || last === undefined || last >= message.throughZxid)
      return this.onSync(message)
    this.partialSync = {
      header: message,
      txns: [...message.txns],
      lastZxid: last,
      throughZxid: message.throughZxid,
    }
  }

  /** onSyncPart adds the next part of a streamed sync; the last one applies the whole sync. */
  private onSyncPart(part: Extract<PeerMessage, { type: 'syncPart' }>): void {
    const partial = this.partialSync
    if (this.step !== 'awaitingSync') return this.drop('wrong-phase', part.type)
    if (partial === undefined) return this.drop('orphan-sync-part', part.type)
    if (!this.isCurrent(part.epoch)) return this.drop('stale-epoch', part.type)
    const last = part.txns.at(-1)?.zxid
    // A duplicate, or empty: nothing new.
    if (last === undefined || last <= partial.lastZxid) return this.drop('duplicate', part.type)
    if (part.afterZxid !== partial.lastZxid) {
      // A part went missing (or is stale): logging around it would leave a hole. Resync.
      return this.host.becomeLooking(
        `sync part after ${formatZxid(part.afterZxid)} does not follow ${formatZxid(partial.lastZxid)}`,
      )
    }
    for (const txn of part.txns) partial.txns.push(txn)
    partial.lastZxid = last
    if (last < partial.throughZxid) return
    this.partialSync = undefined
    this.onSync({ ...partial.header, txns: partial.txns })
  }

  private onSync(message: SyncMessage): void {
    assert(
      this.step === 'awaitingSync' && this.partialSync === undefined,
      `sync applied in ${this.step}${this.partialSync === undefined ? '' : ' with parts pending'}`,
    )
    const problem = this.syncProblem(message)
    if (problem !== undefined)
      return this.host.becomeLooking(`refused ${message.type} from ${this.leaderId}: ${problem}`)
    const state = this.host.state
    if (message.type === 'snap') state.installSnapshot(message.snapshot)
    if (message.type === 'trunc') state.truncateLogAfter(message.truncateAfter)
    for (const txn of message.txns) state.appendTxn(txn)
    state.commitThrough(message.committedZxid)
    this.step = 'awaitingNewLeader'
  }

  /** syncProblem says why a sync message cannot be applied, or undefined when it can. Checked before any change. */
  private syncProblem(message: SyncMessage): string | undefined {
    const state = this.host.state
    let after: Zxid = state.lastLoggedZxid
    if (message.type === 'trunc') {
      if (message.truncateAfter < state.lastCommittedZxid) return 'it would truncate committed txns'
      after = message.truncateAfter < after ? message.truncateAfter : after
    }
    if (message.type === 'snap') {
      // An older snapshot is fine as long as the txns after it bring back everything committed here.
      const reaches = message.txns.at(-1)?.zxid ?? message.snapshot.zxid
      if (reaches < state.lastCommittedZxid)
        return 'the snapshot and its txns end before what is committed here'
      after = message.snapshot.zxid
    }
    return txnsProblem(message.txns, after, message.epoch)
  }

  private onNewLeader(epoch: number): void {
    if (this.partialSync !== undefined && epoch === this.leaderEpoch) {
      // NEWLEADER follows the last part on the link: parts went missing.
      return this.host.becomeLooking(
        `NEWLEADER arrived before the sync reached ${formatZxid(this.partialSync.throughZxid)}`,
      )
    }
    if (this.step !== 'awaitingNewLeader') return this.drop('wrong-phase', 'newLeader')
    if (!this.isCurrent(epoch)) return this.drop('stale-epoch', 'newLeader')
    const state = this.host.state
    assert(
      this.newLeaderAck === 'none' && state.currentEpoch <= epoch,
      `NEWLEADER for epoch ${epoch} taken twice or below currentEpoch ${state.currentEpoch}`,
    )
    if (state.currentEpoch < epoch) state.setCurrentEpoch(epoch)
    // Synced txns, then currentEpoch, are in this Ready's persist: the ack waits for both.
    state.sendAfterPersist(this.leaderId, {
      type: 'ackNewLeader',
      epoch,
      zxid: state.lastLoggedZxid,
    })
    this.lastAckSentZxid = state.lastLoggedZxid
    this.newLeaderAck = 'pending'
    this.step = 'awaitingUpToDate'
  }

  private onUpToDate(epoch: number, committedZxid: Zxid): void {
    if (this.step !== 'awaitingUpToDate') return this.drop('wrong-phase', 'upToDate')
    if (!this.isCurrent(epoch)) return this.drop('stale-epoch', 'upToDate')
    assert(this.newLeaderAck !== 'none', 'UPTODATE taken before NEWLEADER was acknowledged')
    this.step = 'broadcast'
    this.host.state.commitThrough(committedZxid)
  }

  private onProposal(epoch: number, txns: readonly Txn[]): void {
    if (!this.isSynced()) return this.drop('wrong-phase', 'proposal')
    if (!this.isCurrent(epoch)) return this.drop('stale-epoch', 'proposal')
    const state = this.host.state
    let logged = 0
    for (const txn of txns) {
      if (txn.zxid <= state.lastLoggedZxid) continue // a duplicate of what we already logged
      if (!isNextProposal(state.lastLoggedZxid, txn.zxid, epoch)) {
        return this.host.becomeLooking(
          `proposal ${txn.zxid} leaves a gap after ${state.lastLoggedZxid}`,
        )
      }
      state.appendTxn(txn)
      logged += 1
    }
    if (logged === 0) this.drop('duplicate', 'proposal')
  }

  private onCommit(epoch: number, zxid: Zxid): void {
    if (!this.isSynced()) return this.drop('wrong-phase', 'commit')
    if (!this.isCurrent(epoch)) return this.drop('stale-epoch', 'commit')
    this.host.state.commitThrough(zxid)
  }

  private onPing(ping: Extract<PeerMessage, { type: 'ping' }>): void {
    if (this.step === 'discovery') return this.drop('wrong-phase', ping.type)
    if (!this.isCurrent(ping.epoch)) return this.drop('stale-epoch', ping.type)
    const sessions = this.takeTouched()
    this.host.state.send(this.leaderId, {
      type: 'pong',
      epoch: ping.epoch,
      seq: ping.seq,
      sessions,
    })
    // Our UPTODATE was lost, but the leader says it serves: so do we — once our own sync
    // (and the currentEpoch after it) is durable, i.e. our ack of NEWLEADER went out.
    // Before that the runtime may not even have installed the synced state to serve from.
    if (ping.established && this.step === 'awaitingUpToDate' && this.newLeaderAck === 'durable')
      this.step = 'broadcast'
    if (!this.isSynced()) return
    this.host.state.commitThrough(ping.committedZxid)
    this.watchForLostProposals(ping.lastZxid)
  }

  /**
   * takeTouched hands out the sessions to report in one pong, as many as fit the peer
   * message budget; the rest wait for the next pong (a tick later, well within any
   * session timeout).
   */
  private takeTouched(): SessionId[] {
    const max = Math.max(
      1,
      Math.floor(this.host.state.config.peerMessageBudgetBytes / SESSION_ID_BYTES_MAX),
    )
    const sessions: SessionId[] = []
    for (const id of this.touched) {
      if (sessions.length >= max) break
      sessions.push(id)
      this.touched.delete(id)
    }
    return sessions
  }

  /**
   * watchForLostProposals notices proposals that never arrived. A ping is sent after
   * every proposal up to its `lastZxid`, so if our log has not reached that point
   * within leaderTimeoutTicks, something was lost on the way (ZooKeeper's leader
   * closes such a learner: SyncLimitCheck). Back to election, then resync.
   */
  private watchForLostProposals(leaderLastZxid: Zxid): void {
    const state = this.host.state
    const behind = this.behind
    if (behind !== undefined && state.lastLoggedZxid >= behind.targetZxid) this.behind = undefined
    if (this.behind === undefined) {
      if (leaderLastZxid > state.lastLoggedZxid)
        this.behind = { targetZxid: leaderLastZxid, sinceTick: state.tickNow }
      return
    }
    if (state.tickNow - this.behind.sinceTick > state.config.leaderTimeoutTicks) {
      return this.host.becomeLooking(`proposals up to ${this.behind.targetZxid} never arrived`)
    }
  }

  private onReadIndexOk(epoch: number, id: number, zxid: Zxid): void {
    if (this.step !== 'broadcast') return this.drop('wrong-phase', 'readIndexOk')
    if (!this.isCurrent(epoch)) return this.drop('stale-epoch', 'readIndexOk')
    const token = this.reads.get(id)
    if (token === undefined && !this.reads.has(id)) return this.drop('unknown-id', 'readIndexOk')
    this.reads.delete(id)
    this.host.state.pending.readsReady.push({ token, zxid })
  }

  /** isSynced tells whether the log now is the leader's history (sync applied). */
  private isSynced(): boolean {
    return (
      this.step === 'awaitingNewLeader' ||
      this.step === 'awaitingUpToDate' ||
      this.step === 'broadcast'
    )
  }
}

/** txnsProblem checks that sync txns strictly increase after `after` and come from no epoch above `epoch`. */
function txnsProblem(txns: readonly Txn[], after: Zxid, epoch: number): string | undefined {
  let previous = after
  for (const txn of txns) {
    if (txn.zxid <= previous) return `txn ${txn.zxid} does not follow ${previous}`
    if (epochOf(txn.zxid) > epoch) return `txn ${txn.zxid} is from an epoch above ${epoch}`
    previous = txn.zxid
  }
  return undefined
}
