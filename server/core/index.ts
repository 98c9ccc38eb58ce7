/**
 * The ZAB core: a pure, synchronous, deterministic state machine per ensemble member
 * (design.md §4). The runtime feeds it ticks, peer messages and client work and
 * carries out the Ready it returns; see peer.ts for usage and ready.ts for the contract.
 */
export { Peer, type PeerStatus } from './peer.js'
export { AFTER_PERSIST_TYPES, type PersistentState } from './state.js'
export { DROP_REASONS, type Drop, type DropCounts, type DropReason } from './drop.js'
export {
  CONFIG_DEFAULTS,
  SIM_BUGS,
  resolveConfig,
  type PeerConfig,
  type ResolvedConfig,
  type SimBug,
  type SnapshotSource,
} from './config.js'
export type { EpochState, Phase, PersistWork, ReadResult, Ready, Role } from './ready.js'
export {
  AssertionError,
  ConfigError,
  CoreError,
  RestoreError,
  type CoreErrorCode,
} from './errors.js'
export { checkEnsembleInvariants, checkInvariants } from './invariants.js'
export { QuorumSpec } from './quorum.js'
export { compareHistories, compareVotes, isAhead, type HistoryKey, type Vote } from './vote.js'
export { planSync, type SyncPlan } from './sync-plan.js'
export { TxnLog } from './txn-log.js'
export type { FollowerProgress, FollowerStage } from './leader-progress.js'
export type { FollowerStep } from './follower.js'
