/**
 * PeerConfig: what a Peer needs to run, all time in ticks, all randomness from a
 * seeded generator the caller owns, and a snapshot source the leader calls when a
 * follower must be synced by SNAP. `resolveConfig` fills defaults and refuses
 * nonsense with a ConfigError naming the field.
 */
import type { ServerId, SnapshotPayload } from '../../protocol/index.js'
import { PEER_SERVER_ID_MAX } from '../../protocol/index.js'
import type { Drop } from './drop.js'
import { ConfigError } from './errors.js'

/**
 * SimBug names a deliberate protocol bug, for proving that the simulator and the
 * scenario tests can fail. Never set outside tests. Each one breaks the protocol
 * exactly as its name says:
 * - `ack-before-fsync`: followers ACK a proposal before it is durable, and the
 *   leader counts its own ACK before its own fsync.
 * - `trunc-across-epoch`: a follower holding a tail the leader lacks is sent a TRUNC
 *   to the leader's last zxid even when that point lies in a later epoch than the
 *   tail, instead of a SNAP; nothing is cut and the stale tail survives the sync.
 * - `commit-without-quorum`: the leader commits as soon as its own log is durable.
 * - `vote-ignores-zxid`: votes (and the "follower ahead of leader" check) compare
 *   currentEpoch and server id but not the last logged zxid.
 * - `apply-before-persist`: a Ready lets all its commits be applied before its
 *   persistence is done (`commitDurable` = all of them), even over a snapshot it
 *   installs, instead of only those durable here before it.
 */
export type SimBug =
  | 'ack-before-fsync'
  | 'trunc-across-epoch'
  | 'commit-without-quorum'
  | 'vote-ignores-zxid'
  | 'apply-before-persist'

/** SIM_BUGS lists every SimBug, for validating CONCLAVE_SIM_BUG in the simulator. */
export const SIM_BUGS: readonly SimBug[] = [
  'ack-before-fsync',
  'trunc-across-epoch',
  'commit-without-quorum',
  'vote-ignores-zxid',
  'apply-before-persist',
]

/** SnapshotSource returns the runtime's applied state (opaque to the core) and the zxid it reflects. */
export type SnapshotSource = () => SnapshotPayload

/** PeerConfig configures one Peer. Only `id`, `members`, `random` and `snapshotSource` are required. */
export interface PeerConfig {
  /** id is this server's id (1-255). */
  id: ServerId
  /** members are the voting members' ids, this server included. */
  members: readonly ServerId[]
  /** random returns a number in [0, 1) from a seeded generator; used only for election jitter. */
  random: () => number
  /** snapshotSource is called by a leader that must send a follower a SNAP. */
  snapshotSource: SnapshotSource
  /** leaderTimeoutTicks is the silence after which a follower leaves its leader and a leader without a quorum steps down. Default 10. */
  leaderTimeoutTicks?: number
  /** initTimeoutTicks bounds discovery plus synchronization, for leader and follower alike. Default 100. */
  initTimeoutTicks?: number
  /** leaderLinkGraceTicks is how long a follower's connection to its leader may stay closed before it starts an election. Default 2. */
  leaderLinkGraceTicks?: number
  /** electionFinalizeTicks is how long a server waits for a better vote once a quorum agrees. Default 2. */
  electionFinalizeTicks?: number
  /** electionResendTicks is the base interval for re-sending votes and FOLLOWERINFO (jittered up to twice). Default 3. */
  electionResendTicks?: number
  /** heartbeatEveryTicks is the leader's ping interval. Default 1. */
  heartbeatEveryTicks?: number
  /** diffLimitTxns is the most txns a DIFF or TRUNC may carry, and how many committed txns stay in memory. Default 1000. */
  diffLimitTxns?: number
  /** diffLimitBytes bounds the committed txns that stay in memory for DIFFs by their bytes (txnBytesBound). Default 64 MiB. */
  diffLimitBytes?: number
  /** proposalBatchMax is the most txns in one PROPOSAL message. Default 64. */
  proposalBatchMax?: number
  /**
   * peerMessageBudgetBytes is the byte budget (txnBytesBound summed) of the txns in one
   * PROPOSAL, one part of a DIFF/TRUNC/SNAP, or one pong's session ids. Default 4.25 MiB
   * (the runtime passes peerMessageBudgetBytesFor(config)).
   */
  peerMessageBudgetBytes?: number
  /**
   * onDrop, when given, is called once for every input the core ignores, with the reason
   * (drop.ts, DropReason), the sender and the message type; the counts per reason are in
   * `Peer.status().drops` either way. Like `random`, it is the caller's function: it is
   * called synchronously from inside `receive` (or `peerDisconnected`), so it must not
   * throw and must not call back into the Peer. Default: none.
   */
  onDrop?: (drop: Drop) => void
  /** bug switches on a deliberate protocol bug (tests only; see SimBug). */
  bug?: SimBug
}

/** ResolvedConfig is a PeerConfig with every default filled in and every field checked. */
export interface ResolvedConfig {
  readonly id: ServerId
  readonly members: readonly ServerId[]
  readonly random: () => number
  readonly snapshotSource: SnapshotSource
  readonly leaderTimeoutTicks: number
  readonly initTimeoutTicks: number
  readonly leaderLinkGraceTicks: number
  readonly electionFinalizeTicks: number
  readonly electionResendTicks: number
  readonly heartbeatEveryTicks: number
  readonly diffLimitTxns: number
  readonly diffLimitBytes: number
  readonly proposalBatchMax: number
  readonly peerMessageBudgetBytes: number
  /** onDrop is the caller's drop hook, or undefined. */
  readonly onDrop: ((drop: Drop) => void) | undefined
  readonly bug: SimBug | undefined
}

/** CONFIG_DEFAULTS holds the default tunables (ticks are 100 ms by default in the runtime). */
export const CONFIG_DEFAULTS = {
  leaderTimeoutTicks: 10,
  initTimeoutTicks: 100,
  leaderLinkGraceTicks: 2,
  electionFinalizeTicks: 2,
  electionResendTicks: 3,
  heartbeatEveryTicks: 1,
  diffLimitTxns: 1000,
  diffLimitBytes: 64 * 1024 * 1024,
  proposalBatchMax: 64,
  peerMessageBudgetBytes: 4 * 1024 * 1024 + 256 * 1024,
} as const

function positiveInt(name: string, value: number | undefined, fallback: number, min = 1): number {
  const v = value ?? fallback
  if (!Number.isSafeInteger(v) || v < min)
    throw new ConfigError(`${name}: expected an integer >= ${min}, got ${String(v)}`)
  return v
}

function checkMembers(id: ServerId, members: readonly ServerId[]): readonly ServerId[] {
  if (!Array.isArray(members) || members.length === 0)
    throw new ConfigError('members: expected a non-empty list of server ids')
  for (const m of [id, ...members]) {
    if (!Number.isInteger(m) || m < 1 || m > PEER_SERVER_ID_MAX) {
      throw new ConfigError(
        `members: server ids are integers in [1, ${PEER_SERVER_ID_MAX}], got ${String(m)}`,
      )
    }
  }
  if (new Set(members).size !== members.length)
    throw new ConfigError('members: duplicate server id')
  if (!members.includes(id))
    throw new ConfigError(`members: this server's id ${id} is not a member`)
  return Object.freeze([...members].sort((a, b) => a - b))
}

/** resolveConfig checks a PeerConfig and fills in defaults; throws ConfigError naming the bad field. */
export function resolveConfig(config: PeerConfig): ResolvedConfig {
  const members = checkMembers(config.id, config.members)
  if (typeof config.random !== 'function')
    throw new ConfigError('random: expected a function returning [0, 1)')
  if (typeof config.snapshotSource !== 'function')
    throw new ConfigError('snapshotSource: expected a function')
  if (config.onDrop !== undefined && typeof config.onDrop !== 'function')
    throw new ConfigError('onDrop: expected a function')
  if (config.bug !== undefined && !SIM_BUGS.includes(config.bug)) {
    throw new ConfigError(`bug: expected one of ${SIM_BUGS.join(', ')}, got ${String(config.bug)}`)
  }
  const d = CONFIG_DEFAULTS
  const leaderTimeoutTicks = positiveInt(
    'leaderTimeoutTicks',
    config.leaderTimeoutTicks,
    d.leaderTimeoutTicks,
    2,
  )
  const initTimeoutTicks = positiveInt(
    'initTimeoutTicks',
    config.initTimeoutTicks,
    d.initTimeoutTicks,
    2,
  )
  if (initTimeoutTicks < leaderTimeoutTicks)
    throw new ConfigError('initTimeoutTicks: must be at least leaderTimeoutTicks')
  return Object.freeze({
    id: config.id,
    members,
    random: config.random,
    snapshotSource: config.snapshotSource,
    leaderTimeoutTicks,
    initTimeoutTicks,
    leaderLinkGraceTicks: positiveInt(
      'leaderLinkGraceTicks',
      config.leaderLinkGraceTicks,
      d.leaderLinkGraceTicks,
      0,
    ),
    electionFinalizeTicks: positiveInt(
      'electionFinalizeTicks',
      config.electionFinalizeTicks,
      d.electionFinalizeTicks,
      0,
    ),
    electionResendTicks: positiveInt(
      'electionResendTicks',
      config.electionResendTicks,
      d.electionResendTicks,
    ),
    heartbeatEveryTicks: positiveInt(
      'heartbeatEveryTicks',
      config.heartbeatEveryTicks,
      d.heartbeatEveryTicks,
    ),
    diffLimitTxns: positiveInt('diffLimitTxns', config.diffLimitTxns, d.diffLimitTxns),
    diffLimitBytes: positiveInt('diffLimitBytes', config.diffLimitBytes, d.diffLimitBytes),
    proposalBatchMax: positiveInt('proposalBatchMax', config.proposalBatchMax, d.proposalBatchMax),
    peerMessageBudgetBytes: positiveInt(
      'peerMessageBudgetBytes',
      config.peerMessageBudgetBytes,
      d.peerMessageBudgetBytes,
    ),
    onDrop: config.onDrop,
    bug: config.bug,
  })
}

/** jitterTicks returns a delay in [base, 2 × base) drawn from the seeded generator. */
export function jitterTicks(base: number, random: () => number): number {
  const r = random()
  const unit = Number.isFinite(r) && r >= 0 && r < 1 ? r : 0
  return base + Math.floor(unit * base)
}
