/**
 * Storage benchmark (issues 4 and 13), on the real disk in a temporary directory:
 * - appends/s and the fsync batch sizes with 1, 32 and 256 concurrent writers, each
 *   appending one txn at a time and waiting for it to be durable;
 * - snapshot time and the longest event-loop block while a snapshot is written, at
 *   200k and 1M znodes (perf_hooks.monitorEventLoopDelay);
 * - recovery time (open, read snapshot and log, rebuild the tree) at the same sizes,
 *   the median of `--runs` reopenings, each in a fresh process;
 * - restart to serving: a real `conclave server` process (standalone, built dist/)
 *   started on a data directory holding 200k znodes, timed from spawn until /health
 *   says serving and until a client's first read is answered, and its RSS then.
 *
 * Run: npm run bench:storage [-- --nodes 200000,1000000 --restart-nodes 200000
 *   --runs 3 --sections appends,snapshot,restart --seconds 5 --dir /path]
 * Recovery and restart run the built server: `npm run build` first.
 * This is a measurement, not a test: numbers depend on the disk and the machine.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Txn } from '../protocol/txn.js'
import { makeZxid } from '../protocol/zxid.js'
import { OPEN_ACL_UNSAFE } from '../protocol/types.js'
import { SessionTable } from '../server/sessions/session-table.js'
import { FileStorage } from '../server/storage/file-storage.js'
import { snapshotRequestOf } from '../server/storage/restore.js'
import { DataTree } from '../server/tree/data-tree.js'
import { connectConclave } from './lib/conclave-session.js'
import { MemberProcess } from './lib/member-process.js'
import { freePorts } from './lib/ports.js'
import { median } from './lib/stats.js'

const SESSION_OPTIONS = { tickMs: 100, minTimeoutMs: 2000, maxTimeoutMs: 60_000 }
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '200000,1000000' },
    'restart-nodes': { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    sections: { type: 'string', default: 'appends,snapshot,restart' },
    writers: { type: 'string', default: '1,32,256' },
    seconds: { type: 'string', default: '5' },
    dir: { type: 'string' },
    /** recover: internal, the child process of one recovery run. */
    recover: { type: 'string' },
  },
})
const baseDir = values.dir ?? tmpdir()
const runs = Math.max(1, Number(values.runs))
const sections = new Set(values.sections.split(','))
/** CLI is the built `conclave` command the restart measure starts. */
const CLI = fileURLToPath(new URL('../dist/server/cli/main.js', import.meta.url))
/** DIST_STORAGE is the built storage layer the recovery runs load. */
const DIST_STORAGE = new URL('../dist/server/storage/index.js', import.meta.url).href
/** HEALTH_POLL_MS: how often the restart measure asks /health whether the member serves. */
const HEALTH_POLL_MS = 5

function setTxn(counter: number): Txn {
  const data = new TextEncoder().encode(`value-${counter}-${'x'.repeat(100)}`)
  return {
    zxid: makeZxid(1, counter),
    timeMs: Date.now(),
    sessionId: 1n,
    xid: counter,
    op: { type: 'set', path: '/bench', data, version: counter },
  }
}

async function benchAppends(writers: number, seconds: number): Promise<void> {
  const dir = mkdtempSync(join(baseDir, 'conclave-bench-'))
  const batches: number[] = []
  try {
    const { storage } = await FileStorage.open(dir, { onBatch: (n) => batches.push(n) })
    let counter = 0
    let done = 0
    const deadline = performance.now() + seconds * 1000
    const writer = async () => {
      while (performance.now() < deadline) {
        await storage.append([setTxn(++counter)])
        done++
      }
    }
    const started = performance.now()
    await Promise.all(Array.from({ length: writers }, writer))
    const elapsed = (performance.now() - started) / 1000
    await storage.close()
    batches.sort((a, b) => a - b)
    const mean = batches.reduce((a, b) => a + b, 0) / batches.length
    const p = (q: number) => batches[Math.min(batches.length - 1, Math.floor(q * batches.length))]
    console.log(
      `appends  writers=${String(writers).padStart(3)}  ${Math.round(done / elapsed)
        .toLocaleString('en-US')
        .padStart(8)} appends/s  ` +
        `${Math.round(batches.length / elapsed).toLocaleString('en-US')} fsyncs/s  batch mean ${mean.toFixed(1)} p50 ${p(0.5)} p99 ${p(0.99)} max ${batches.at(-1)}`,
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** buildTree creates `count` znodes in a two-level fan-out and logs the txns in batches. */
async function buildTree(
  storage: FileStorage,
  count: number,
): Promise<{ tree: DataTree; sessions: SessionTable }> {
  const tree = new DataTree()
  const sessions = new SessionTable(SESSION_OPTIONS)
  const fanOut = 1000
  let counter = 0
  let batch: Txn[] = []
  const create = (path: string, parentCversion: number) => {
    const txn: Txn = {
      zxid: makeZxid(1, ++counter),
      timeMs: 1_700_000_000_000,
      sessionId: 0n,
      xid: counter,
      op: {
        type: 'create',
        path,
        data: new TextEncoder().encode(`node ${counter} payload`),
        acl: [...OPEN_ACL_UNSAFE],
        ephemeralOwner: 0n,
        container: false,
        ttlMs: 0,
        parentCversion,
      },
    }
    tree.apply(txn)
    batch.push(txn)
  }
  for (let parent = 0; counter < count; parent++) {
    create(`/p${parent}`, parent + 1)
    for (let child = 0; child < fanOut - 1 && counter < count; child++)
      create(`/p${parent}/c${child}`, child + 1)
    if (batch.length >= 10_000) {
      await storage.append(batch)
      batch = []
    }
  }
  if (batch.length > 0) await storage.append(batch)
  return { tree, sessions }
}

/**
 * snapshotOnce builds a tree of `count` znodes in `dir`, snapshots it while measuring
 * the event loop, and returns the tree's digest. The tree is dropped when it returns,
 * so recovery is then measured in a process that holds no other tree (as a restart).
 */
async function snapshotOnce(dir: string, count: number): Promise<bigint> {
  const { storage } = await FileStorage.open(dir, { segmentBytesMax: 256 * 1024 * 1024 })
  const { tree, sessions } = await buildTree(storage, count)
  const delay = monitorEventLoopDelay({ resolution: 1 })
  // A heartbeat every 10 ms shows whether timers keep firing during the snapshot.
  let heartbeats = 0
  const heartbeat = setInterval(() => heartbeats++, 10)
  delay.enable()
  const started = performance.now()
  const info = await storage.snapshot(snapshotRequestOf(tree, sessions))
  const elapsedMs = performance.now() - started
  delay.disable()
  clearInterval(heartbeat)
  console.log(
    `snapshot nodes=${count.toLocaleString('en-US').padStart(9)}  ${elapsedMs.toFixed(0)} ms  ${(info.sizeBytes / 1e6).toFixed(1)} MB  ` +
      `longest event-loop block ${(delay.max / 1e6).toFixed(1)} ms (p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms)  heartbeats ${heartbeats}`,
  )
  await storage.close()
  return tree.digest()
}

/** RecoveryResult is what one recovery run in its own process reports. */
interface RecoveryResult {
  ms: number
  cpuMs: number
  rssBytes: number
  digest: string
}

/**
 * recoverOnce is the child process of a recovery run (`--recover DIR`): it opens the
 * directory with the built server's storage as a member does, the tree built while the
 * snapshot is read, and prints a RecoveryResult as JSON.
 */
async function recoverOnce(dir: string): Promise<void> {
  // The built server, as a restart runs it (tsx's transpiled source is slower).
  const storage = (await import(DIST_STORAGE)) as typeof import('../server/storage/index.js')
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const reopened = await storage.FileStorage.open(dir, storage.treeLoading)
  const state = storage.restoreStandalone(reopened.recovered, SESSION_OPTIONS)
  const ms = performance.now() - started
  const cpu = process.cpuUsage(cpuBefore)
  const result: RecoveryResult = {
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    rssBytes: process.memoryUsage().rss,
    digest: state.tree.digest().toString(),
  }
  await reopened.storage.close()
  console.log(JSON.stringify(result))
}

async function benchSnapshot(count: number): Promise<void> {
  const dir = mkdtempSync(join(baseDir, 'conclave-bench-'))
  try {
    const digest = await snapshotOnce(dir, count)
    const results: RecoveryResult[] = []
    for (let run = 0; run < runs; run++) {
      // A fresh process each time, as a restart is: this one still has the heap that built the tree.
      const output = execFileSync(
        process.execPath,
        [...process.execArgv, fileURLToPath(import.meta.url), '--recover', dir],
        { encoding: 'utf8', maxBuffer: 1024 * 1024 },
      )
      const result = JSON.parse(output.trim().split('\n').at(-1)!) as RecoveryResult
      if (BigInt(result.digest) !== digest) throw new Error('recovered tree differs')
      results.push(result)
    }
    const list = (pick: (r: RecoveryResult) => number) =>
      results.map((r) => pick(r).toFixed(0)).join(', ')
    console.log(
      `recovery nodes=${count.toLocaleString('en-US').padStart(9)}  median ${median(results.map((r) => r.ms)).toFixed(0)} ms of ${runs} (${list((r) => r.ms)}), ` +
        `CPU ${median(results.map((r) => r.cpuMs)).toFixed(0)} ms, RSS ${(median(results.map((r) => r.rssBytes)) / 1e6).toFixed(0)} MB (snapshot load and tree rebuild, each in a fresh process)`,
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * benchRestart writes a data directory holding `count` znodes (a snapshot, the log and
 * the epoch file, as a standalone server leaves them), then starts a standalone
 * `conclave server` on it `runs` times: each time from spawn until /health says
 * serving, until a client's first read is answered, and the member's RSS then.
 */
async function benchRestart(count: number): Promise<void> {
  const dir = mkdtempSync(join(baseDir, 'conclave-bench-restart-'))
  try {
    const dataDir = join(dir, 'data')
    mkdirSync(dataDir)
    const { storage } = await FileStorage.open(dataDir, { segmentBytesMax: 256 * 1024 * 1024 })
    const { tree, sessions } = await buildTree(storage, count)
    await storage.snapshot(snapshotRequestOf(tree, sessions))
    await storage.writeEpochs({ acceptedEpoch: 1, currentEpoch: 1 })
    await storage.close()
    const [clientPort] = await freePorts(1)
    const config = join(dir, 'config.json')
    writeFileSync(config, JSON.stringify({ id: 1, host: '127.0.0.1', clientPort, dataDir }))
    const results: { servingMs: number; firstReadMs: number; rssBytes: number }[] = []
    for (let run = 0; run < runs; run++) {
      const log = join(dir, `server-${run}.log`)
      const started = performance.now()
      const member = MemberProcess.spawn(
        process.execPath,
        [CLI, 'server', '--config', config, '--no-pretty'],
        log,
      )
      try {
        await untilServing(member, clientPort!)
        const servingMs = performance.now() - started
        const session = await connectConclave(clientPort!, 10_000)
        await session.get('/p0/c0', 10_000)
        const firstReadMs = performance.now() - started
        await session.close()
        results.push({ servingMs, firstReadMs, rssBytes: member.rssBytes() ?? Number.NaN })
      } finally {
        await member.stop()
      }
    }
    const ms = (pick: (r: (typeof results)[number]) => number) =>
      `${median(results.map(pick)).toFixed(0)} ms`
    console.log(
      `restart nodes=${count.toLocaleString('en-US').padStart(9)}  serving after ${ms((r) => r.servingMs)}, first read answered after ${ms((r) => r.firstReadMs)}, ` +
        `RSS ${(median(results.map((r) => r.rssBytes)) / 1e6).toFixed(0)} MB (medians of ${runs}; serving ${results.map((r) => r.servingMs.toFixed(0)).join(', ')} ms)`,
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** untilServing polls /health until the member says it serves; throws if the process exits first. */
async function untilServing(member: MemberProcess, port: number): Promise<void> {
  const deadline = performance.now() + 120_000
  while (performance.now() < deadline) {
    if (!member.alive()) throw new Error(`the member exited:\n${member.logTail()}`)
    try {
      const reply = await fetch(`http://127.0.0.1:${port}/health`, {
        signal: AbortSignal.timeout(1000),
      })
      if (((await reply.json()) as { serving?: unknown }).serving === true) return
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS))
  }
  throw new Error(`the member did not serve within 120 s:\n${member.logTail()}`)
}

if (values.recover !== undefined) {
  await recoverOnce(values.recover)
  process.exit(0)
}
console.log(`conclave storage benchmark — node ${process.version}, data in ${baseDir}`)
if (sections.has('appends'))
  for (const writers of values.writers.split(',').map(Number))
    await benchAppends(writers, Number(values.seconds))
if (sections.has('snapshot'))
  for (const count of values.nodes.split(',').map(Number)) await benchSnapshot(count)
if (sections.has('restart'))
  for (const count of values['restart-nodes'].split(',').map(Number)) await benchRestart(count)
