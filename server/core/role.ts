/**
 * The seam between the Peer and its role objects (looking, following, leading),
 * like etcd raft's swappable step functions: the Peer holds exactly one RoleBehavior
 * and dispatches ticks and messages to it; a role changes roles only through the
 * RoleHost, and returns at once after doing so.
 */
import type { PeerMessage, ServerId } from '../../protocol/index.js'
import type { Phase, Role } from './ready.js'
import type { ReplicaState } from './state.js'

/** RoleHost is what a role may ask of the Peer that owns it. */
export interface RoleHost {
  readonly state: ReplicaState
  /** round is the current election round (ZooKeeper's logical clock). */
  readonly round: number
  /** becomeLooking starts a new election round. */
  becomeLooking(reason: string): void
  /** becomeFollower follows `leader`, decided in (or learned from answers of) `leaderRound`. */
  becomeFollower(leader: ServerId, leaderRound: number): void
  /** becomeLeader starts leading: discovery first. */
  becomeLeader(): void
  /** adoptRound raises the election round to `round` (a looking peer saw a newer election). */
  adoptRound(round: number): void
}

/** RoleBehavior is one role's handling of messages, ticks and Ready hand-offs. */
export interface RoleBehavior {
  readonly role: Role
  readonly phase: Phase
  /** leaderId is the leader followed or this server itself when leading. */
  readonly leaderId: ServerId | undefined
  /** epoch is the epoch of the leadership followed or led, once known. */
  readonly epoch: number | undefined
  /** established is true while serving clients (established leader, or follower after UPTODATE). */
  readonly established: boolean
  /** receive handles a message other than a vote (votes are the Peer's). */
  receive(from: ServerId, message: PeerMessage): void
  /** onVote handles a vote addressed to this role. */
  onVote(from: ServerId, message: Extract<PeerMessage, { type: 'vote' }>): void
  /** tick advances the role's timers by one tick. */
  tick(): void
  /** flush moves work the role batches (proposals, acks, commits) into the pending Ready. */
  flush(): void
  /** afterTakeReady runs once a Ready was handed out. */
  afterTakeReady(): void
  /** afterAdvance runs once the runtime finished a Ready (durable positions may have moved). */
  afterAdvance(): void
  /** leave runs when the Peer switches to another role: fail what can no longer complete. */
  leave(): void
}

/**
 * answerLookingVote tells a LOOKING server which leadership this one serves, so a
 * late or restarted server can join it without a new election. Non-looking
 * messages are never answered, so two established servers cannot ping-pong.
 */
export function answerLookingVote(
  host: RoleHost,
  from: ServerId,
  message: Extract<PeerMessage, { type: 'vote' }>,
  answer: { state: 'following' | 'leading'; leader: ServerId; epoch: number },
): void {
  // An answer reaching a server that is not looking: only looking servers act on answers.
  if (message.state !== 'looking') return host.state.drop('not-for-role', from, message.type)
  host.state.send(from, {
    type: 'vote',
    round: host.round,
    state: answer.state,
    leader: answer.leader,
    leaderZxid: host.state.lastLoggedZxid,
    leaderEpoch: answer.epoch,
  })
}
