/**
 * Summaries of many seeds: the figures docs/architecture.md quotes (seeds per
 * second, faults injected per kind, the longest recovery in ticks) and the one-line
 * failure reports the CLI prints.
 */
import type { SeedResult } from './run.js'

/** LoopSummary is what a run of many seeds found. */
export interface LoopSummary {
  readonly results: readonly SeedResult[]
  readonly violations: readonly SeedResult[]
  readonly elapsedMs: number
  readonly seedsPerSecond: number
  /** totals sums every counter over all seeds (faults by kind, network fates). */
  readonly totals: Readonly<Record<string, number>>
  /** maxRecoveryTicks is the longest time from faults stopping to a serving leader that commits. */
  readonly maxRecoveryTicks: number
  readonly meanRecoveryTicks: number
  readonly establishments: number
  readonly historyOps: number
  /** unknownOps are writes whose reply never came and no server applied: dropped as never having happened. */
  readonly unknownOps: number
  /** resolvedOps are writes whose reply never came but whose txn was applied: settled from the committed history. */
  readonly resolvedOps: number
  /** droppedOps are ops that certainly had no effect (refused) or were unknown-outcome reads. */
  readonly droppedOps: number
  readonly acknowledged: number
  readonly events: number
  /** violationsByInvariant counts failing seeds by the property that failed first. */
  readonly violationsByInvariant: Readonly<Record<string, number>>
}

/** summarize folds seed results into a LoopSummary. */
export function summarize(results: readonly SeedResult[], elapsedMs: number): LoopSummary {
  const totals: Record<string, number> = {}
  const violationsByInvariant: Record<string, number> = {}
  let maxRecoveryTicks = 0
  let recoverySum = 0
  let recoveries = 0
  let establishments = 0
  let historyOps = 0
  let unknownOps = 0
  let resolvedOps = 0
  let droppedOps = 0
  let acknowledged = 0
  let events = 0
  for (const r of results) {
    for (const [name, count] of Object.entries(r.stats.counters))
      totals[name] = (totals[name] ?? 0) + count
    if (r.stats.recoveryTicks !== undefined) {
      maxRecoveryTicks = Math.max(maxRecoveryTicks, r.stats.recoveryTicks)
      recoverySum += r.stats.recoveryTicks
      recoveries += 1
    }
    establishments += r.stats.establishments
    historyOps += r.stats.historyOps
    unknownOps += r.stats.ops.unknownDropped
    resolvedOps += r.stats.ops.resolved
    droppedOps += r.stats.ops.dropped
    acknowledged += r.stats.acknowledged
    events += r.stats.events
    if (r.violation !== undefined)
      violationsByInvariant[r.violation.invariant] =
        (violationsByInvariant[r.violation.invariant] ?? 0) + 1
  }
  const sortedTotals = Object.fromEntries(
    Object.entries(totals).sort(([a], [b]) => a.localeCompare(b)),
  )
  return {
    results,
    violations: results.filter((r) => r.violation !== undefined),
    elapsedMs,
    seedsPerSecond: elapsedMs > 0 ? (results.length * 1000) / elapsedMs : 0,
    totals: sortedTotals,
    maxRecoveryTicks,
    meanRecoveryTicks: recoveries > 0 ? recoverySum / recoveries : 0,
    establishments,
    historyOps,
    unknownOps,
    resolvedOps,
    droppedOps,
    acknowledged,
    events,
    violationsByInvariant,
  }
}

/** failureLine is the one-line report of a failing seed. */
export function failureLine(result: SeedResult): string {
  const v = result.violation
  if (v === undefined) return `seed ${result.seed}: ok`
  const first = v.message.split('\n')[0] ?? ''
  return `seed ${result.seed} step ${v.step} (${v.timeMs} ms): ${first.length > 240 ? `${first.slice(0, 240)}…` : first}`
}

/** failureReport is the full report of a failing seed: the message and the trace's tail. */
export function failureReport(result: SeedResult): string {
  const v = result.violation
  if (v === undefined) return `seed ${result.seed}: ok, trace hash ${result.traceHash}`
  return [
    `seed ${result.seed} violated ${v.invariant} at step ${v.step} (${v.timeMs} ms), trace hash ${result.traceHash}`,
    v.message,
    'trace tail:',
    ...v.tail.map((l) => `  ${l}`),
  ].join('\n')
}

/** figuresReport renders a summary's figures for the CLI's --stats and the test log. */
export function figuresReport(s: LoopSummary): string {
  const group = (prefix: string) =>
    Object.entries(s.totals)
      .filter(([name]) => name.startsWith(prefix))
      .map(([name, count]) => `${name.slice(prefix.length)}=${count}`)
      .join(' ')
  const early = group('early.')
  const drops = group('drop.')
  const faults = group('fault.')
  const net = group('net.')
  return [
    `${s.results.length} seeds in ${(s.elapsedMs / 1000).toFixed(1)} s (${s.seedsPerSecond.toFixed(1)} seeds/s), ${s.events} events`,
    `faults: ${faults}`,
    `messages: ${net}`,
    `applied while their Ready's fsync ran: ${early}`,
    `inputs the cores dropped, by reason: ${drops}`,
    `leaders established: ${s.establishments}; recovery after faults stop: max ${s.maxRecoveryTicks} ticks, mean ${s.meanRecoveryTicks.toFixed(1)}`,
    `history: ${s.historyOps} ops checked, ${s.acknowledged} writes acknowledged; of writes with no reply, ${s.resolvedOps} settled from the committed log and ${s.unknownOps} dropped as never applied; ${s.droppedOps} ops dropped in all`,
  ].join('\n')
}
