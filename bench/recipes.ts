/**
 * Recipe benchmark: what the coordination recipes cost on a local 3-member ensemble
 * with default settings (tickMs 100), clients spread over the members.
 *
 * - election handover after resign: time until the next candidate's campaign resolves
 *   (3 candidates; the one that resigned joins the back of the line again);
 * - election handover after kill -9: a leader in a process of its own is killed; time
 *   until the next candidate (another process) reports leading, for session timeouts
 *   of 2 s and 10 s (--kill-rounds each);
 * - mutex: acquire and release latency of one client alone, and acquire-release rounds
 *   per second with 1 and with --clients contenders looping;
 * - semaphore (4 leases): the same rate with --clients contenders;
 * - tree cache: time to load a tree of --nodes nodes, to catch up after a dropped
 *   connection (re-read of the whole tree), and the delay from a set to the event;
 * - counter: increments per second with 8 clients on one counter (compare-and-set, so
 *   conflicts cost retries);
 * - queue: items per second from one producer through --consumers consumers.
 *
 * Run: npm run bench:recipes [-- --seconds 5 --rounds 100 --clients 16 --consumers 4 --nodes 10000
 *        --kill-rounds 3 --size 3 --only election,kill,mutex,semaphore,cache,counter,queue --keep]
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
// Candidates in processes of their own, and a proxy to cut a connection: the test
// helpers do exactly this.
import { startRecipeProcess, type RecipeProcess } from '../test/helpers/recipe-process.js'
import { startProxy, type TcpProxy } from '../test/helpers/tcp-proxy.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '100' },
    clients: { type: 'string', default: '16' },
    consumers: { type: 'string', default: '4' },
    nodes: { type: 'string', default: '10000' },
    'kill-rounds': { type: 'string', default: '3' },
    size: { type: 'string', default: '3' },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
})
/** ONLY limits the run to some measurements: election,kill,mutex,semaphore,cache,counter,queue. */
const ONLY = new Set(
  (values.only ?? 'election,kill,mutex,semaphore,cache,counter,queue').split(','),
)
const KILL_ROUNDS = Number(values['kill-rounds'])
/** COUNTER_CLIENTS contend for one counter (8: one hot counter is the worst case, not the use). */
const COUNTER_CLIENTS = 8
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
const proxies: TcpProxy[] = []
const spawned: RecipeProcess[] = []

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
  count: number,
  acquire: (client: Client) => Promise<{ release(): Promise<void> }>,
): Promise<void> {
  const contenders = await openClients(urls, count)
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
  const note = `${count} contender${count === 1 ? '' : 's'}; latency: acquire (waiting included)`
  rows.push({ ...latencyRow(what, waitMs, note), rate: acquisitions / SECONDS })
}

/**
 * killHandover: a leader in a process of its own is killed -9; the time until the next
 * candidate, another process, reports leading. Each round starts one new candidate, so
 * there are always two.
 */
async function killHandover(urls: string[], sessionTimeoutMs: number): Promise<void> {
  const path = `/bench/election-kill-${sessionTimeoutMs}`
  const start = async (name: string) => {
    const proc = await startRecipeProcess('recipe-candidate-main.ts', name, {
      servers: urls,
      sessionTimeoutMs,
      storeUrl: 'http://127.0.0.1:9',
    })
    spawned.push(proc)
    proc.send({ cmd: 'campaign', path })
    return proc
  }
  const reader = (await openClients(urls, 1))[0]!
  let leader = await start('k0')
  await leader.next((e) => e.event === 'leader', { what: 'first leader' })
  const samples: number[] = []
  for (let round = 1; round <= KILL_ROUNDS; round++) {
    const next = await start(`k${round}`)
    while ((await reader.children(path)).length < 2)
      await new Promise((resolve) => setTimeout(resolve, 10))
    const killedAt = Date.now()
    leader.kill('SIGKILL')
    const elected = await next.next((e) => e.event === 'leader', {
      what: 'next leader',
      timeoutMs: sessionTimeoutMs * 3 + 10_000,
    })
    samples.push((elected.at as number) - killedAt)
    leader = next
  }
  rows.push(
    latencyRow(
      `election: kill -9 to next leader, session ${sessionTimeoutMs / 1000} s`,
      samples,
      `${KILL_ROUNDS} kills; leader and candidate in their own processes`,
    ),
  )
}

async function cacheBench(urls: string[], memberPorts: number[]): Promise<void> {
  const [writer, reader] = await openClients(urls, 2)
  const root = '/bench/cache'
  await writer!.create(root, '', { makeParents: true })
  const fanout = Math.ceil(Math.sqrt(NODES))
  const writes: Promise<unknown>[] = []
  let started = performance.now()
  for (let i = 0; i < fanout; i++) writes.push(writer!.create(`${root}/g${i}`, ''))
  await Promise.all(writes)
  writes.length = 0
  for (let i = 0; i < NODES - fanout; i++)
    writes.push(writer!.create(`${root}/g${i % fanout}/n${i}`, `value ${i}`))
  await Promise.all(writes)
  process.stderr.write(
    `created ${NODES} nodes in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  )

  started = performance.now()
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

  // Catch-up: a second cache reaches its member through a proxy that cuts the
  // connection; once the client is back, the whole tree is read again and compared
  // (the server does not replay what a persistent watch missed).
  const proxy = await startProxy(memberPorts[1 % memberPorts.length]!)
  proxies.push(proxy)
  const cut = await connect({
    servers: [proxy.url],
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    requestTimeoutMs: SESSION_TIMEOUT_MS,
  })
  clients.push(cut)
  const second = treeCache(cut, root)
  await second.start()
  const resynced = new Promise<number>((resolve) => {
    void (async () => {
      for await (const event of second.events())
        if (event.type === 'resynced') return resolve(performance.now())
    })()
  })
  const reconnected = new Promise<number>((resolve) =>
    cut.on('state', (state) => state === 'connected' && resolve(performance.now())),
  )
  proxy.cut()
  const back = await reconnected
  rows.push({
    what: `tree cache: catch up ${thousands(second.size)} nodes after a drop`,
    p50Ms: (await resynced) - back,
    note: 'from the reconnect to `resynced`',
  })
  await second.close()
}

async function counterBench(urls: string[]): Promise<void> {
  const writers = await openClients(urls, COUNTER_CLIENTS)
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
      `${COUNTER_CLIENTS} clients on one counter; final ${final} = ${increments} increments`,
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
  const ports = Array.from({ length: SIZE }, (_, i) => {
    const config = JSON.parse(
      readFileSync(join(ensemble.dir, `member${i + 1}`, 'config.json'), 'utf8'),
    ) as { clientPort: number }
    return config.clientPort
  })
  const urls = ports.map((port) => `ws://127.0.0.1:${port}`)
  console.log(
    `Conclave, ${SIZE} member(s), default settings; ${cpus().length} cores, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
  if (ONLY.has('election')) await electionHandover(urls)
  if (ONLY.has('kill')) {
    await killHandover(urls, 2000)
    await killHandover(urls, 10_000)
  }
  if (ONLY.has('mutex')) {
    await mutexUncontended(urls)
    await contended(urls, 'mutex: acquire + release', 1, (c) =>
      mutex(c, '/bench/mutex-1').acquire(),
    )
    await contended(urls, 'mutex: acquire + release', CLIENTS, (c) =>
      mutex(c, '/bench/mutex').acquire(),
    )
  }
  if (ONLY.has('semaphore')) {
    const acquire = (c: Client) => semaphore(c, '/bench/semaphore', { leases: 4 }).acquire()
    await contended(urls, 'semaphore(4): acquire + release', CLIENTS, acquire)
  }
  if (ONLY.has('cache')) await cacheBench(urls, ports)
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
  await Promise.all(spawned.map((p) => p.stop()))
  await Promise.all(clients.map((c) => c.close()))
  await Promise.all(proxies.map((p) => p.close()))
  await ensemble.stop()
}
