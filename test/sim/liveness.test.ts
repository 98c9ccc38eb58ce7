/**
 * The liveness check is a real bound: once faults stop, a seed fails unless a leader
 * is established with a quorum serving under it and commits a txn of its own epoch
 * within the budget of ticks. The method: find how many ticks a seed's recovery took,
 * then run it again with a budget one tick shorter (it must fail with a liveness
 * violation that describes every server) and with exactly that budget (it must pass).
 */
import { expect, test } from 'vitest'
import { runSeed } from './run.js'

test('a recovery that needs N ticks fails a budget of N-1 and passes a budget of N', () => {
  const seed = 3
  const steps = 200
  const measured = runSeed({ seed, steps })
  const ticks = measured.stats.recoveryTicks
  expect(measured.violation).toBeUndefined()
  expect(ticks).toBeGreaterThan(5)
  if (ticks === undefined) return
  const tooShort = runSeed({ seed, steps, livenessBudgetTicks: ticks - 1 })
  expect(tooShort.violation?.invariant).toBe('liveness')
  expect(tooShort.violation?.message).toMatch(
    /no leader established and committing within \d+ ticks of faults stopping: s1:/,
  )
  const exact = runSeed({ seed, steps, livenessBudgetTicks: ticks })
  expect(exact.violation).toBeUndefined()
  expect(exact.traceHash).toBe(measured.traceHash)
})
