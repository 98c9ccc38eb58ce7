/**
 * Storage benchmark (issue 4), on the real disk in a temporary directory:
 * - appends/s and the fsync batch sizes with 1, 32 and 256 concurrent writers, each
 *   appending one txn at a time and waiting for it to be durable;
 * - snapshot time and the longest event-loop block while a snapshot is written, at
 *   100k and 1M znodes (perf_hooks.monitorEventLoopDelay);
 * - recovery time (open, read snapshot and log, rebuild the tree) at the same sizes.
 *
 * Run: npm run bench:storage [-- --nodes 100000,1000000 --seconds 5 --dir /path]
 * This is a measurement, not a test: numbers depend on the disk and the machine.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import type { Txn } from '../protocol/txn.js'
import { makeZxid } from '../protocol/zxid.js'
import { OPEN_ACL_UNSAFE } from '../protocol/types.js'
import { SessionTable } from '../server/sessions/session-table.js'
import { FileStorage } from '../server/storage/file-storage.js'
import { restoreStandalone, snapshotRequestOf } from '../server/storage/restore.js'
import { DataTree } from '../server/tree/data-tree.js'

const SESSION_OPTIONS = { tickMs: 100, minTimeoutMs: 2000, maxTimeoutMs: 60_000 }
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '100000,1000000' },
    writers: { type: 'string', default: '1,32,256' },
    seconds: { type: 'string', default: '5' },
    dir: { type: 'string' },
  },
})
const baseDir = values.dir ?? tmpdir()

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

async function benchSnapshot(count: number): Promise<void> {
  const dir = mkdtempSync(join(baseDir, 'conclave-bench-'))
  try {
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
    const recoveryStarted = performance.now()
    const reopened = await FileStorage.open(dir)
    const state = restoreStandalone(reopened.recovered, SESSION_OPTIONS)
    const recoveryMs = performance.now() - recoveryStarted
    if (state.tree.digest() !== tree.digest()) throw new Error('recovered tree differs')
    console.log(
      `recovery nodes=${count.toLocaleString('en-US').padStart(9)}  ${recoveryMs.toFixed(0)} ms (snapshot load and tree rebuild; ${state.tree.nodeCount.toLocaleString('en-US')} znodes)`,
    )
    await reopened.storage.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

console.log(`conclave storage benchmark — node ${process.version}, data in ${baseDir}`)
for (const writers of values.writers.split(',').map(Number))
  await benchAppends(writers, Number(values.seconds))
for (const count of values.nodes.split(',').map(Number)) await benchSnapshot(count)
