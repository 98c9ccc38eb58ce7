/**
 * Peer: one ensemble member's ZAB state machine (design.md §4), synchronous,
 * deterministic and free of I/O, in the style of etcd raft's RawNode. The runtime
 * (or a simulator, or a test) feeds it ticks, peer messages and client work, and
 * carries out the Ready it returns — see ready.ts for the exact contract:
 *
 * ```ts
 * const peer = new Peer(config, restoredState)
 * // on every tick:            peer.tick()
 * // on every peer message:    peer.receive(from, decodedMessage)
 * // leader, per prepared txn: peer.propose({ ...txn, zxid: peer.nextZxid() })
 * // whenever peer.hasReady(): const rd = peer.ready(); act on rd; peer.advance(rd)
 * ```
 *
 * Messages from peers are untrusted: anything stale, duplicated, out of phase or
 * from an unknown id is dropped, never thrown on. API misuse by the caller raises a
 * CoreError; a broken internal invariant raises an AssertionError.
 */
import type {
  ForwardedRequest,
  PeerMessage,
  ServerId,
  SessionId,
  Txn,
  Zxid,
} from '../../protocol/index.js'
import { resolveConfig, type PeerConfig, type ResolvedConfig } from './config.js'
import { LookingRole } from './election.js'
import type { DropCounts } from './drop.js'
import { CoreError, assert } from './errors.js'
import { FollowingRole, type FollowerStep } from './follower.js'
import type { FollowerProgress } from './leader-progress.js'
import { LeadingRole } from './leader.js'
import type { Phase, Ready, Role } from './ready.js'
import type { RoleBehavior, RoleHost } from './role.js'
import { ReplicaState, checkRestoredState, type PersistentState } from './state.js'
import type { Vote } from './vote.js'

/** PeerStatus is a snapshot of a Peer's state for status pages, simulators and invariant checks. */
export interface PeerStatus {
  readonly id: ServerId
  readonly role: Role
  readonly phase: Phase
  /** round is the election round (logical clock). */
  readonly round: number
  readonly leaderId: ServerId | undefined
  /** epoch is the epoch of the leadership followed or led, once known. */
  readonly epoch: number | undefined
  readonly established: boolean
  readonly acceptedEpoch: number
  readonly currentEpoch: number
  readonly durableAcceptedEpoch: number
  readonly durableCurrentEpoch: number
  readonly lastLoggedZxid: Zxid
  readonly durableZxid: Zxid
  readonly lastCommittedZxid: Zxid
  readonly appliedZxid: Zxid
  readonly logBaseZxid: Zxid
  readonly logLength: number
  readonly tick: number
  /** vote is the vote backed while looking. */
  readonly vote: Vote | undefined
  /** followerStep is the handshake step while following. */
  readonly followerStep: FollowerStep | undefined
  /** initialHistoryZxid is where the led epoch's inherited history ends (leaders only). */
  readonly initialHistoryZxid: Zxid | undefined
  /** followers is the leader's record of each follower (leaders only). */
  readonly followers: readonly FollowerProgress[]
  /**
   * drops counts the inputs this server ignored since it started, by reason (drop.ts,
   * DropReason). A plain frozen object; a reason never seen has no entry (read `?? 0`).
   */
  readonly drops: DropCounts
  /** lastTransition says why the role last changed (e.g. "leader 2 silent for 10 ticks"), for logs and failing tests. */
  readonly lastTransition: string
}

/** Peer is one ensemble member's ZAB state machine. */
export class Peer {
  readonly config: ResolvedConfig
  private readonly state: ReplicaState
  private readonly host: RoleHost
  private behavior: RoleBehavior
  private electionRound = 0
  private lastTransition = 'started'
  private lastSoft: { role: Role; leaderId: ServerId | undefined; established: boolean } | undefined

  /** The constructor restarts a server from what survived on disk and starts an election. */
  constructor(config: PeerConfig, restored: PersistentState) {
    this.config = resolveConfig(config)
    checkRestoredState(restored)
    this.state = new ReplicaState(this.config, restored)
    this.host = this.makeHost()
    this.electionRound = 1
    const looking = new LookingRole(this.host)
    this.behavior = looking
    looking.start()
  }

  // ------------------------------------------------------------------ inputs

  /** tick advances logical time by one tick: timeouts, heartbeats, vote re-sends. */
  tick(): void {
    this.state.tickNow += 1
    this.behavior.tick()
    this.checkCheapInvariants()
  }

  /**
   * receive handles a message from member `from`. Messages from non-members or
   * from this server itself, and anything that makes no sense now, are dropped.
   */
  receive(from: ServerId, message: PeerMessage): void {
    const type = typeOf(message)
    if (from === this.config.id) return this.state.drop('from-self', from, type)
    if (!this.state.quorum.isVoter(from)) return this.state.drop('not-a-member', from, type)
    if (typeof message !== 'object' || message === null)
      return this.state.drop('malformed', from, undefined)
    if (message.type === 'vote') this.behavior.onVote(from, message)
    else this.behavior.receive(from, message)
    this.checkCheapInvariants()
  }

  /**
   * peerDisconnected tells the core that the connection to member `id` closed. A
   * follower whose leader that is starts an election if the connection is still closed
   * `leaderLinkGraceTicks` later, instead of waiting out `leaderTimeoutTicks` of silence
   * (ZooKeeper's followers act when their leader's socket closes): a killed leader is
   * replaced in a fraction of the timeout, and a link that merely flapped costs nothing.
   * The member is also known unreachable to elections (see election.ts).
   */
  peerDisconnected(id: ServerId): void {
    if (id === this.config.id) return this.state.drop('from-self', id, undefined)
    if (!this.state.quorum.isVoter(id)) return this.state.drop('not-a-member', id, undefined)
    this.state.unreachable.add(id)
    if (this.behavior instanceof FollowingRole && this.behavior.leaderId === id)
      this.behavior.onLeaderLink(false)
    else if (this.behavior instanceof LookingRole) this.behavior.recheck()
    this.checkCheapInvariants()
  }

  /** peerConnected tells the core that the connection to member `id` is open again (see peerDisconnected). */
  peerConnected(id: ServerId): void {
    this.state.unreachable.delete(id)
    if (this.behavior instanceof FollowingRole && this.behavior.leaderId === id)
      this.behavior.onLeaderLink(true)
  }

  /**
   * storageStalled tells the core whether the runtime can persist. While it cannot
   * (a full disk: the in-flight Ready's persistence is being retried), this server
   * leaves any leadership it leads or follows — a leader steps down so a member that
   * can write leads, a follower stops acknowledging — and stays silent in elections.
   * When persistence works again it starts a new election and rejoins. Persistence
   * already handed out stays owed: the runtime still completes and advances that Ready.
   */
  storageStalled(stalled: boolean): void {
    if (stalled === this.state.storageStalled) return
    this.state.storageStalled = stalled
    this.becomeLooking(
      stalled ? 'storage stalled: cannot write to the data directory' : 'storage writable again',
    )
    this.checkCheapInvariants()
  }

  /**
   * propose logs a prepared txn and broadcasts it. Leader only, once established;
   * `txn.zxid` must equal `nextZxid()`. Throws CoreError NOT_LEADER, ZXID_MISMATCH
   * or COUNTER_EXHAUSTED. The core never looks inside the txn beyond its zxid.
   */
  propose(txn: Txn): void {
    if (!(this.behavior instanceof LeadingRole))
      throw new CoreError('NOT_LEADER', `server ${this.config.id} is ${this.behavior.role}`)
    this.behavior.propose(txn)
    this.checkCheapInvariants()
  }

  /** nextZxid is the zxid the next proposal must carry. Throws CoreError NOT_LEADER or COUNTER_EXHAUSTED. */
  nextZxid(): Zxid {
    if (!(this.behavior instanceof LeadingRole))
      throw new CoreError('NOT_LEADER', `server ${this.config.id} is ${this.behavior.role}`)
    return this.behavior.nextZxid()
  }

  /** canPropose tells whether `propose` would be accepted now. */
  canPropose(): boolean {
    if (!(this.behavior instanceof LeadingRole) || !this.behavior.established) return false
    try {
      this.behavior.nextZxid()
      return true
    } catch {
      return false
    }
  }

  /**
   * forward hands a client request (writes, session create/close) to the leader:
   * on a follower it is sent to the leader, on the leader it is listed in the next
   * Ready's `requests`. Returns false when no established leader can take it now
   * (answer the client with CONNECTION_LOSS or NOT_SERVING; it did not happen).
   */
  forward(request: ForwardedRequest): boolean {
    if (this.behavior instanceof FollowingRole || this.behavior instanceof LeadingRole)
      return this.behavior.forward(request)
    return false
  }

  /**
   * readIndex starts a linearizable read (`sync`, `get(..., { linearizable })`).
   * A later Ready lists `{ token, zxid }` in `readsReady` — answer once `zxid` is
   * applied — or the token in `readsFailed`. Returns false when the read cannot
   * start (not serving); nothing will be reported for it then.
   */
  readIndex(token: unknown): boolean {
    if (this.behavior instanceof FollowingRole || this.behavior instanceof LeadingRole)
      return this.behavior.readIndex(token)
    return false
  }

  /** touchSessions reports client activity: a follower carries it to the leader in its next pong; a leader lists it in its next Ready. */
  touchSessions(ids: Iterable<SessionId>): void {
    if (this.behavior instanceof FollowingRole) this.behavior.touchSessions(ids)
    else if (this.behavior instanceof LeadingRole)
      for (const id of ids) this.state.pending.sessionsTouched.add(id)
  }

  // ------------------------------------------------------------------ Ready / advance

  /** hasReady tells whether `ready()` has anything to hand over (false while a Ready is outstanding). */
  hasReady(): boolean {
    if (this.state.hasReadyInFlight) return false
    this.behavior.flush()
    return !this.state.pending.isEmpty() || this.softStateChanged()
  }

  /** ready hands over the work accumulated so far. Throws CoreError READY_OUTSTANDING before the previous one was advanced. */
  ready(): Ready {
    if (this.state.hasReadyInFlight)
      throw new CoreError(
        'READY_OUTSTANDING',
        'advance() the previous Ready before asking for another',
      )
    this.behavior.flush()
    const soft = {
      role: this.behavior.role,
      leaderId: this.behavior.leaderId,
      established: this.behavior.established,
    }
    const ready = this.state.takeReady(soft)
    this.lastSoft = soft
    this.behavior.afterTakeReady()
    return ready
  }

  /** advance tells the core that `done` was carried out entirely. Throws CoreError READY_MISMATCH for any other object. */
  advance(done: Ready): void {
    if (!this.state.isInFlight(done))
      throw new CoreError(
        'READY_MISMATCH',
        'advance() must be given the Ready last returned by ready()',
      )
    this.state.completeReady()
    this.behavior.afterAdvance()
    this.checkCheapInvariants()
  }

  // ------------------------------------------------------------------ inspection

  /** role is this server's role now. */
  get role(): Role {
    return this.behavior.role
  }

  /** leaderId is the leader followed or this server's id when leading. */
  get leaderId(): ServerId | undefined {
    return this.behavior.leaderId
  }

  /** established is true while serving (established leader, or follower after UPTODATE). */
  get established(): boolean {
    return this.behavior.established
  }

  /** epoch is the epoch of the leadership followed or led, once known. */
  get epoch(): number | undefined {
    return this.behavior.epoch
  }

  /** round is the election round. */
  get round(): number {
    return this.electionRound
  }

  /** logTxns returns the txns held in memory after `status().logBaseZxid`, oldest first (a copy). */
  logTxns(): Txn[] {
    return this.state.log.all()
  }

  /** status returns a snapshot of this server's state. */
  status(): PeerStatus {
    const s = this.state
    const b = this.behavior
    return {
      id: this.config.id,
      role: b.role,
      phase: b.phase,
      round: this.electionRound,
      leaderId: b.leaderId,
      epoch: b.epoch,
      established: b.established,
      acceptedEpoch: s.acceptedEpoch,
      currentEpoch: s.currentEpoch,
      durableAcceptedEpoch: s.durableAcceptedEpoch,
      durableCurrentEpoch: s.durableCurrentEpoch,
      lastLoggedZxid: s.lastLoggedZxid,
      durableZxid: s.durableZxid,
      lastCommittedZxid: s.lastCommittedZxid,
      appliedZxid: s.appliedZxid,
      logBaseZxid: s.log.base,
      logLength: s.log.length,
      tick: s.tickNow,
      vote: b instanceof LookingRole ? b.currentVote : undefined,
      followerStep: b instanceof FollowingRole ? b.followerStep : undefined,
      initialHistoryZxid:
        b instanceof LeadingRole && b.phase !== 'discovery' ? b.initialHistory : undefined,
      followers: b instanceof LeadingRole ? b.progress() : [],
      drops: s.drops(),
      lastTransition: this.lastTransition,
    }
  }

  // ------------------------------------------------------------------ role changes

  /** makeHost gives the roles their only handle on the Peer: the shared state and role changes. */
  private makeHost(): RoleHost {
    const peer = this
    return {
      state: this.state,
      get round() {
        return peer.electionRound
      },
      becomeLooking: (reason) => this.becomeLooking(reason),
      becomeFollower: (leader, leaderRound) => this.becomeFollower(leader, leaderRound),
      becomeLeader: () => this.becomeLeader(),
      adoptRound: (round) => {
        assert(
          round >= this.electionRound,
          `election round may not go back from ${this.electionRound} to ${round}`,
        )
        this.electionRound = round
      },
    }
  }

  private becomeLooking(reason: string): void {
    const wasServing = this.behavior.role !== 'looking'
    this.behavior.leave()
    if (wasServing) this.state.pending.leaderLost = true
    this.electionRound += 1
    this.lastTransition = reason
    const looking = new LookingRole(this.host)
    this.behavior = looking
    looking.start()
  }

  private becomeFollower(leader: ServerId, leaderRound: number): void {
    assert(leader !== this.config.id, 'a server cannot follow itself')
    this.behavior.leave()
    this.lastTransition = `following ${leader}`
    const following = new FollowingRole(this.host, leader, leaderRound)
    this.behavior = following
    following.start()
  }

  private becomeLeader(): void {
    this.behavior.leave()
    this.lastTransition = 'leading'
    const leading = new LeadingRole(this.host)
    this.behavior = leading
    leading.start()
  }

  private softStateChanged(): boolean {
    const last = this.lastSoft
    const b = this.behavior
    return (
      last === undefined ||
      last.role !== b.role ||
      last.leaderId !== b.leaderId ||
      last.established !== b.established
    )
  }

  /** checkCheapInvariants asserts the O(1) invariants after every input. */
  private checkCheapInvariants(): void {
    const s = this.state
    assert(
      s.currentEpoch <= s.acceptedEpoch,
      () => `currentEpoch ${s.currentEpoch} > acceptedEpoch ${s.acceptedEpoch}`,
    )
    assert(s.durableCurrentEpoch <= s.currentEpoch, 'durable currentEpoch ahead of currentEpoch')
    assert(
      s.durableAcceptedEpoch <= s.acceptedEpoch,
      'durable acceptedEpoch ahead of acceptedEpoch',
    )
    assert(
      s.lastCommittedZxid <= s.lastLoggedZxid,
      () => `committed ${s.lastCommittedZxid} > logged ${s.lastLoggedZxid}`,
    )
    assert(
      s.durableZxid <= s.lastLoggedZxid,
      () => `durable ${s.durableZxid} > logged ${s.lastLoggedZxid}`,
    )
    assert(
      s.appliedZxid <= s.lastCommittedZxid,
      () => `applied ${s.appliedZxid} > committed ${s.lastCommittedZxid}`,
    )
  }
}

/** typeOf reads a message's type for a drop report, without trusting the message to be an object. */
function typeOf(message: unknown): string | undefined {
  if (typeof message !== 'object' || message === null) return undefined
  const type = (message as { type?: unknown }).type
  return typeof type === 'string' ? type : undefined
}
