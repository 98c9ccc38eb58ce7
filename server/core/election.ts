/**
 * LookingRole: fast leader election (ZooKeeper's FastLeaderElection), driven by
 * ticks instead of threads and timeouts.
 *
 * Each looking server starts a round by voting for itself and broadcasting the vote.
 * A vote from a newer round resets the round; a better vote in the same round is
 * adopted and re-broadcast (votes are totally ordered: see vote.ts). Once the votes
 * received from a quorum, this server's own included, equal its current vote, it
 * waits `electionFinalizeTicks` for a better one and then decides: leading if it is
 * the chosen leader, following otherwise.
 *
 * A server that comes up while a leader is established gets FOLLOWING/LEADING
 * answers instead of votes. It joins that leader, without a new election, once a
 * quorum of answers names the same leader and the leader itself says LEADING
 * (ZOOKEEPER-1732: a quorum of followers alone may name a leader that is gone).
 *
 * Lost messages are healed by re-sending the current vote at jittered intervals
 * drawn from the seeded generator, so servers do not re-send in lockstep.
 *
 * A server whose storage is stalled (Peer.storageStalled) is silent: it neither votes
 * nor answers votes, so the others elect among themselves as if it were down. It
 * could not write the epochs that leading or following requires anyway.
 */
import type { PeerMessage, ServerId, VoteMessage } from '../../protocol/index.js'
import { jitterTicks } from './config.js'
import { assert } from './errors.js'
import type { RoleBehavior, RoleHost } from './role.js'
import type { Phase, Role } from './ready.js'
import { betterVote, compareVotes, sameVote, type Vote } from './vote.js'

/** Answer is what a FOLLOWING or LEADING server said about the leader it serves. */
interface Answer {
  readonly state: 'following' | 'leading'
  readonly leader: ServerId
  readonly round: number
}

/** LookingRole runs one server's side of leader election. */
export class LookingRole implements RoleBehavior {
  readonly role: Role = 'looking'
  readonly phase: Phase = 'election'
  readonly leaderId = undefined
  readonly epoch = undefined
  readonly established = false
  private readonly host: RoleHost
  private vote: Vote
  /** votes holds the latest vote of this round from each looking server, this one included. */
  private readonly votes = new Map<ServerId, Vote>()
  private readonly answers = new Map<ServerId, Answer>()
  private finalizeAtTick: number | undefined
  private resendAtTick: number
  private readonly startTick: number
  /** startRound is the election round this role began in; rounds only go up from there. */
  private readonly startRound: number
  private started = false

  constructor(host: RoleHost) {
    this.host = host
    this.startTick = host.state.tickNow
    this.startRound = host.round
    this.vote = this.ownVote()
    this.resendAtTick = host.state.tickNow
  }

  /** currentVote is the vote this server currently backs (for status and tests). */
  get currentVote(): Vote {
    return this.vote
  }

  /** start announces this server's vote and checks whether it alone is already a quorum. */
  start(): void {
    assert(!this.started && this.votes.size === 0, 'an election started twice')
    assert(this.host.round >= 1, `election round ${this.host.round} before the first`)
    this.started = true
    if (this.host.state.storageStalled) return
    this.votes.set(this.host.state.config.id, this.vote)
    this.broadcastVote()
    this.checkQuorum()
  }

  onVote(from: ServerId, message: VoteMessage): void {
    const state = this.host.state
    this.checkEntry(from)
    if (state.storageStalled) return state.drop('storage-stalled', from, message.type)
    // A vote for a server outside the ensemble can never be carried out: ignore it.
    if (!state.quorum.isVoter(message.leader))
      return state.drop('vote-for-non-member', from, message.type)
    if (message.state === 'looking') this.onLookingVote(from, message)
    else this.onAnswer(from, message)
  }

  receive(from: ServerId, message: PeerMessage): void {
    this.checkEntry(from)
    // Only votes matter while looking; everything else belongs to a leadership we are not part of.
    this.host.state.drop('not-for-role', from, message.type)
  }

  tick(): void {
    this.checkEntry(undefined)
    if (this.host.state.storageStalled) return
    const now = this.host.state.tickNow
    if (now >= this.resendAtTick) this.broadcastVote()
    if (this.finalizeAtTick !== undefined && now >= this.finalizeAtTick) return this.decide()
    this.maybeJoin()
  }

  flush(): void {}
  afterTakeReady(): void {}
  afterAdvance(): void {}
  leave(): void {}

  /**
   * checkEntry asserts what holds whenever an input reaches the election: the round never
   * went below the one it started in, our vote is for a member, and a message comes from
   * another member (the Peer drops the rest).
   */
  private checkEntry(from: ServerId | undefined): void {
    const state = this.host.state
    assert(
      this.host.round >= this.startRound,
      `election round went back from ${this.startRound} to ${this.host.round}`,
    )
    assert(state.quorum.isVoter(this.vote.leader), `voting for ${this.vote.leader}, not a member`)
    if (from !== undefined) {
      assert(
        from !== state.config.id && state.quorum.isVoter(from),
        `vote from ${from}, not another member`,
      )
    }
  }

  private ownVote(): Vote {
    const state = this.host.state
    return { leader: state.config.id, epoch: state.currentEpoch, zxid: state.lastLoggedZxid }
  }

  private onLookingVote(from: ServerId, message: VoteMessage): void {
    const theirs: Vote = {
      leader: message.leader,
      epoch: message.leaderEpoch,
      zxid: message.leaderZxid,
    }
    const bug = this.host.state.config.bug
    if (message.round < this.host.round) {
      // A server behind on rounds: tell it where the election stands. Its vote does not count.
      this.host.state.send(from, this.voteMessage())
      return this.host.state.drop('stale-round', from, message.type)
    }
    if (message.round > this.host.round) {
      // A newer election: forget this round's votes and start over from our own vote.
      this.host.adoptRound(message.round)
      this.votes.clear()
      this.vote = betterVote(this.ownVote(), theirs, bug)
      this.votes.set(this.host.state.config.id, this.vote)
      this.finalizeAtTick = undefined
      this.broadcastVote()
    } else {
      const order = compareVotes(theirs, this.vote, bug)
      if (order > 0) this.changeVote(theirs)
      // A worse vote in our round: tell its sender about the better one now rather than
      // at our next re-send, so a quorum does not finalize without having heard of it.
      if (order < 0) this.host.state.send(from, this.voteMessage())
    }
    if (this.host.state.quorum.isVoter(from)) this.votes.set(from, theirs)
    this.checkQuorum()
  }

  private onAnswer(from: ServerId, message: VoteMessage): void {
    const state = message.state === 'leading' ? 'leading' : 'following'
    this.answers.set(from, { state, leader: message.leader, round: message.round })
    this.maybeJoin()
  }

  /**
   * maybeJoin follows a leader that a quorum of answers names and that itself says
   * LEADING. Never in the tick this election started: a server that just left a
   * leader (or was refused by it) retries at most once a tick, never in a busy loop.
   *
   * A leader elected in our own round also counts our own vote for it, as ZooKeeper's
   * recvset does: a server that voted for the winner but missed a vote the others
   * counted (a lost message) hears only answers from then on, and without its own
   * vote those may never make a quorum — while the leader waits for it in discovery
   * until initTimeoutTicks.
   */
  private maybeJoin(): void {
    if (this.host.state.tickNow <= this.startTick) return
    const self = this.host.state.config.id
    for (const [leader, leaderAnswer] of this.answers) {
      if (leader === self || leaderAnswer.state !== 'leading' || leaderAnswer.leader !== leader)
        continue
      const backers: ServerId[] = []
      for (const [id, answer] of this.answers) if (answer.leader === leader) backers.push(id)
      if (leaderAnswer.round === this.host.round && this.vote.leader === leader) backers.push(self)
      if (this.host.state.quorum.isQuorum(backers))
        return this.host.becomeFollower(leader, leaderAnswer.round)
    }
  }

  private changeVote(vote: Vote): void {
    const bug = this.host.state.config.bug
    assert(compareVotes(vote, this.vote, bug) >= 0, 'a vote may only change for a better one')
    if (sameVote(vote, this.vote)) return
    this.vote = vote
    this.votes.set(this.host.state.config.id, vote)
    this.finalizeAtTick = undefined
    this.broadcastVote()
  }

  private checkQuorum(): void {
    const agreeing: ServerId[] = []
    for (const [id, vote] of this.votes) if (sameVote(vote, this.vote)) agreeing.push(id)
    if (!this.host.state.quorum.isQuorum(agreeing)) {
      this.finalizeAtTick = undefined
      return
    }
    const finalizeTicks = this.host.state.config.electionFinalizeTicks
    if (finalizeTicks === 0 || this.everyReachableAgrees()) return this.decide()
    this.finalizeAtTick ??= this.host.state.tickNow + finalizeTicks
  }

  /**
   * everyReachableAgrees: every member has voted for our candidate, except members
   * whose connection is closed. No better vote can still arrive, so waiting out the
   * finalize ticks would only delay the election. (Safety never rests on this wait:
   * discovery refuses a leader behind a follower.)
   */
  private everyReachableAgrees(): boolean {
    const state = this.host.state
    return state.config.members.every(
      (id) =>
        state.unreachable.has(id) ||
        (this.votes.has(id) && sameVote(this.votes.get(id)!, this.vote)),
    )
  }

  /** recheck re-evaluates the votes after a member became unreachable. */
  recheck(): void {
    if (this.votes.size > 0) this.checkQuorum()
  }

  private decide(): void {
    this.finalizeAtTick = undefined
    const state = this.host.state
    const agreeing: ServerId[] = []
    for (const [id, vote] of this.votes) if (sameVote(vote, this.vote)) agreeing.push(id)
    assert(state.quorum.isQuorum(agreeing), `deciding for ${this.vote.leader} without a quorum`)
    const self = state.config.id
    if (this.vote.leader === self) return this.host.becomeLeader()
    return this.host.becomeFollower(this.vote.leader, this.host.round)
  }

  private voteMessage(): PeerMessage {
    assert(
      this.host.state.quorum.isVoter(this.vote.leader),
      `sending a vote for ${this.vote.leader}, not a member`,
    )
    return {
      type: 'vote',
      round: this.host.round,
      state: 'looking',
      leader: this.vote.leader,
      leaderZxid: this.vote.zxid,
      leaderEpoch: this.vote.epoch,
    }
  }

  private broadcastVote(): void {
    const state = this.host.state
    state.broadcast(this.voteMessage())
    this.resendAtTick =
      state.tickNow + jitterTicks(state.config.electionResendTicks, state.config.random)
  }
}
