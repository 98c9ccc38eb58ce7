/**
 * Ensemble throughput benchmark (issue 5): write and read throughput and p50/p99
 * latency of a 3-member ensemble, for Conclave and, when it is installed, Apache
 * ZooKeeper with its default settings, under the same load on the same machine.
 *
 * Load: 32 clients, each a session on one member (client c on member c mod 3), each
 * with 4 requests in flight on 4 keys of its own holding 100-byte values.
 * - set: replaces a pre-created key's value (any version);
 * - create: creates a new persistent node under /bench-create (optional, --ops);
 * - get: reads a key (served by the member the client is on).
 * Each op runs a warm-up, then a fixed measured window; a request counts when its reply
 * arrives inside the window. Both ensembles run from the start and take turns, op by op,
 * --repeat times; the table shows the medians. After the run, each member's RSS is read
 * from /proc.
 *
 * Run: npm run bench [-- --seconds 10 --warmup-seconds 3 --clients 32 --in-flight 4
 *        --bytes 100 --ops set,get --repeat 1 --systems conclave,zookeeper --keep
 *        --cpu-prof DIR]  (--cpu-prof: each Conclave member writes a V8 CPU profile to DIR)
 * This is a measurement, not a test: the load generator is one Node process on the
 * same machine as the servers, so it competes with them for the CPU.
 */
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { startConclave } from './lib/conclave-ensemble.js'
import { waitWhole, type BenchEnsemble } from './lib/ensemble.js'
import type { BenchSession } from './lib/session.js'
import { fixed, median, percentile, table, thousands } from './lib/stats.js'
import { startZooKeeper, zookeeperInstalled } from './lib/zookeeper-ensemble.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    'warmup-seconds': { type: 'string', default: '3' },
    clients: { type: 'string', default: '32' },
    'in-flight': { type: 'string', default: '4' },
    bytes: { type: 'string', default: '100' },
    ops: { type: 'string', default: 'set,get' },
    systems: { type: 'string' },
    zookeeper: { type: 'boolean', default: false },
    size: { type: 'string', default: '3' },
    repeat: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
  },
})

const SECONDS = positive('seconds')
const WARMUP_SECONDS = Number(values['warmup-seconds'])
const CLIENTS = positive('clients')
const IN_FLIGHT = positive('in-flight')
const BYTES = Number(values.bytes)
/** SIZE is the number of members; 1 runs a standalone server (for trying the bench without an ensemble). */
const SIZE = positive('size')
/** REPEAT is how many times each (system, op) is measured; the table shows the medians. */
const REPEAT = positive('repeat')
const SESSION_TIMEOUT_MS = 10_000
/** CALL_TIMEOUT_MS is generous: under this load a slow reply is a latency to measure, not a failure. */
const CALL_TIMEOUT_MS = 10_000

type Op = 'set' | 'create' | 'get'
const OPS = values.ops.split(',').map((o) => o.trim()) as Op[]
for (const op of OPS)
  if (!['set', 'create', 'get'].includes(op))
    throw new Error(`unknown op ${op} (known: set, create, get)`)

function positive(name: keyof typeof values): number {
  const n = Number(values[name])
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`--${name} must be a positive number, got ${String(values[name])}`)
  return n
}

function systemsToRun(): string[] {
  if (values.systems !== undefined)
    return values.systems.split(',').map((s) => s.trim().toLowerCase())
  return zookeeperInstalled() || values.zookeeper ? ['conclave', 'zookeeper'] : ['conclave']
}

/** Result is one (system, op) measurement. */
interface Result {
  system: string
  op: Op
  opsPerSecond: number
  p50Ms: number
  p99Ms: number
  errors: number
  /** generatorCpu is the load generator's CPU time over the measured window, in cores (1 = one core busy). */
  generatorCpu: number
}

const keyOf = (client: number, slot: number) => `/bench/c${client}-${slot}`

/** runOp drives every slot of every client with `op` through the warm-up and the measured window. */
async function runOp(
  system: string,
  sessions: BenchSession[],
  op: Op,
  value: Uint8Array,
): Promise<Result> {
  const latencies: number[] = []
  let errors = 0
  let created = 0
  const measureFrom = performance.now() + WARMUP_SECONDS * 1000
  const measureTo = measureFrom + SECONDS * 1000
  let cpuAtStart: NodeJS.CpuUsage | undefined
  const cpuTimer = setTimeout(
    () => (cpuAtStart = process.cpuUsage()),
    measureFrom - performance.now(),
  )
  const slot = async (client: number, s: number) => {
    const session = sessions[client]!
    const key = keyOf(client, s)
    while (performance.now() < measureTo) {
      const startedAt = performance.now()
      try {
        if (op === 'set') await session.set(key, value, CALL_TIMEOUT_MS)
        else if (op === 'get') await session.get(key, CALL_TIMEOUT_MS)
        else
          await session.ensure(`/bench-create/c${client}-${s}-${++created}`, value, CALL_TIMEOUT_MS)
        const doneAt = performance.now()
        if (doneAt >= measureFrom && doneAt < measureTo) latencies.push(doneAt - startedAt)
      } catch {
        if (performance.now() >= measureFrom) errors++
      }
    }
  }
  await Promise.all(
    sessions.flatMap((_, client) => Array.from({ length: IN_FLIGHT }, (_, s) => slot(client, s))),
  )
  clearTimeout(cpuTimer)
  const cpu = process.cpuUsage(cpuAtStart)
  return {
    system,
    op,
    opsPerSecond: latencies.length / SECONDS,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    errors,
    generatorCpu:
      cpuAtStart === undefined
        ? Number.NaN
        : (cpu.user + cpu.system) / 1e6 / ((performance.now() - measureFrom) / 1000),
  }
}

/** Prepared is a running ensemble with its clients connected and its keys created. */
interface Prepared {
  ensemble: BenchEnsemble
  sessions: BenchSession[]
}

/** prepare starts an ensemble, waits until it is whole, connects the clients and creates the keys. */
async function prepare(name: string, value: Uint8Array): Promise<Prepared> {
  let ensemble: BenchEnsemble
  if (name === 'zookeeper') {
    if (!zookeeperInstalled())
      throw new Error('ZooKeeper is not installed (apt-get install -y zookeeper)')
    ensemble = await startZooKeeper({ size: SIZE, keep: values.keep })
  } else if (name === 'conclave') {
    ensemble = await startConclave({
      size: SIZE,
      keep: values.keep,
      ...(values['cpu-prof'] === undefined ? {} : { cpuProfileDir: values['cpu-prof'] }),
    })
  } else {
    throw new Error(`unknown system ${name} (known: conclave, zookeeper)`)
  }
  console.log(
    `${ensemble.system}: ${ensemble.size} member(s) on loopback, data and logs in ${ensemble.dir}`,
  )
  try {
    await waitWhole(ensemble, 120_000)
    const sessions = await Promise.all(
      Array.from({ length: CLIENTS }, (_, c) =>
        ensemble.connect(c % ensemble.size, SESSION_TIMEOUT_MS),
      ),
    )
    await sessions[0]!.ensure('/bench', new Uint8Array(0), CALL_TIMEOUT_MS)
    await sessions[0]!.ensure('/bench-create', new Uint8Array(0), CALL_TIMEOUT_MS)
    await Promise.all(
      sessions.flatMap((session, c) =>
        Array.from({ length: IN_FLIGHT }, (_, s) =>
          session.ensure(keyOf(c, s), value, CALL_TIMEOUT_MS),
        ),
      ),
    )
    return { ensemble, sessions }
  } catch (err) {
    await ensemble.stop()
    throw err
  }
}

/** rssLine reports every member's resident memory. */
function rssLine(ensemble: BenchEnsemble): string {
  const rss = Array.from({ length: ensemble.size }, (_, i) => ensemble.rssBytes(i))
  return `${ensemble.system} RSS after the run: ${rss.map((b, i) => `member ${i + 1} ${b === undefined ? '-' : `${fixed(b / 2 ** 20, 0)} MiB`}`).join(', ')}`
}

/** medianResult combines the repeats of one (system, op): the median of each figure. */
function medianResult(runs: readonly Result[]): Result {
  const m = (f: (r: Result) => number) => median(runs.map(f))
  return {
    system: runs[0]!.system,
    op: runs[0]!.op,
    opsPerSecond: m((r) => r.opsPerSecond),
    p50Ms: m((r) => r.p50Ms),
    p99Ms: m((r) => r.p99Ms),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    generatorCpu: m((r) => r.generatorCpu),
  }
}

async function main(): Promise<void> {
  console.log(
    `machine: ${cpus().length} cores, load average ${fixed(loadavg()[0]!, 1)} before the run (other jobs share the machine)`,
  )
  console.log(
    `ensemble: ${CLIENTS} clients spread over ${SIZE} member(s) x ${IN_FLIGHT} in flight, ${BYTES}-byte values, ` +
      `${WARMUP_SECONDS} s warm-up then ${SECONDS} s measured per op (${OPS.join(', ')}), ${REPEAT} repeat(s), systems taking turns`,
  )
  const value = new Uint8Array(BYTES).fill(0x61)
  const prepared: Prepared[] = []
  const skipped: string[] = []
  const runs: Result[] = []
  const memory: string[] = []
  try {
    // Every ensemble runs from the start and the systems take turns, so a change in the
    // machine's background load falls on both rather than on whichever ran second.
    for (const name of systemsToRun()) {
      try {
        prepared.push(await prepare(name, value))
      } catch (err) {
        const message = (err as Error).message
        console.log(`${name}: not measured: ${message}`)
        skipped.push(`${name}: ${message.split('\n')[0]}`)
      }
    }
    for (let repeat = 1; repeat <= REPEAT; repeat++) {
      for (const op of OPS) {
        for (const { ensemble, sessions } of prepared) {
          const result = await runOp(ensemble.system, sessions, op, value)
          runs.push(result)
          console.log(
            `  ${ensemble.system} ${op} (${repeat}/${REPEAT}): ${thousands(result.opsPerSecond)} ops/s, p50 ${fixed(result.p50Ms, 2)} ms, p99 ${fixed(result.p99Ms, 2)} ms, ` +
              `${result.errors} errors; load generator ${fixed(result.generatorCpu * 100, 0)}% of a core, load average ${fixed(loadavg()[0]!, 1)}`,
          )
        }
      }
    }
    for (const { ensemble } of prepared) memory.push(rssLine(ensemble))
  } finally {
    for (const { ensemble, sessions } of prepared) {
      await Promise.all(sessions.map((s) => s.close()))
      await ensemble.stop()
    }
  }
  const results: Result[] = []
  for (const { ensemble } of prepared) {
    for (const op of OPS)
      results.push(medianResult(runs.filter((r) => r.system === ensemble.system && r.op === op)))
  }
  const rows = [['system', 'op', 'ops/s', 'p50 ms', 'p99 ms', 'errors']]
  for (const r of results)
    rows.push([
      r.system,
      r.op,
      thousands(r.opsPerSecond),
      fixed(r.p50Ms, 2),
      fixed(r.p99Ms, 2),
      String(r.errors),
    ])
  for (const op of OPS) {
    const conclave = results.find((r) => r.system === 'Conclave' && r.op === op)
    const zookeeper = results.find((r) => r.system === 'ZooKeeper' && r.op === op)
    if (conclave === undefined || zookeeper === undefined) continue
    rows.push([
      'Conclave/ZooKeeper',
      op,
      fixed(conclave.opsPerSecond / zookeeper.opsPerSecond, 2),
      fixed(conclave.p50Ms / zookeeper.p50Ms, 2),
      fixed(conclave.p99Ms / zookeeper.p99Ms, 2),
      '',
    ])
  }
  console.log(`\n${REPEAT > 1 ? `medians of ${REPEAT} repeats:\n` : ''}${table(rows, 2)}\n`)
  for (const line of memory) console.log(line)
  for (const line of skipped) console.log(`not measured: ${line}`)
}

await main()
