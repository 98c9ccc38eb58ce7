/**
 * Proof that the simulator can fail (issue 3, item 6). For each deliberate protocol
 * bug the core offers (CONCLAVE_SIM_BUG: ack-before-fsync, trunc-across-epoch,
 * commit-without-quorum, vote-ignores-zxid) the seed loop runs with the switch on,
 * within the normal budget of 2,000 seeds of 500 steps, and must find a violation of
 * a safety property. The test reports which property caught it and where, then
 * checks that the same seed passes without the switch (so the bug, not the
 * simulator, made it fail) and that `npm run sim` with CONCLAVE_SIM_BUG set exits
 * non-zero on that seed: these are the expected failures of `npm test`.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { SIM_BUGS } from '../../server/core/index.js'
import { runSeed } from './run.js'
import { runSeeds } from './seed-loop.js'
import { failureLine } from './summary.js'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const SEED_BUDGET = 2000
const STEPS = 500

describe.each(SIM_BUGS)('CONCLAVE_SIM_BUG=%s', (bug) => {
  test('the seed loop finds a safety violation within the normal budget, and the CLI exits non-zero', async () => {
    const summary = await runSeeds({ seeds: SEED_BUDGET, steps: STEPS, bug, workers: 2, stopAtFirstViolation: true })
    const caught = summary.violations[0]
    expect(caught, `${bug} not caught in ${summary.results.length} seeds`).toBeDefined()
    if (caught?.violation === undefined) return
    console.log(`${bug}: caught by ${caught.violation.invariant} after ${summary.results.length} seeds — ${failureLine(caught)}`)
    expect(['exception', 'liveness']).not.toContain(caught.violation.invariant)

    const clean = runSeed({ seed: caught.seed, steps: STEPS })
    expect(clean.violation, 'the same seed must pass without the bug').toBeUndefined()

    const cli = spawnSync(process.execPath, ['--import', 'tsx', 'test/sim/main.ts', '--seeds', '1', '--first', String(caught.seed), '--workers', '1'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, CONCLAVE_SIM_BUG: bug },
    })
    expect(cli.status, cli.stdout + cli.stderr).toBe(1)
    expect(cli.stdout).toContain(`fault switch on: ${bug}`)
    expect(cli.stdout).toContain(`seed ${caught.seed} step`)
    expect(cli.stdout.trim().split('\n').at(-1)).toBe('1 seeds, 1 violations')
  }, 900_000)
})

test('an unknown CONCLAVE_SIM_BUG is refused', () => {
  const cli = spawnSync(process.execPath, ['--import', 'tsx', 'test/sim/main.ts', '--seeds', '1'], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, CONCLAVE_SIM_BUG: 'no-such-bug' },
  })
  expect(cli.status).toBe(2)
  expect(cli.stderr).toContain('expected one of ack-before-fsync')
}, 60_000)
