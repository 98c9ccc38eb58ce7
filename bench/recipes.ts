/**
 * Recipe benchmark: what the coordination recipes cost on a local 3-member ensemble
 * with default settings (tickMs 100), clients spread over the members.
 *
 * - election handover: a leader resigns; time until the next candidate's campaign
 *   resolves (3 candidates, the one that resigned joins the back of the line again);
 * - mutex, uncontended: acquire and release latency of one client alone;
 * - mutex, contended: acquisitions per second with --clients clients looping
 *   acquire, release (each acquisition waits for the previous holder's release);
 * - semaphore (maxLeases 4), contended: the same with --clients clients;
 * - tree cache: time to load a tree of --nodes nodes, then the delay from a set to the
 *   cache's `changed` event for it;
 * - counter: increments per second with --clients clients incrementing one counter
 *   (compare-and-set, so conflicts cost retries);
 * - queue: items per second from one producer through --consumers consumers.
 *
 * Run: npm run bench:recipes [-- --seconds 5 --rounds 100 --clients 8 --consumers 4 --nodes 1000 --size 3
 *        --only election,mutex,semaphore,cache,counter,queue --keep]
 * A measurement, not a test: the clients run in one Node process on the same machine
 * as the members and compete with them for the CPU.
 */
import { readFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  connect,
  counter,
  election,
  mutex,
  queue,
  semaphore,
  treeCache,
  type Client,
} from '../client/index.js'
import { startConclave } from './lib/conclave-ensemble.js'
import { waitWhole } from './lib/ensemble.js'
import { fixed, percentile, table, thousands } from './lib/stats.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '100' },
    clients: { type: 'string', default: '8' },
    consumers: { type: 'string', default: '4' },
    nodes: { type: 'string', default: '1000' },
    size: { type: 'string', default: '3' },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
})
/** ONLY limits the run to some measurements: election,mutex,semaphore,cache,counter,queue. */
const ONLY = new Set((values.only ?? 'election,mutex,semaphore,cache,counter,queue').split(','))
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const CLIENTS = Number(values.clients)
const CONSUMERS = Number(values.consumers)
const NODES = Number(values.nodes)
const SIZE = Number(values.size)
const SESSION_TIMEOUT_MS = 10_000

/** Row is one line of the results table. */
interface Row {
  what: string
  rate?: number
  p50Ms?: number
  p99Ms?: number
  maxMs?: number
  note?: string
}

const rows: Row[] = []
const clients: Client[] = []

function latencyRow(what: string, samplesMs: number[], note?: string): Row {
  return {
    what,
    p50Ms: percentile(samplesMs, 0.5),
    p99Ms: percentile(samplesMs, 0.99),
    maxMs: Math.max(...samplesMs),
    ...(note === undefined ? {} : { note }),
  }
}

/** openClients opens `count` sessions, client i on member i mod size first. */
async function openClients(urls: string[], count: number): Promise<Client[]> {
  const opened = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      connect({
        servers: [urls[i % urls.length]!],
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        requestTimeoutMs: SESSION_TIMEOUT_MS,
      }),
    ),
  )
  clients.push(...opened)
  return opened
}

async function electionHandover(urls: string[]): Promise<void> {
  const candidates = await openClients(urls, 3)
  const path = '/bench/election'
  const handles = candidates.map((c, i) => election(c, path, { id: `c${i}` }))
  let leadership = await handles[0]!.campaign()
  let leaderIndex = 0
  const waiting = new Map([1, 2].map((i) => [i, handles[i]!.campaign().then((l) => ({ i, l }))]))
  const samples: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now()
    await leadership.resign()
    const next = await Promise.race(waiting.values())
    samples.push(performance.now() - started)
    waiting.delete(next.i)
    const resigned = leaderIndex
    waiting.set(
      resigned,
      handles[resigned]!.campaign().then((l) => ({ i: resigned, l })),
    )
    leadership = next.l
    leaderIndex = next.i
    // The one that resigned must be back in line before the next round.
    await waitForLine(candidates[0]!, path, 3)
  }
  rows.push(latencyRow('election: resign to next leader', samples, '3 candidates'))
  await leadership.resign()
  // The others are still in line; each resigns once it leads, and closing the clients ends the rest.
  for (const w of waiting.values()) void w.then((x) => x.l.resign()).catch(() => {})
}

async function waitForLine(client: Client, path: string, length: number): Promise<void> {
  while ((await client.children(path)).length < length)
    await new Promise((resolve) => setTimeout(resolve, 1))
}

async function mutexUncontended(urls: string[]): Promise<void> {
  const [client] = await openClients(urls, 1)
  const lock = mutex(client!, '/bench/mutex-alone')
  const acquireMs: number[] = []
  const releaseMs: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    let started = performance.now()
    const lease = await lock.acquire()
    acquireMs.push(performance.now() - started)
    started = performance.now()
    await lease.release()
    releaseMs.push(performance.now() - started)
  }
  rows.push(latencyRow('mutex alone: acquire', acquireMs))
  rows.push(latencyRow('mutex alone: release', releaseMs))
}

async function contended(
  urls: string[],
  what: string,
  acquire: (client: Client) => Promise<{ release(): Promise<void> }>,
  note: string,
): Promise<void> {
  const contenders = await openClients(urls, CLIENTS)
  const deadline = performance.now() + SECONDS * 1000
  let acquisitions = 0
  const waitMs: number[] = []
  await Promise.all(
    contenders.map(async (client) => {
      while (performance.now() < deadline) {
        const started = performance.now()
        const lease = await acquire(client)
        waitMs.push(performance.now() - started)
        acquisitions++
        await lease.release()
      }
    }),
  )
  rows.push({ ...latencyRow(what, waitMs, note), rate: acquisitions / SECONDS })
}

async function cacheBench(urls: string[]): Promise<void> {
  const [writer, reader] = await openClients(urls, 2)
  const root = '/bench/cache'
  await writer!.create(root, '', { makeParents: true })
  const fanout = Math.ceil(Math.sqrt(NODES))
  const writes: Promise<unknown>[] = []
  for (let i = 0; i < fanout; i++) writes.push(writer!.create(`${root}/g${i}`, ''))
  await Promise.all(writes)
  writes.length = 0
  for (let i = 0; i < NODES - fanout; i++)
    writes.push(writer!.create(`${root}/g${i % fanout}/n${i}`, `value ${i}`))
  await Promise.all(writes)
  let started = performance.now()
  const cache = treeCache(reader!, root)
  await cache.start()
  rows.push({
    what: `tree cache: load ${thousands(cache.size)} nodes`,
    p50Ms: performance.now() - started,
  })
  const pending = new Map<string, (at: number) => void>()
  const events = (async () => {
    for await (const event of cache.events())
      if (event.type === 'changed') pending.get(event.path)?.(performance.now())
  })()
  const samples: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const i = round % (NODES - fanout)
    const path = `${root}/g${i % fanout}/n${i}`
    const seen = new Promise<number>((resolve) => pending.set(path, resolve))
    started = performance.now()
    await writer!.set(path, `round ${round}`)
    samples.push((await seen) - started)
    pending.delete(path)
  }
  rows.push(
    latencyRow('tree cache: set to event', samples, 'writer and cache on different members'),
  )
  await cache.close()
  await events
}

async function counterBench(urls: string[]): Promise<void> {
  const writers = await openClients(urls, CLIENTS)
  const deadline = performance.now() + SECONDS * 1000
  let increments = 0
  const samples: number[] = []
  await Promise.all(
    writers.map(async (client) => {
      const shared = counter(client, '/bench/counter')
      while (performance.now() < deadline) {
        const started = performance.now()
        await shared.increment()
        samples.push(performance.now() - started)
        increments++
      }
    }),
  )
  await writers[0]!.sync('/bench/counter') // a plain read may be behind the other members' last writes
  const final = await counter(writers[0]!, '/bench/counter').get()
  rows.push({
    ...latencyRow(
      'counter: increment',
      samples,
      `${CLIENTS} clients on one counter; final ${final} = ${increments} increments`,
    ),
    rate: increments / SECONDS,
  })
}

async function queueBench(urls: string[]): Promise<void> {
  const [producer, ...consumers] = await openClients(urls, 1 + CONSUMERS)
  const path = '/bench/queue'
  const items = Math.max(50, ROUNDS * 5)
  const started = performance.now()
  let taken = 0
  const done = new AbortController()
  const consuming = Promise.all(
    consumers.map(async (client) => {
      const q = queue(client, path)
      while (!done.signal.aborted) {
        const item = await q.take({ signal: done.signal }).catch(() => null)
        if (item !== null && ++taken === items) done.abort()
      }
    }),
  )
  const q = queue(producer!, path)
  const puts: Promise<unknown>[] = []
  for (let i = 0; i < items; i++) puts.push(q.put(`item ${i}`))
  await Promise.all(puts)
  await consuming
  rows.push({
    what: 'queue: put to take',
    rate: items / ((performance.now() - started) / 1000),
    note: `${items} items, 1 producer, ${CONSUMERS} consumers`,
  })
}

const ensemble = await startConclave({ size: SIZE, keep: values.keep })
try {
  await waitWhole(ensemble, 60_000)
  const urls = Array.from({ length: SIZE }, (_, i) => {
    const config = JSON.parse(
      readFileSync(join(ensemble.dir, `member${i + 1}`, 'config.json'), 'utf8'),
    ) as { clientPort: number }
    return `ws://127.0.0.1:${config.clientPort}`
  })
  console.log(
    `Conclave, ${SIZE} member(s), default settings; ${cpus().length} cores, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
  if (ONLY.has('election')) await electionHandover(urls)
  if (ONLY.has('mutex')) {
    await mutexUncontended(urls)
    await contended(
      urls,
      'mutex: wait to acquire',
      (c) => mutex(c, '/bench/mutex').acquire(),
      `${CLIENTS} clients`,
    )
  }
  if (ONLY.has('semaphore')) {
    const acquire = (c: Client) => semaphore(c, '/bench/semaphore', { leases: 4 }).acquire()
    await contended(urls, 'semaphore(4): wait to acquire', acquire, `${CLIENTS} clients`)
  }
  if (ONLY.has('cache')) await cacheBench(urls)
  if (ONLY.has('counter')) await counterBench(urls)
  if (ONLY.has('queue')) await queueBench(urls)
  console.log(
    table([
      ['measurement', 'per second', 'p50 ms', 'p99 ms', 'max ms', 'note'],
      ...rows.map((r) => [
        r.what,
        r.rate === undefined ? '' : thousands(r.rate),
        r.p50Ms === undefined ? '' : fixed(r.p50Ms, 1),
        r.p99Ms === undefined ? '' : fixed(r.p99Ms, 1),
        r.maxMs === undefined ? '' : fixed(r.maxMs, 1),
        r.note ?? '',
      ]),
    ]),
  )
} finally {
  await Promise.all(clients.map((c) => c.close()))
  await ensemble.stop()
}
