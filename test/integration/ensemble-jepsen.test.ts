/**
 * The Jepsen-style check (test/jepsen/run.ts) on 3 real members behind per-link fault
 * proxies: 20 concurrent SDK clients do creates, versioned sets, deletes, plain reads,
 * sync+reads and linearizable reads on 30 keys while the nemesis kills (-9, then
 * restarts), stalls (SIGSTOP/SIGCONT) and partitions members. The history must be
 * linearizable for writes, sync+reads and linearizable reads, plain reads must keep
 * the session guarantees, and no acknowledged write may be lost.
 *
 * `npm test` runs 25 s of nemesis; CONCLAVE_JEPSEN_SECONDS=60 (or `npm run jepsen --
 * --seconds 60`) runs a longer one; CONCLAVE_JEPSEN_SEED replays a seed's schedule
 * (the processes' timing still varies). A failure names the folder under
 * test-artifacts/ holding the history, the report, the nemesis log and member logs.
 */
import { expect, it } from 'vitest'
import { runJepsen } from '../jepsen/run.js'

const SECONDS = Number(process.env.CONCLAVE_JEPSEN_SECONDS ?? 25)
const SEED =
  process.env.CONCLAVE_JEPSEN_SEED === undefined
    ? undefined
    : Number(process.env.CONCLAVE_JEPSEN_SEED)

it(
  `${SECONDS} s of kills, stalls and partitions under 20 clients: linearizable, session guarantees kept, no acknowledged write lost`,
  { timeout: SECONDS * 1000 + 240_000 },
  async () => {
    const result = await runJepsen({
      seconds: SECONDS,
      clients: 20,
      keys: 30,
      ...(SEED === undefined ? {} : { seed: SEED }),
    })
    expect(result.ok, result.summary).toBe(true)
    // The run exercised what it claims to: faults happened and every kind of op got answers.
    expect(Object.values(result.nemesis.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(2)
    expect(result.linearizability.checkedOperationCount).toBeGreaterThan(500)
    expect(result.sessions.checkedOperationCount).toBeGreaterThan(500)
    process.stdout.write(`${result.summary}\n`)
  },
)
