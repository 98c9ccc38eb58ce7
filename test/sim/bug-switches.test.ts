/**
 * Proof that the simulator can fail (issue 3, item 6). For each deliberate protocol
 * bug the shipped code offers (CONCLAVE_SIM_BUG: the core's ack-before-fsync,
 * trunc-across-epoch, commit-without-quorum, vote-ignores-zxid, apply-before-persist,
 * and the Ready executor's runtime-send-before-persist), `npm run sim` runs with the variable set
 * over the normal budget of 2,000 seeds of 500 steps (stopping at the first failure)
 * and must exit non-zero with a violation of a safety property. These are the
 * expected failures of `npm test`. The test reports which property caught the bug
 * and where, then replays that seed in process with and without the bug: with it,
 * the same violation; without it, a clean pass — so the bug, not the simulator,
 * made it fail.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { PLANTED_BUGS } from './planted-bugs.js'
import { runSeed } from './run.js'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const SEED_BUDGET = 2000
const STEPS = 500

function npmRunSim(args: string[], env: Record<string, string>) {
  return spawnSync('npm', ['run', '--silent', 'sim', '--', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  })
}

describe.each(PLANTED_BUGS)('CONCLAVE_SIM_BUG=%s', (bug) => {
  test(`npm run sim finds a safety violation within ${SEED_BUDGET} seeds and exits non-zero`, () => {
    const cli = npmRunSim(
      [
        '--seeds',
        String(SEED_BUDGET),
        '--steps',
        String(STEPS),
        '--workers',
        '2',
        '--stop-at-first',
      ],
      { CONCLAVE_SIM_BUG: bug },
    )
    expect(cli.status, cli.stdout + cli.stderr).toBe(1)
    expect(cli.stdout).toContain(`fault switch on: ${bug}`)
    const failure = /^seed (\d+) step \d+ \(\d+ ms\): ([a-z-]+): /m.exec(cli.stdout)
    expect(failure, cli.stdout).not.toBeNull()
    const seed = Number(failure?.[1])
    const invariant = failure?.[2]
    expect(cli.stdout.trim().split('\n').at(-1)).toMatch(/^\d+ seeds, [1-9]\d* violations$/)
    console.log(`${bug}: caught by ${invariant} at seed ${seed} — ${failure?.[0]}`)
    expect(['exception', 'liveness']).not.toContain(invariant)

    expect(runSeed({ seed, steps: STEPS, bug }).violation?.invariant).toBe(invariant)
    expect(
      runSeed({ seed, steps: STEPS }).violation,
      'the same seed must pass without the bug',
    ).toBeUndefined()
  }, 900_000)
})

test('an unknown CONCLAVE_SIM_BUG is refused', () => {
  const cli = npmRunSim(['--seeds', '1'], { CONCLAVE_SIM_BUG: 'no-such-bug' })
  expect(cli.status).not.toBe(0)
  expect(cli.stderr).toContain('expected one of ack-before-fsync')
}, 60_000)
