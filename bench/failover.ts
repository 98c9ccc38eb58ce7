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
 * A second measure (Conclave only, `--measures sdk`) runs plain SDK clients instead
 * (bench/lib/sdk-clients.ts): --sdk-per-member clients on every member, the old leader
 * included, each with the full server list and the SDK's default timeouts, writing one
 * set at a time and issuing it again after a failure. Per round it reports each client's
 * longest write gap (from its last write before the fault to the end of the round), next
 * to the time until the status endpoints show a new leader serving.
 *
 * --stop-ms: how long a SIGSTOPped leader stays stopped. 0 (the default) continues it as
 * soon as another member leads; a longer stop is a stall that outlasts the election, as
 * a long GC pause, a frozen VM or a hung disk would.
 *
 * Run: npm run bench:failover [-- --rounds 5 --writers 4 --write-timeout 250
 *        --systems conclave,zookeeper --faults kill,stop --measures writers,sdk
 *        --sdk-per-member 2 --stop-ms 0 --keep]
 * This is a measurement, not a test: figures depend on the machine and its load.
 */
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { startConclave } from './lib/conclave-ensemble.js'
import { waitNewLeader, waitWhole, type BenchEnsemble } from './lib/ensemble.js'
import { fixed, maxOf, median, table } from './lib/stats.js'
import { openSdkClients, type SdkWriter } from './lib/sdk-clients.js'
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
    measures: { type: 'string', default: 'writers,sdk' },
    'sdk-per-member': { type: 'string', default: '2' },
    'stop-ms': { type: 'string', default: '0' },
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
const SDK_PER_MEMBER = positive('sdk-per-member')
/** STOP_MS is the least time a SIGSTOPped leader stays stopped (0: until another member leads). */
const STOP_MS = nonNegative('stop-ms')
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

function nonNegative(name: keyof typeof values): number {
  const n = Number(values[name])
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`--${name} must be a number >= 0, got ${String(values[name])}`)
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

/** FaultTimes say when a fault happened and what followed (performance.now() ms). */
interface FaultTimes {
  faultAt: number
  /** faultClock is the wall-clock time of the fault, to find it in the members' logs. */
  faultClock: string
  /** newLeader is the index of the member seen leading after the fault, -1 if none within the cap. */
  newLeader: number
  electedAt: number
  /** continuedAt is when a stopped leader was continued (the fault time for kill -9). */
  continuedAt: number
}

/**
 * faultLeader signals the leader, waits until another member leads and, for SIGSTOP,
 * continues it once that has happened and at least STOP_MS have passed.
 */
async function faultLeader(
  ensemble: BenchEnsemble,
  leader: number,
  fault: Fault,
): Promise<FaultTimes> {
  const faultAt = performance.now()
  const faultClock = new Date().toISOString().slice(11, 23)
  ensemble.signal(leader, fault === 'kill' ? 'SIGKILL' : 'SIGSTOP')
  const newLeader = await waitNewLeader(ensemble, leader, CAP_MS)
  const electedAt = performance.now()
  let continuedAt = faultAt
  if (fault === 'stop') {
    await pause(faultAt + STOP_MS - performance.now())
    ensemble.signal(leader, 'SIGCONT')
    continuedAt = performance.now()
  }
  return { faultAt, faultClock, newLeader, electedAt, continuedAt }
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

  const { faultAt, faultClock, newLeader, electedAt, continuedAt } = await faultLeader(
    ensemble,
    leader,
    fault,
  )

  // Write on until AFTER_MS past the new leader, the SIGCONT and the first success after the fault.
  const records = () => writers.flatMap((w) => w.done)
  let endAt: number
  for (;;) {
    endAt = performance.now()
    const first = gapFigures(records(), faultAt, endAt).firstWriteMs
    const recoveredAt = Number.isNaN(first) ? Number.POSITIVE_INFINITY : faultAt + first
    if (endAt >= Math.max(electedAt, continuedAt, recoveredAt) + AFTER_MS) break
    if (endAt - faultAt >= CAP_MS) break
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

/** ClientGap is one SDK client's longest write gap in one round. */
interface ClientGap {
  /** onLeader is true for a client connected to the faulted leader when the fault came. */
  onLeader: boolean
  longestGapMs: number
}

/** SdkRoundResult is one fault's figures for the SDK clients. */
interface SdkRoundResult {
  electedMs: number
  gaps: ClientGap[]
  failures: number
}

/**
 * runSdkRound faults the current leader while plain SDK clients on every member write,
 * and brings the ensemble back whole afterwards.
 */
async function runSdkRound(
  ensemble: BenchEnsemble,
  fault: Fault,
  round: number,
): Promise<SdkRoundResult> {
  const servers = ensemble.sdkServers?.()
  if (servers === undefined) throw new Error(`${ensemble.system} has no SDK clients to measure`)
  const leader = await waitWhole(ensemble, WHOLE_TIMEOUT_MS)
  const clients = await openSdkClients({
    servers,
    perMember: SDK_PER_MEMBER,
    pathPrefix: '/failover-sdk',
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
  })
  for (const client of clients) client.start()
  await pause(WARMUP_MS)

  const onLeader = clients.map((c) => c.memberIndex === leader)
  const { faultAt, faultClock, newLeader, electedAt, continuedAt } = await faultLeader(
    ensemble,
    leader,
    fault,
  )

  // Write on until AFTER_MS past the new leader, the SIGCONT and every client's first success after the fault.
  const recoveredAt = (client: SdkWriter) =>
    client.done.find((r) => r.doneAt > faultAt)?.doneAt ?? Number.POSITIVE_INFINITY
  let endAt: number
  for (;;) {
    endAt = performance.now()
    const lastRecovered = Math.max(...clients.map(recoveredAt))
    if (endAt >= Math.max(electedAt, continuedAt, lastRecovered) + AFTER_MS) break
    if (endAt - faultAt >= CAP_MS) break
    await pause(50)
  }
  const gaps = clients.map((client, n) => ({
    onLeader: onLeader[n]!,
    longestGapMs: gapFigures(client.done, faultAt, endAt).longestGapMs,
  }))
  await Promise.all(clients.map((c) => c.stop()))
  const result: SdkRoundResult = {
    electedMs: newLeader >= 0 ? electedAt - faultAt : Number.NaN,
    gaps,
    failures: clients.reduce((sum, c) => sum + c.failures, 0),
  }
  const list = (which: boolean) =>
    gaps
      .filter((g) => g.onLeader === which)
      .map((g) => fixed(g.longestGapMs / 1000, 2))
      .join(', ') || '-'
  console.log(
    `  ${ensemble.system} SDK clients ${FAULT_NAMES[fault]} round ${round} (fault at ${faultClock} UTC): member ${leader + 1} -> ${newLeader >= 0 ? `member ${newLeader + 1}` : 'none'} ` +
      `(leading and serving after ${fixed(result.electedMs / 1000, 2)} s${fault === 'stop' ? `, continued after ${fixed((continuedAt - faultAt) / 1000, 2)} s` : ''}); ` +
      `longest write gap per client: on the old leader ${list(true)} s; on followers ${list(false)} s; ${result.failures} writes failed`,
  )

  if (fault === 'kill') await ensemble.restart(leader)
  return result
}

/** Summary is one (system, fault) row of the writers' table. */
interface Summary {
  system: string
  fault: Fault
  results: RoundResult[]
}

/** SdkSummary is one (system, fault) row of the SDK clients' table. */
interface SdkSummary {
  system: string
  fault: Fault
  results: SdkRoundResult[]
}

type Measure = 'writers' | 'sdk'

/** Summaries collect every measure's rows. */
interface Summaries {
  writers: Summary[]
  sdk: SdkSummary[]
}

function listed<T extends string>(flag: string, value: string, known: readonly T[]): T[] {
  const items = value.split(',').map((item) => item.trim())
  for (const item of items)
    if (!known.includes(item as T))
      throw new Error(`unknown ${flag} ${item} (known: ${known.join(', ')})`)
  return items as T[]
}

async function runSystem(name: string, summaries: Summaries): Promise<void> {
  const faults = listed<Fault>('fault', values.faults, ['kill', 'stop'])
  const measures = listed<Measure>('measure', values.measures, ['writers', 'sdk'])
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
    if (measures.includes('writers')) {
      for (const fault of faults) {
        const summary: Summary = { system: ensemble.system, fault, results: [] }
        summaries.writers.push(summary)
        for (let round = 1; round <= ROUNDS; round++)
          summary.results.push(await runRound(ensemble, fault, round))
      }
    }
    // The SDK measure uses the Conclave SDK, so only a Conclave ensemble has it.
    if (measures.includes('sdk') && ensemble.sdkServers !== undefined) {
      for (const fault of faults) {
        const summary: SdkSummary = { system: ensemble.system, fault, results: [] }
        summaries.sdk.push(summary)
        for (let round = 1; round <= ROUNDS; round++)
          summary.results.push(await runSdkRound(ensemble, fault, round))
      }
    }
    await waitWhole(ensemble, WHOLE_TIMEOUT_MS)
  } finally {
    await ensemble.stop()
  }
}

const seconds = (ms: number) => fixed(ms / 1000, 2)

function printWriters(summaries: Summary[]): void {
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
  console.log(`\nwriters (retry on another member after ${WRITE_TIMEOUT_MS} ms):\n`)
  console.log(`${table(rows, 2)}\n`)
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
}

/**
 * printSdk prints, per fault, the longest write gap of every client in every round
 * (median and max over all of them, then for the clients on the old leader and on the
 * followers), the time until a new leader was seen, and each client's gap minus its
 * round's leader-seen time: how much the SDK adds to the ensemble's own re-election.
 */
function printSdk(summaries: SdkSummary[]): void {
  const rows = [
    [
      'system',
      'fault',
      'client-rounds',
      'gap median s',
      'gap max s',
      'on old leader median / max s',
      'on followers median / max s',
      'leader seen median / max s',
      'gap - leader seen median / max s',
    ],
  ]
  for (const s of summaries) {
    if (s.results.length === 0) continue
    const all = s.results.flatMap((r) => r.gaps.map((g) => g.longestGapMs))
    const where = (onLeader: boolean) =>
      s.results.flatMap((r) =>
        r.gaps.filter((g) => g.onLeader === onLeader).map((g) => g.longestGapMs),
      )
    const elected = s.results.map((r) => r.electedMs).filter((v) => !Number.isNaN(v))
    const added = s.results.flatMap((r) => r.gaps.map((g) => g.longestGapMs - r.electedMs))
    const pair = (v: number[]) => `${seconds(median(v))} / ${seconds(maxOf(v))}`
    rows.push([
      s.system,
      FAULT_NAMES[s.fault],
      String(all.length),
      seconds(median(all)),
      seconds(maxOf(all)),
      pair(where(true)),
      pair(where(false)),
      pair(elected),
      pair(added.filter((v) => !Number.isNaN(v))),
    ])
  }
  console.log(
    `\nSDK clients (${SDK_PER_MEMBER} per member, full server list, SDK defaults, no bench-side retry elsewhere${STOP_MS > 0 ? `; SIGSTOP held ${STOP_MS} ms` : ''}):\n`,
  )
  console.log(`${table(rows, 2)}\n`)
}

async function main(): Promise<void> {
  console.log(
    `machine: ${cpus().length} cores, load average ${fixed(loadavg()[0]!, 1)} before the run (other jobs share the machine)`,
  )
  console.log(
    `failover: ${ROUNDS} rounds per fault; writers: ${WRITERS}, one 16-byte set each in flight, ${WRITE_TIMEOUT_MS} ms per-write deadline; ` +
      `SDK clients: ${SDK_PER_MEMBER} per member, one 16-byte set each in flight; ` +
      `SIGSTOP held ${STOP_MS > 0 ? `${STOP_MS} ms (at least until another member leads)` : 'until another member leads'}`,
  )
  const summaries: Summaries = { writers: [], sdk: [] }
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
  if (summaries.writers.length > 0) printWriters(summaries.writers)
  if (summaries.sdk.length > 0) printSdk(summaries.sdk)
  for (const line of skipped) console.log(`not measured: ${line}`)
  console.log(`load average ${fixed(loadavg()[0]!, 1)} after the run`)
}

await main()
