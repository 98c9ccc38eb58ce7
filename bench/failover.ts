/**
 * Failover benchmark (issue 5): write unavailability of a 3-member ensemble when the
 * leader is killed (SIGKILL) and when it is stalled (SIGSTOP, then SIGCONT once another
 * member leads), for Conclave and, when it is installed, Apache ZooKeeper with its
 * default settings, on the same machine.
 *
 * A few writers each keep one 16-byte set in flight, with a short deadline and a retry
 * on another member (bench/lib/writers.ts). Per round:
 * - longest gap: the longest time between two successful write completions, from the
 *   last one before the fault to the end of the round (so a second blip when the old
 *   leader rejoins counts too);
 * - first write: from the fault to the first success of a write issued after it.
 * Each fault is repeated --rounds times; the medians and maxima are printed.
 *
 * Run: npm run bench:failover [-- --rounds 5 --writers 4 --write-timeout 250
 *        --systems conclave,zookeeper --faults kill,stop --keep]
 * This is a measurement, not a test: figures depend on the machine and its load.
 */
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { startConclave } from './lib/conclave-ensemble.js'
import { waitNewLeader, waitWhole, type BenchEnsemble } from './lib/ensemble.js'
import { fixed, maxOf, median, table } from './lib/stats.js'
import { gapFigures, Writer, type GapFigures } from './lib/writers.js'
import { startZooKeeper, zookeeperInstalled } from './lib/zookeeper-ensemble.js'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    writers: { type: 'string', default: '4' },
    'write-timeout': { type: 'string', default: '250' },
    'warmup-ms': { type: 'string', default: '2000' },
    'after-ms': { type: 'string', default: '3000' },
    'cap-ms': { type: 'string', default: '60000' },
    systems: { type: 'string' },
    zookeeper: { type: 'boolean', default: false },
    faults: { type: 'string', default: 'kill,stop' },
    keep: { type: 'boolean', default: false },
  },
})

const ROUNDS = positive('rounds')
const WRITERS = positive('writers')
const WRITE_TIMEOUT_MS = positive('write-timeout')
const WARMUP_MS = positive('warmup-ms')
/** AFTER_MS is how long writes go on after the first success following the fault (and after SIGCONT). */
const AFTER_MS = positive('after-ms')
/** CAP_MS bounds one round: a system that has not recovered by then is reported as down for at least this long. */
const CAP_MS = positive('cap-ms')
const SESSION_TIMEOUT_MS = 10_000
const WHOLE_TIMEOUT_MS = 120_000

type Fault = 'kill' | 'stop'
const FAULT_NAMES: Record<Fault, string> = { kill: 'kill -9 leader', stop: 'SIGSTOP leader' }
/** GOALS_MS are issue 5's goals for Conclave's longest gap. */
const GOALS_MS: Record<Fault, number> = { kill: 500, stop: 2000 }

function positive(name: keyof typeof values): number {
  const n = Number(values[name])
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`--${name} must be a positive number, got ${String(values[name])}`)
  return n
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function systemsToRun(): string[] {
  if (values.systems !== undefined)
    return values.systems.split(',').map((s) => s.trim().toLowerCase())
  return zookeeperInstalled() || values.zookeeper ? ['conclave', 'zookeeper'] : ['conclave']
}

/** RoundResult is one fault's figures. */
interface RoundResult extends GapFigures {
  /** electedMs is when the status endpoints first showed another member leading (NaN if never within the cap). */
  electedMs: number
  failures: number
}

/** runRound faults the current leader while the writers write, and brings the ensemble back whole afterwards. */
async function runRound(
  ensemble: BenchEnsemble,
  fault: Fault,
  round: number,
): Promise<RoundResult> {
  const leader = await waitWhole(ensemble, WHOLE_TIMEOUT_MS)
  const writers = await Promise.all(
    Array.from({ length: WRITERS }, (_, w) =>
      Writer.open(
        ensemble,
        `/failover-w${w}`,
        (leader + 1 + w) % ensemble.size,
        WRITE_TIMEOUT_MS,
        SESSION_TIMEOUT_MS,
      ),
    ),
  )
  for (const writer of writers) writer.start()
  await pause(WARMUP_MS)

  const faultAt = performance.now()
  const faultClock = new Date().toISOString().slice(11, 23)
  ensemble.signal(leader, fault === 'kill' ? 'SIGKILL' : 'SIGSTOP')
  const newLeader = await waitNewLeader(ensemble, leader, CAP_MS)
  const electedAt = performance.now()
  if (fault === 'stop') ensemble.signal(leader, 'SIGCONT')

  // Write on until AFTER_MS past both the SIGCONT and the first success after the fault.
  const records = () => writers.flatMap((w) => w.done)
  let endAt: number
  for (;;) {
    endAt = performance.now()
    const first = gapFigures(records(), faultAt, endAt).firstWriteMs
    const recoveredAt = Number.isNaN(first) ? Number.POSITIVE_INFINITY : faultAt + first
    if (endAt >= Math.max(electedAt, recoveredAt) + AFTER_MS || endAt - faultAt >= CAP_MS) break
    await pause(50)
  }
  await Promise.all(writers.map((w) => w.stop()))
  const figures = gapFigures(records(), faultAt, endAt)
  const result: RoundResult = {
    ...figures,
    electedMs: newLeader >= 0 ? electedAt - faultAt : Number.NaN,
    failures: writers.reduce((sum, w) => sum + w.failures, 0),
  }
  console.log(
    `  ${ensemble.system} ${FAULT_NAMES[fault]} round ${round} (fault at ${faultClock} UTC): member ${leader + 1} -> ${newLeader >= 0 ? `member ${newLeader + 1}` : 'none'} ` +
      `(status shows it leading and serving after ${fixed(result.electedMs / 1000, 2)} s); longest write gap ${fixed(result.longestGapMs / 1000, 3)} s, ` +
      `first write after the fault ${fixed(result.firstWriteMs / 1000, 3)} s; ${result.writes} writes after the fault, ${result.failures} failed or timed out`,
  )

  if (fault === 'kill') await ensemble.restart(leader)
  return result
}

/** Summary is one (system, fault) row of the final table. */
interface Summary {
  system: string
  fault: Fault
  results: RoundResult[]
}

async function runSystem(name: string, summaries: Summary[]): Promise<void> {
  const faults = values.faults.split(',').map((f) => f.trim()) as Fault[]
  for (const fault of faults)
    if (!(fault in FAULT_NAMES)) throw new Error(`unknown fault ${fault} (known: kill, stop)`)
  let ensemble: BenchEnsemble
  if (name === 'zookeeper') {
    if (!zookeeperInstalled())
      throw new Error('ZooKeeper is not installed (apt-get install -y zookeeper)')
    ensemble = await startZooKeeper({ keep: values.keep })
  } else if (name === 'conclave') {
    ensemble = await startConclave({ keep: values.keep })
  } else {
    throw new Error(`unknown system ${name} (known: conclave, zookeeper)`)
  }
  console.log(`${ensemble.system}: 3 members on loopback, data and logs in ${ensemble.dir}`)
  try {
    for (const fault of faults) {
      const summary: Summary = { system: ensemble.system, fault, results: [] }
      summaries.push(summary)
      for (let round = 1; round <= ROUNDS; round++)
        summary.results.push(await runRound(ensemble, fault, round))
    }
    await waitWhole(ensemble, WHOLE_TIMEOUT_MS)
  } finally {
    await ensemble.stop()
  }
}

async function main(): Promise<void> {
  console.log(
    `machine: ${cpus().length} cores, load average ${fixed(loadavg()[0]!, 1)} before the run (other jobs share the machine)`,
  )
  console.log(
    `failover: ${WRITERS} writers, one 16-byte set each in flight, ${WRITE_TIMEOUT_MS} ms per-write deadline, ${ROUNDS} rounds per fault`,
  )
  const summaries: Summary[] = []
  const skipped: string[] = []
  for (const name of systemsToRun()) {
    try {
      await runSystem(name, summaries)
    } catch (err) {
      const message = (err as Error).message
      console.log(`${name}: not measured: ${message}`)
      skipped.push(`${name}: ${message.split('\n')[0]}`)
    }
  }
  const seconds = (ms: number) => fixed(ms / 1000, 2)
  const rows = [
    [
      'system',
      'fault',
      'rounds',
      'longest gap median s',
      'longest gap max s',
      'first write median s',
      'first write max s',
      'leader seen median s',
    ],
  ]
  for (const s of summaries) {
    if (s.results.length === 0) continue
    const gaps = s.results.map((r) => r.longestGapMs)
    const firsts = s.results.map((r) => r.firstWriteMs).filter((v) => !Number.isNaN(v))
    const elected = s.results.map((r) => r.electedMs).filter((v) => !Number.isNaN(v))
    rows.push([
      s.system,
      FAULT_NAMES[s.fault],
      String(s.results.length),
      seconds(median(gaps)),
      seconds(maxOf(gaps)),
      seconds(median(firsts)),
      seconds(maxOf(firsts)),
      seconds(median(elected)),
    ])
  }
  console.log(`\n${table(rows, 2)}\n`)
  for (const fault of Object.keys(GOALS_MS) as Fault[]) {
    const conclave = summaries.find((s) => s.system === 'Conclave' && s.fault === fault)
    const zookeeper = summaries.find((s) => s.system === 'ZooKeeper' && s.fault === fault)
    if (conclave === undefined || conclave.results.length === 0) continue
    const gap = median(conclave.results.map((r) => r.longestGapMs))
    const ratio =
      zookeeper && zookeeper.results.length > 0
        ? `; Conclave/ZooKeeper ${fixed(gap / median(zookeeper.results.map((r) => r.longestGapMs)), 2)}`
        : ''
    console.log(
      `${FAULT_NAMES[fault]}: Conclave median longest gap ${seconds(gap)} s, goal < ${seconds(GOALS_MS[fault])} s (${gap < GOALS_MS[fault] ? 'met' : 'NOT met'})${ratio}`,
    )
  }
  for (const line of skipped) console.log(`not measured: ${line}`)
  console.log(`load average ${fixed(loadavg()[0]!, 1)} after the run`)
}

await main()
