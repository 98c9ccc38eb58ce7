/**
 * Ensemble throughput benchmark (issues 5 and 13): throughput, p50/p99 latency and CPU
 * time per op of a 3-member ensemble, for Conclave and, when it is installed, Apache
 * ZooKeeper with its default settings, under the same loads on the same machine.
 *
 * Loads are shapes, `op@CLIENTSxIN_FLIGHT` (bench/lib/shapes.ts), each a row of the table:
 * - set: replaces a pre-created key's value (any version);
 * - get: reads a key (served by the member the client is on);
 * - mix: each request a get (90%) or a set (10%), picked by a seeded PRNG per slot;
 * - create: creates a new persistent node under /bench-create.
 * Client c of a shape is a session on member (leader + 1 + c) mod size, so a lone client
 * is on a follower in both systems; each slot has its own key holding --bytes bytes. The
 * largest client count of any shape is connected once per system and smaller shapes
 * use its first clients; every key any shape uses is created up front.
 *
 * Each shape runs a warm-up, then a measured window; a request counts when its reply
 * arrives inside the window. At the window's edges the bench reads every member's CPU time
 * (/proc/<pid>/stat) and its own (process.cpuUsage()); Conclave members' event-loop lag is
 * polled from /status during the window. Both ensembles run from the start; first the whole
 * list of shapes runs --warmup-rounds times (left out of the results: the JVMs' JIT must be
 * warm), then --repeat measured rounds; within a round the systems take turns shape by
 * shape. The table shows the medians of the measured rounds.
 *
 * Run: npm run bench [-- --seconds 10 --warmup-seconds 3 --warmup-rounds 1 --repeat 1
 *        --shapes set@32x4,get@1x1 --bytes 100 --systems conclave,zookeeper --seed 1
 *        --json FILE --keep --cpu-prof DIR]
 * (--ops set,get --clients 32 --in-flight 4 is the older spelling of --shapes
 * set@32x4,get@32x4; --cpu-prof: each Conclave member writes a V8 CPU profile to DIR.)
 * This is a measurement, not a test: the load generator is one Node process on the
 * same machine as the servers, so it competes with them for the CPU.
 */
import { writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { startConclave } from './lib/conclave-ensemble.js'
import { clockTicksPerSecond } from './lib/cpu-sampler.js'
import { waitWhole, type BenchEnsemble } from './lib/ensemble.js'
import { comparisonTable, eventLoopTable, memberCpuTable } from './lib/results-table.js'
import type { BenchSession } from './lib/session.js'
import { measureShape, medianResult, type ShapeResult } from './lib/shape-measure.js'
import { clientsNeeded, DEFAULT_SHAPES, keysNeeded, parseShapes } from './lib/shapes.js'
import { fixed, thousands } from './lib/stats.js'
import { startZooKeeper, zookeeperInstalled } from './lib/zookeeper-ensemble.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    'warmup-seconds': { type: 'string', default: '3' },
    'warmup-rounds': { type: 'string', default: '1' },
    shapes: { type: 'string' },
    ops: { type: 'string' },
    clients: { type: 'string', default: '32' },
    'in-flight': { type: 'string', default: '4' },
    bytes: { type: 'string', default: '100' },
    systems: { type: 'string' },
    zookeeper: { type: 'boolean', default: false },
    size: { type: 'string', default: '3' },
    repeat: { type: 'string', default: '1' },
    seed: { type: 'string', default: '1' },
    json: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
  },
})

const SECONDS = positive('seconds')
const WARMUP_SECONDS = atLeastZero('warmup-seconds')
/** WARMUP_ROUNDS is how many times the whole list of shapes runs per system before the measured rounds. */
const WARMUP_ROUNDS = atLeastZero('warmup-rounds')
const BYTES = atLeastZero('bytes')
/** SIZE is the number of members; 1 runs a standalone server (for trying the bench without an ensemble). */
const SIZE = positive('size')
/** REPEAT is how many measured rounds run; the table shows the medians. */
const REPEAT = positive('repeat')
const SEED = Number(values.seed)
const SESSION_TIMEOUT_MS = 10_000
/** CALL_TIMEOUT_MS is generous: under this load a slow reply is a latency to measure, not a failure. */
const CALL_TIMEOUT_MS = 10_000

if (values.shapes !== undefined && values.ops !== undefined)
  throw new Error('give --shapes or --ops (with --clients/--in-flight), not both')
/** SHAPES: --shapes, or --ops each at --clients x --in-flight, or the full default list. */
const SHAPES =
  values.ops !== undefined
    ? parseShapes(values.ops, positive('clients'), positive('in-flight'))
    : parseShapes(values.shapes ?? DEFAULT_SHAPES)
const CLIENTS = clientsNeeded(SHAPES)

function positive(name: keyof typeof values): number {
  const n = Number(values[name])
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`--${name} must be a positive number, got ${String(values[name])}`)
  return n
}

function atLeastZero(name: keyof typeof values): number {
  const n = Number(values[name])
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`--${name} must be a number >= 0, got ${String(values[name])}`)
  return n
}

function systemsToRun(): string[] {
  if (values.systems !== undefined)
    return values.systems.split(',').map((s) => s.trim().toLowerCase())
  return zookeeperInstalled() || values.zookeeper ? ['conclave', 'zookeeper'] : ['conclave']
}

/** Prepared is a running ensemble with its clients connected (sessions[c] is client c) and its keys created. */
interface Prepared {
  ensemble: BenchEnsemble
  sessions: BenchSession[]
  /** leader is the index of the member that led when the clients connected. */
  leader: number
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
    const leader = await waitWhole(ensemble, 120_000)
    // Counting from the member after the leader puts client 0 (the lone client of the
    // 1x1 shapes) on a follower in both systems, and spreads the rest alike.
    const sessions = await Promise.all(
      Array.from({ length: CLIENTS }, (_, c) =>
        ensemble.connect((leader + 1 + c) % ensemble.size, SESSION_TIMEOUT_MS),
      ),
    )
    await sessions[0]!.ensure('/bench', new Uint8Array(0), CALL_TIMEOUT_MS)
    await sessions[0]!.ensure('/bench-create', new Uint8Array(0), CALL_TIMEOUT_MS)
    const keys = keysNeeded(SHAPES)
    await Promise.all(
      keys.map((key, i) => sessions[i % sessions.length]!.ensure(key, value, CALL_TIMEOUT_MS)),
    )
    console.log(
      `${ensemble.system}: member ${leader + 1} leads; ${sessions.length} clients connected, ${keys.length} keys created`,
    )
    return { ensemble, sessions, leader }
  } catch (err) {
    await ensemble.stop()
    throw err
  }
}

/** memberRss is every member's resident memory in bytes (null where unreadable). */
function memberRss(ensemble: BenchEnsemble): (number | null)[] {
  return Array.from({ length: ensemble.size }, (_, i) => ensemble.rssBytes(i) ?? null)
}

function rssLine(system: string, rss: readonly (number | null)[]): string {
  return `${system} RSS after the run: ${rss.map((b, i) => `member ${i + 1} ${b === null ? '-' : `${fixed(b / 2 ** 20, 0)} MiB`}`).join(', ')}`
}

/** runLine is the progress line printed after each run of a shape. */
function runLine(label: string, r: ShapeResult): string {
  return (
    `  ${r.system} ${r.shape} (${label}): ${thousands(r.opsPerSecond)} ops/s, p50 ${fixed(r.p50Ms, 2)} ms, p99 ${fixed(r.p99Ms, 2)} ms, ` +
    `${r.errors} errors; server CPU ${thousands(r.serverCpuMicrosPerOp)} µs/op, load generator ${thousands(r.generatorCpuMicrosPerOp)} µs/op ` +
    `(${fixed(r.generatorCores * 100, 0)}% of a core), load average ${fixed(loadavg()[0]!, 1)}`
  )
}

/** round runs every shape once on every prepared system, the systems taking turns shape by shape. */
async function round(prepared: readonly Prepared[], label: string, value: Uint8Array) {
  const results: ShapeResult[] = []
  for (const shape of SHAPES) {
    for (const { ensemble, sessions } of prepared) {
      const result = await measureShape(ensemble, sessions, shape, {
        warmupSeconds: WARMUP_SECONDS,
        seconds: SECONDS,
        value,
        callTimeoutMs: CALL_TIMEOUT_MS,
        seed: SEED,
      })
      results.push(result)
      console.log(runLine(label, result))
    }
  }
  return results
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0]!
  console.log(
    `machine: ${cpus().length} cores, load average ${fixed(loadBefore, 1)} before the run (other jobs share the machine)`,
  )
  console.log(
    `ensemble: shapes ${SHAPES.map((s) => s.name).join(', ')} (op@clients x in flight) over ${SIZE} member(s), ${BYTES}-byte values, ` +
      `${WARMUP_SECONDS} s warm-up then ${SECONDS} s measured per shape; ${WARMUP_ROUNDS} warm-up round(s) then ${REPEAT} measured round(s), systems taking turns; ` +
      `CPU from /proc/<pid>/stat at ${clockTicksPerSecond} ticks/s`,
  )
  const value = new Uint8Array(BYTES).fill(0x61)
  const prepared: Prepared[] = []
  const skipped: string[] = []
  const warmups: ShapeResult[] = []
  const runs: (ShapeResult & { repeat: number })[] = []
  const rss = new Map<string, (number | null)[]>()
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
    for (let n = 1; n <= WARMUP_ROUNDS; n++)
      warmups.push(...(await round(prepared, `warm-up round ${n}/${WARMUP_ROUNDS}`, value)))
    for (let repeat = 1; repeat <= REPEAT; repeat++)
      for (const r of await round(prepared, `${repeat}/${REPEAT}`, value))
        runs.push({ ...r, repeat })
    for (const { ensemble } of prepared) rss.set(ensemble.system, memberRss(ensemble))
  } finally {
    for (const { ensemble, sessions } of prepared) {
      await Promise.all(sessions.map((s) => s.close()))
      await ensemble.stop()
    }
  }
  const medians: ShapeResult[] = []
  for (const { ensemble } of prepared)
    for (const shape of SHAPES)
      medians.push(
        medianResult(runs.filter((r) => r.system === ensemble.system && r.shape === shape.name)),
      )
  const shapeNames = SHAPES.map((s) => s.name)
  const leaders = new Map(prepared.map((p) => [p.ensemble.system, p.leader]))
  console.log(
    `\n${REPEAT > 1 ? `medians of ${REPEAT} measured rounds` : 'one measured round'} (CPU: µs of CPU time per op, server = all members summed, client = the load generator):\n` +
      `${comparisonTable(medians, shapeNames)}\n`,
  )
  console.log(
    `each member's share of the servers' CPU (L: the leader):\n${memberCpuTable(medians, leaders)}\n`,
  )
  const lag = eventLoopTable(medians)
  if (lag !== '')
    console.log(
      `event-loop lag, largest reported by each member's /status during the window (its own 5 s windows, so it may reach back into the warm-up):\n${lag}\n`,
    )
  for (const [system, bytes] of rss) console.log(rssLine(system, bytes))
  for (const line of skipped) console.log(`not measured: ${line}`)
  if (values.json !== undefined) {
    const report = {
      date: new Date().toISOString(),
      machine: {
        cores: cpus().length,
        loadAverageBefore: loadBefore,
        loadAverageAfter: loadavg()[0],
      },
      options: {
        shapes: SHAPES,
        seconds: SECONDS,
        warmupSeconds: WARMUP_SECONDS,
        warmupRounds: WARMUP_ROUNDS,
        repeat: REPEAT,
        bytes: BYTES,
        size: SIZE,
        seed: SEED,
        clockTicksPerSecond,
      },
      systems: prepared.map((p) => ({
        system: p.ensemble.system,
        leaderMember: p.leader + 1,
        rssBytes: rss.get(p.ensemble.system) ?? null,
      })),
      skipped,
      warmups,
      runs,
      medians,
    }
    // NaN (a shape with no replies) is not JSON; null says "no figure".
    writeFileSync(
      values.json,
      JSON.stringify(
        report,
        (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
        2,
      ) + '\n',
    )
    console.log(`results written to ${values.json}`)
  }
}

await main()
