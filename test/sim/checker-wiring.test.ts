/**
 * Proof that the client histories reach the checkers and that a wrong answer fails a
 * seed. Two deliberate bugs are planted in the simulated runtime, not in the core
 * (FrontBug): linearizable reads answered from the local tree without the read
 * index must be caught by the linearizability checker, and a server accepting a
 * session whose client saw a newer zxid must be caught by the session-guarantee
 * checker, each within the normal budget of 2,000 seeds. The same seeds pass
 * without the planted bug.
 */
import { describe, expect, test } from 'vitest'
import { runSeed } from './run.js'
import { runSeeds } from './seed-loop.js'
import type { FrontBug } from '../../server/runtime/client-front.js'
import { failureLine } from './summary.js'

const cases: [FrontBug, string][] = [
  ['linearizable-read-is-local', 'linearizability'],
  ['connect-ignores-zxid', 'session-guarantees'],
]

describe.each(cases)('runtime fault %s', (frontBug, invariant) => {
  test(`is caught by the ${invariant} check`, async () => {
    const summary = await runSeeds({
      seeds: 2000,
      steps: 500,
      frontBug,
      workers: 2,
      stopAtFirstViolation: true,
    })
    const caught = summary.violations[0]
    expect(caught, `${frontBug} not caught in ${summary.results.length} seeds`).toBeDefined()
    if (caught?.violation === undefined) return
    console.log(
      `${frontBug}: caught after ${summary.results.length} seeds — ${failureLine(caught)}`,
    )
    expect(caught.violation.invariant).toBe(invariant)
    expect(runSeed({ seed: caught.seed, steps: 500 }).violation).toBeUndefined()
  }, 900_000)
})
