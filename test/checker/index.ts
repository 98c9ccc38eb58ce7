/**
 * Public surface of the linearizability and session-guarantee checkers, for the
 * simulator (test/sim) and the process-level fault tests (test/integration).
 */
export * from './history.js'
export * from './model.js'
export { checkLinearizable, DEFAULT_MAX_STEPS_PER_PATH, explainIllegal } from './linearizable.js'
export type {
  CandidateExplanation,
  CheckResult,
  IllegalWitness,
  LinearizabilityOptions,
  LinearizabilityReport,
  PathReport,
  PathUnknownReason,
} from './linearizable.js'
export { checkSessionGuarantees } from './session-guarantees.js'
export type { SessionReport, SessionViolation, SessionViolationKind } from './session-guarantees.js'
export * from './format.js'
export { simulateHistory } from './simulated-history.js'
export type { RandomSource, SimulatedFault, SimulatedHistoryOptions } from './simulated-history.js'
export { searchLinearization } from './wgl-search.js'
export type { SearchBudget, SearchOutcome, SearchVerdict, UnknownReason } from './wgl-search.js'
export { seededRandom } from './seeded-random.js'
export { checkWatchStream, renderWatchStreamReport } from './watch-stream.js'
export type {
  Anchor,
  Chain,
  ChildCreates,
  Compaction,
  Life,
  Note,
  StreamEvent,
  WatchStreamExpectation,
  WatchStreamReport,
} from './watch-stream.js'
