/**
 * checkLinearizable: is a recorded history of znode operations linearizable?
 *
 * The history is split by path (P-compositionality: a product of independent
 * per-path registers is linearizable iff every per-path sub-history is), then each
 * path is searched with Wing-Gong-Lowe (see wgl-search.ts). Plain reads are left out
 * (they may be stale by design; checkSessionGuarantees covers them), and so are reads
 * whose outcome is unknown (they constrain nothing). Unknown-outcome writes stay in:
 * they may take effect at any point after their call, or never.
 *
 * The result is 'illegal' if any path is illegal, else 'unknown' if any search ran out
 * of budget, else 'ok'. Callers must treat 'unknown' as a failure, never as a pass.
 */
import {
  effectiveReturnTime,
  HistoryError,
  validateHistory,
  type History,
  type Operation,
} from './history.js'
import { ABSENT, applyInput, type ModelOutcome, outcomeMatches, type ZnodeState } from './model.js'
import { searchLinearization, type SearchVerdict, type UnknownReason } from './wgl-search.js'

/** CheckResult is the verdict of a check; 'unknown' means the budget ran out and is a failure. */
export type CheckResult = SearchVerdict

/** PathUnknownReason says why a path is 'unknown': a budget ran out, or it was skipped after an earlier illegal path. */
export type PathUnknownReason = UnknownReason | 'skipped'

/** LinearizabilityOptions tunes the search budget; every field is optional. */
export interface LinearizabilityOptions {
  /** maxStepsPerPath bounds each path's search (list positions visited); default {@link DEFAULT_MAX_STEPS_PER_PATH}. */
  readonly maxStepsPerPath?: number
  /** timeBudgetMs bounds the whole check; needs `now`, since this library never reads a clock itself. */
  readonly timeBudgetMs?: number
  /** now returns a monotonic time in ms (e.g. `performance.now`); only used with `timeBudgetMs`. */
  readonly now?: () => number
  /** stopAtFirstIllegal skips the remaining paths once one is illegal; default false. */
  readonly stopAtFirstIllegal?: boolean
}

/** DEFAULT_MAX_STEPS_PER_PATH is generous: clean histories of thousands of ops per path need far fewer. */
export const DEFAULT_MAX_STEPS_PER_PATH = 5_000_000

/** CandidateExplanation is one op that could have come next after the longest prefix. */
export interface CandidateExplanation {
  readonly op: Operation
  /** expected is what the model answers for this op right after the prefix. */
  readonly expected: ModelOutcome
  /** fits is true when the observed reply agrees with `expected` but no continuation from there worked. */
  readonly fits: boolean
}

/**
 * IllegalWitness explains an illegal path: the longest prefix the search could
 * linearize, the state it leaves, and the ops that could have come next, none of
 * which leads to a full linearization. Usually one of the candidates whose reply does
 * not fit (`fits: false`) is the culprit, or the prefix's last write.
 */
export interface IllegalWitness {
  readonly path: string
  /** prefix is the longest linearizable prefix found, in linearization order. */
  readonly prefix: readonly Operation[]
  readonly stateAfterPrefix: ZnodeState
  /** candidates are the remaining ops called before any remaining op returned. */
  readonly candidates: readonly CandidateExplanation[]
  /** unplaced are all ops of the path outside the prefix, by call time. */
  readonly unplaced: readonly Operation[]
}

/** PathReport is the verdict for one path. */
export interface PathReport {
  readonly path: string
  readonly result: CheckResult
  /** operationCount counts the ops searched (plain and unknown-outcome reads excluded). */
  readonly operationCount: number
  readonly unknownOutcomeCount: number
  readonly steps: number
  readonly unknownReason?: PathUnknownReason
  readonly witness?: IllegalWitness
}

/** LinearizabilityReport is the answer of {@link checkLinearizable}. */
export interface LinearizabilityReport {
  readonly result: CheckResult
  /** perPath is sorted by path. */
  readonly perPath: readonly PathReport[]
  /** witness is the first illegal path's explanation, when there is one. */
  readonly witness?: IllegalWitness
  readonly checkedOperationCount: number
  /** skippedOperationCount counts plain reads and unknown-outcome reads left out. */
  readonly skippedOperationCount: number
}

/**
 * checkLinearizable checks a history against the per-path znode model. It throws a
 * HistoryError for malformed histories or options, and never reads a clock unless
 * `options.now` is given.
 */
export function checkLinearizable(
  history: History,
  options: LinearizabilityOptions = {},
): LinearizabilityReport {
  validateHistory(history)
  const maxStepsPerPath = validateOptions(options)
  const { byPath, skipped } = partitionByPath(history)
  const deadlineMs =
    options.timeBudgetMs !== undefined && options.now !== undefined
      ? options.now() + options.timeBudgetMs
      : undefined
  const perPath: PathReport[] = []
  let illegalSeen = false
  for (const [path, ops] of byPath) {
    if (illegalSeen && options.stopAtFirstIllegal === true) {
      perPath.push(pathReportWithoutSearch(path, ops, 'skipped'))
    } else if (
      deadlineMs !== undefined &&
      options.now !== undefined &&
      options.now() >= deadlineMs
    ) {
      perPath.push(pathReportWithoutSearch(path, ops, 'time-budget'))
    } else {
      const report = checkPath(path, ops, {
        maxSteps: maxStepsPerPath,
        now: options.now,
        deadlineMs,
      })
      illegalSeen ||= report.result === 'illegal'
      perPath.push(report)
    }
  }
  const witness = perPath.find((p) => p.witness !== undefined)?.witness
  return {
    result: overallResult(perPath),
    perPath,
    ...(witness === undefined ? {} : { witness }),
    checkedOperationCount: history.length - skipped,
    skippedOperationCount: skipped,
  }
}

function validateOptions(options: LinearizabilityOptions): number {
  const maxSteps = options.maxStepsPerPath ?? DEFAULT_MAX_STEPS_PER_PATH
  if (!Number.isInteger(maxSteps) || maxSteps < 1)
    throw new HistoryError('BAD_OPTION', 'maxStepsPerPath must be a positive integer')
  if (options.timeBudgetMs !== undefined) {
    if (!(options.timeBudgetMs >= 0))
      throw new HistoryError('BAD_OPTION', 'timeBudgetMs must be a non-negative number')
    if (options.now === undefined)
      throw new HistoryError(
        'BAD_OPTION',
        'timeBudgetMs needs a now() function: the checker has no clock of its own',
      )
  }
  return maxSteps
}

/** partitionByPath groups the checkable ops by path (sorted), each group by call time then id. */
function partitionByPath(history: History): { byPath: Map<string, Operation[]>; skipped: number } {
  const groups = new Map<string, Operation[]>()
  let skipped = 0
  for (const op of history) {
    if (op.plain !== undefined || (op.input.kind === 'read' && op.output === null)) {
      skipped += 1
      continue
    }
    const group = groups.get(op.input.path)
    if (group === undefined) groups.set(op.input.path, [op])
    else group.push(op)
  }
  const byPath = new Map<string, Operation[]>()
  for (const path of [...groups.keys()].sort()) {
    const ops = groups.get(path) as Operation[]
    ops.sort((a, b) => a.callTime - b.callTime || a.id - b.id)
    byPath.set(path, ops)
  }
  return { byPath, skipped }
}

function checkPath(
  path: string,
  ops: readonly Operation[],
  budget: { maxSteps: number; now: (() => number) | undefined; deadlineMs: number | undefined },
): PathReport {
  const outcome = searchLinearization(ops, {
    maxSteps: budget.maxSteps,
    ...(budget.now === undefined || budget.deadlineMs === undefined
      ? {}
      : { now: budget.now, deadlineMs: budget.deadlineMs }),
  })
  const base = {
    path,
    result: outcome.verdict,
    operationCount: ops.length,
    unknownOutcomeCount: ops.filter((op) => op.output === null).length,
    steps: outcome.steps,
  }
  if (outcome.verdict === 'unknown')
    return { ...base, unknownReason: outcome.unknownReason ?? 'step-budget' }
  if (outcome.verdict === 'illegal')
    return { ...base, witness: explainIllegal(path, ops, outcome.longestPrefix) }
  return base
}

function pathReportWithoutSearch(
  path: string,
  ops: readonly Operation[],
  reason: PathUnknownReason,
): PathReport {
  return {
    path,
    result: 'unknown',
    operationCount: ops.length,
    unknownOutcomeCount: ops.filter((op) => op.output === null).length,
    steps: 0,
    unknownReason: reason,
  }
}

/**
 * explainIllegal rebuilds the state after the longest prefix and lists the ops that
 * could have come next with what the model expected of each.
 */
export function explainIllegal(
  path: string,
  ops: readonly Operation[],
  prefixIndices: readonly number[],
): IllegalWitness {
  let state: ZnodeState = ABSENT
  const placed = new Set<number>()
  for (const index of prefixIndices) {
    const op = ops[index] as Operation
    state = applyInput(state, op.input).next
    placed.add(index)
  }
  const unplaced = ops.filter((_, index) => !placed.has(index))
  const firstReturn = unplaced.reduce(
    (min, op) => Math.min(min, effectiveReturnTime(op)),
    Number.POSITIVE_INFINITY,
  )
  const candidates = unplaced
    .filter((op) => op.callTime <= firstReturn)
    .map((op): CandidateExplanation => {
      const expected = applyInput(state, op.input).outcome
      return { op, expected, fits: op.output === null || outcomeMatches(expected, op.output) }
    })
  return {
    path,
    prefix: prefixIndices.map((index) => ops[index] as Operation),
    stateAfterPrefix: state,
    candidates,
    unplaced,
  }
}

function overallResult(perPath: readonly PathReport[]): CheckResult {
  if (perPath.some((p) => p.result === 'illegal')) return 'illegal'
  if (perPath.some((p) => p.result === 'unknown')) return 'unknown'
  return 'ok'
}
