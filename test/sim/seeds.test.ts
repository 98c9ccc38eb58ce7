/**
 * The simulator's main run: 2,000 seeds of 500 fault steps each (issue 3, item 5).
 * Every seed drives message loss, duplication, delay and reordering, partitions that
 * come and go, crashes that lose unsynced writes (some torn), power losses, restarts,
 * pauses, slow disks, and clients that open, use, close and expire sessions against
 * any server. Every step checks the ensemble invariants; every seed must then
 * recover once faults stop, converge, and produce client histories the
 * linearizability and session checkers accept. Any failing seed is printed with the
 * command that replays it. Seeds run on worker threads so both cores are used.
 *
 * SIM_TEST_SEEDS and SIM_TEST_STEPS override the budget for quick local runs.
 */
import { expect, test } from 'vitest'
import { runSeeds } from './seed-loop.js'
import { failureLine, figuresReport } from './summary.js'

const SEEDS = Number(process.env.SIM_TEST_SEEDS ?? 2000)
const STEPS = Number(process.env.SIM_TEST_STEPS ?? 500)

test(`${SEEDS} seeds of ${STEPS} steps with faults: no invariant, liveness or history violation`, async () => {
  const summary = await runSeeds({ seeds: SEEDS, steps: STEPS, workers: 2 })
  console.log(figuresReport(summary))
  const failures = summary.violations.map(
    (r) => `${failureLine(r)}\n  replay: npm run sim -- --seed ${r.seed} --steps ${STEPS}`,
  )
  expect(failures, failures.join('\n')).toEqual([])
  expect(summary.results).toHaveLength(SEEDS)
  // The run really injected every kind of fault and exercised recovery.
  for (const kind of [
    'crash',
    'crash-while-unsynced',
    'power-loss-while-unsynced',
    'lost-unsynced-writes',
    'torn-append',
    'pause',
    'partition.isolate',
    'partition.split',
    'partition.one-way',
    'partition.bridge',
    'links.lossy',
    'links.reorder',
    'slow-disk',
  ]) {
    expect(
      summary.totals[`fault.${kind}`] ?? 0,
      `fault kind ${kind} never injected`,
    ).toBeGreaterThan(0)
  }
  // Replies were lost and settled from the committed history, both ways.
  expect(summary.resolvedOps).toBeGreaterThan(0)
  expect(summary.unknownOps).toBeGreaterThan(0)
  expect(summary.establishments).toBeGreaterThan(SEEDS)
}, 900_000)
