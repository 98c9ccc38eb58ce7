/**
 * The randomized watch soak (issue 11, "watches that never miss"), on 3 real member
 * processes: one SDK client holds a recursive watch on a subtree and collects every
 * event while writers run compare-and-set chains on its keys (and now and then create
 * or delete "life" nodes under it), and a nemesis kills (SIGKILL, then restart) and
 * stalls (SIGSTOP, then SIGCONT) the leader and the member the watcher is connected to.
 *
 * At the end the nemesis and the writers stop, the ensemble settles, and a set of a
 * marker node under the subtree, seen in the stream, proves the stream has caught up to
 * that zxid. Then the stream is judged (test/checker/watch-stream.ts): every committed
 * change to the subtree exactly once, in zxid order, or a `compacted` event whose gap
 * holds everything that is missing. For a key at version v with final mzxid m the
 * stream owes exactly v dataChanged events, the last at m, and one at each acknowledged
 * set's zxid; the parent's cversion counts the creates and deletes owed.
 *
 * `npm test` runs 15 s of faults; `npm run soak:watch` (CONCLAVE_SOAK_MS=60000) runs a
 * minute, any CONCLAVE_SOAK_MS another length. The seed (CONCLAVE_SOAK_SEED) drives the
 * nemesis schedule and the writers' choices; a failure prints it (process timing still
 * varies between runs). A failure saves member logs, the stream, the acknowledged writes
 * and the nemesis log under test-artifacts/.
 */
import { afterEach, expect, it } from 'vitest'
import { connect, type Client, type Stat } from '../../client/index.js'
import { formatZxid } from '../../protocol/zxid.js'
import {
  checkWatchStream,
  renderWatchStreamReport,
  type Note,
  type StreamEvent,
} from '../checker/index.js'
import { startCasWriters, type CasWriters } from '../helpers/cas-writers.js'
import { finishEnsemble, startEnsemble, type Ensemble } from '../helpers/ensemble.js'
import { mulberry32 } from '../helpers/mulberry32.js'
import { waitFor } from '../helpers/wait.js'

const SOAK_MS = Number(process.env.CONCLAVE_SOAK_MS ?? 15_000)
const SEED =
  process.env.CONCLAVE_SOAK_SEED === undefined
    ? (Date.now() ^ (process.pid << 16)) >>> 0
    : Number(process.env.CONCLAVE_SOAK_SEED) >>> 0

const ROOT = '/soak'
const KEYS = Array.from({ length: 8 }, (_, i) => `${ROOT}/k${i}`)
const LIVES = Array.from({ length: 4 }, (_, i) => `${ROOT}/n${i}`)
const MARKER = `${ROOT}/marker`
const WRITERS = 3
/** LIFE_SHARE of the writers' operations create or delete a life node; the rest are CAS sets. */
const LIFE_SHARE = 0.15

const TICK_MS = 50
const LEADER_TIMEOUT_TICKS = 10
/**
 * WATCHER_SESSION_MS: the SDK drops a silent link after 2/3 of it (4 s), so a stall of
 * the watcher's member longer than that moves the watcher, well inside the session.
 */
const WATCHER_SESSION_MS = 6000
const WRITER_SESSION_MS = 6000
const WRITER_REQUEST_TIMEOUT_MS = 3000
/** RECOVERY_TIMEOUT_MS bounds each wait for the ensemble, the watcher or the writers after a fault. */
const RECOVERY_TIMEOUT_MS = 20_000
/** ACKS_PER_ROUND: after each fault the writers must get this many writes acknowledged again. */
const ACKS_PER_ROUND = 5
/** CATCH_UP_TIMEOUT_MS bounds the wait for the marker's event at the end. */
const CATCH_UP_TIMEOUT_MS = 20_000

type FaultKind = 'kill-leader' | 'stall-leader' | 'kill-watcher-member' | 'stall-watcher-member'
const FAULT_KINDS: readonly FaultKind[] = [
  'kill-leader',
  'stall-leader',
  'kill-watcher-member',
  'stall-watcher-member',
]

let ensemble: Ensemble | undefined
let writers: CasWriters | undefined
const clients: Client[] = []
afterEach(async () => {
  await writers?.stop()
  writers = undefined
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)))
  // Artifacts of a failure are saved by the test itself, with the stream and the writes.
  await finishEnsemble(ensemble, false)
  ensemble = undefined
}, 60_000)

it(
  `watch soak: a recursive watch sees every committed change exactly once, in zxid order, through ${SOAK_MS / 1000} s of leader and own-member kills and stalls`,
  { timeout: SOAK_MS + 150_000 },
  async () => {
    process.stdout.write(
      `watch soak: seed ${SEED}, ${SOAK_MS} ms of faults (reproduce with CONCLAVE_SOAK_SEED=${SEED} CONCLAVE_SOAK_MS=${SOAK_MS})\n`,
    )
    const random = mulberry32(SEED)
    const between = (lowMs: number, highMs: number) => lowMs + random() * (highMs - lowMs)
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
    const startedAt = Date.now()
    const nemesisLog: string[] = []
    const log = (what: string) => nemesisLog.push(`${Date.now() - startedAt} ms: ${what}`)

    const e = (ensemble = await startEnsemble({
      size: 3,
      name: 'watch-soak',
      tickMs: TICK_MS,
      leaderTimeoutTicks: LEADER_TIMEOUT_TICKS,
    }))
    await e.leader({ timeoutMs: 60_000 })

    // Setup: the subtree, its keys (version 0) and the marker, before the watch exists.
    const admin = await connect({ servers: e.urls, sessionTimeoutMs: 10_000 })
    clients.push(admin)
    await admin.create(ROOT, '')
    for (const path of [...KEYS, MARKER]) await admin.create(path, 'v0')
    const startStat = (await admin.exists(ROOT))!
    // Every setup change is at or below the root's pzxid (the last child create); the stream owes what follows.
    const startZxid = startStat.pzxid

    // The watcher: its moves between members are where a stream can lose events.
    const watcher = await connect({
      servers: e.urls,
      sessionTimeoutMs: WATCHER_SESSION_MS,
      requestTimeoutMs: RECOVERY_TIMEOUT_MS,
    })
    clients.push(watcher)
    const moves: { atMs: number; serverId: number; position: bigint }[] = [
      { atMs: Date.now(), serverId: watcher.serverId, position: watcher.lastZxid },
    ]
    const sessionTrouble: string[] = []
    watcher.on('state', (state) => {
      if (state === 'connected')
        moves.push({ atMs: Date.now(), serverId: watcher.serverId, position: watcher.lastZxid })
      else if (state === 'lost')
        sessionTrouble.push(`the watcher's session was lost ${Date.now() - startedAt} ms in`)
      if (state !== 'closed') log(`watcher ${state} (member ${watcher.serverId})`)
    })
    // The watcher's server has applied the setup before the watch is registered (session FIFO).
    await watcher.sync(ROOT)
    const stopStream = new AbortController()
    const stream = watcher.watch(ROOT, { recursive: true, signal: stopStream.signal })
    const seen: StreamEvent[] = []
    let streamEnd: string | undefined
    const collecting = (async () => {
      try {
        for await (const event of stream) {
          // oldestZxid comes with 'compacted' events, which this SDK version may not declare yet.
          const oldest = (event as { oldestZxid?: unknown }).oldestZxid
          seen.push({
            type: event.type,
            path: event.path,
            zxid: event.zxid,
            ...(typeof oldest === 'bigint' ? { oldestZxid: oldest } : {}),
          })
        }
        if (!stopStream.signal.aborted) streamEnd = 'the stream ended before the test ended it'
      } catch (err) {
        streamEnd = `the stream failed: ${String(err)}`
      }
    })()
    // Behind the addWatch in the session's order: once this answers, the watch is in place.
    await watcher.sync(ROOT)

    writers = await startCasWriters({
      servers: e.urls,
      count: WRITERS,
      keys: KEYS,
      lives: LIVES,
      lifeShare: LIFE_SHARE,
      seed: SEED,
      sessionTimeoutMs: WRITER_SESSION_MS,
      requestTimeoutMs: WRITER_REQUEST_TIMEOUT_MS,
    })
    const w = writers
    await w.waitForAcks(ACKS_PER_ROUND * 4, RECOVERY_TIMEOUT_MS)

    // ------------------------------------------------------------------ the nemesis
    const faults = new Map<string, number>()
    const allServing = async (after: string) => {
      await e.leader({ timeoutMs: RECOVERY_TIMEOUT_MS })
      await waitFor(
        async () => {
          const statuses = await e.statuses(e.members.map((m) => m.id))
          return (
            statuses.size === e.size &&
            [...statuses.values()].every(
              (s) => (s.role === 'leading' || s.role === 'following') && s.serving !== false,
            )
          )
        },
        { timeoutMs: RECOVERY_TIMEOUT_MS, intervalMs: 50, what: `every member serving ${after}` },
      )
    }
    const watcherConnected = (what: string, not?: number) =>
      waitFor(
        () =>
          watcher.state === 'connected' && (not === undefined || watcher.serverId !== not)
            ? watcher.serverId
            : undefined,
        { timeoutMs: RECOVERY_TIMEOUT_MS, intervalMs: 10, what },
      )
    const others = (id: number) => e.members.map((m) => m.id).filter((x) => x !== id)

    const inject = async (kind: FaultKind): Promise<void> => {
      switch (kind) {
        case 'kill-leader': {
          const { id } = await e.leader({ timeoutMs: RECOVERY_TIMEOUT_MS })
          log(`SIGKILL leader ${id}`)
          await e.member(id).kill('SIGKILL')
          await e.leader({ among: others(id), timeoutMs: RECOVERY_TIMEOUT_MS })
          await sleep(between(100, 1000))
          log(`restart member ${id}`)
          await e.member(id).start()
          return
        }
        case 'stall-leader': {
          const { id } = await e.leader({ timeoutMs: RECOVERY_TIMEOUT_MS })
          log(`SIGSTOP leader ${id}`)
          await e.member(id).kill('SIGSTOP')
          await e.leader({ among: others(id), timeoutMs: RECOVERY_TIMEOUT_MS })
          await sleep(between(100, 1500))
          log(`SIGCONT member ${id}`)
          await e.member(id).kill('SIGCONT')
          return
        }
        case 'kill-watcher-member': {
          const id = await watcherConnected('the watcher connected')
          log(`SIGKILL member ${id}, the watcher's`)
          await e.member(id).kill('SIGKILL')
          await watcherConnected(`the watcher connected to a member other than ${id}`, id)
          await sleep(between(100, 1000))
          log(`restart member ${id}`)
          await e.member(id).start()
          return
        }
        case 'stall-watcher-member': {
          const id = await watcherConnected('the watcher connected')
          // Half of the stalls outlast the watcher's dead-link timeout and move it; the
          // others end while its connection is still up, and the stream must just resume.
          const untilMoved = random() < 0.5
          log(`SIGSTOP member ${id}, the watcher's (${untilMoved ? 'until it moves' : 'briefly'})`)
          await e.member(id).kill('SIGSTOP')
          if (untilMoved)
            await watcherConnected(`the watcher connected to a member other than ${id}`, id)
          else await sleep(between(300, 1500))
          log(`SIGCONT member ${id}`)
          await e.member(id).kill('SIGCONT')
          return
        }
      }
    }

    let deck: FaultKind[] = []
    const nemesisUntil = Date.now() + SOAK_MS
    try {
      while (Date.now() < nemesisUntil) {
        // A shuffled deck of every kind: any four rounds in a row cover all of them.
        if (deck.length === 0) deck = shuffled(FAULT_KINDS, random)
        const kind = deck.shift()!
        faults.set(kind, (faults.get(kind) ?? 0) + 1)
        await inject(kind)
        await allServing(`after ${kind}`)
        await watcherConnected(`the watcher connected after ${kind}`)
        await w.waitForAcks(ACKS_PER_ROUND, RECOVERY_TIMEOUT_MS)
        log(`recovered from ${kind}`)
        await sleep(between(100, 600))
      }
    } catch (err) {
      const folder = await e
        .saveArtifacts(`nemesis: ${String(err)}`, { 'nemesis.txt': nemesisLog.join('\n') })
        .catch(() => '(could not save artifacts)')
      throw new Error(
        `watch soak (seed ${SEED}): the ensemble did not recover: ${(err as Error).message}\nnemesis:\n${nemesisLog.slice(-15).join('\n')}\nlogs in ${folder}`,
        { cause: err },
      )
    }
    log('nemesis stopped')
    await w.stop()
    log('writers stopped')
    await allServing('at the end')
    await e.converged({ timeoutMs: RECOVERY_TIMEOUT_MS })

    // ------------------------------------------------------------------ catch up
    // Set the marker and wait for its event: the stream then holds everything up to its
    // zxid. Read the final Stats after it; anything newer than the marker (a write of a
    // closed writer that still committed) means one more round.
    const markerSets: { version: number; zxid: bigint }[] = []
    const stragglers: string[] = []
    let caughtUpTo: bigint | undefined
    let finalStats = new Map<string, Stat | null>()
    let rootStat: Stat | undefined
    for (let round = 0; round < 3; round++) {
      const marked = await admin.set(MARKER, `end ${round}`)
      markerSets.push({ version: marked.version, zxid: marked.mzxid })
      const caughtUp = await waitFor(
        () => seen.some((ev) => ev.path === MARKER && ev.zxid === marked.mzxid),
        { timeoutMs: CATCH_UP_TIMEOUT_MS, what: 'the marker event' },
      ).catch(() => false)
      if (!caughtUp) {
        stragglers.push(
          `the stream did not deliver the marker set at ${formatZxid(marked.mzxid)} within ${CATCH_UP_TIMEOUT_MS} ms (its last event: ${seen.length === 0 ? 'none' : formatZxid(seen.at(-1)!.zxid)})`,
        )
        break
      }
      caughtUpTo = marked.mzxid
      await admin.sync(ROOT)
      rootStat = (await admin.exists(ROOT))!
      finalStats = new Map()
      for (const path of [...KEYS, MARKER, ...LIVES]) finalStats.set(path, await admin.exists(path))
      const newest = [...finalStats.values()].reduce<bigint>(
        (max, s) => (s === null ? max : [s.mzxid, s.czxid, max].reduce((a, b) => (a > b ? a : b))),
        rootStat.pzxid,
      )
      if (newest <= marked.mzxid) break
      log(`a change at ${formatZxid(newest)} after the marker at ${formatZxid(marked.mzxid)}`)
    }
    stopStream.abort()
    await collecting

    // ------------------------------------------------------------------ judge
    const notes: Note[] = moves
      .slice(1)
      .map((m) => ({ zxid: m.position, text: `the watcher reconnected to member ${m.serverId}` }))
    const ackedByKey = (path: string) =>
      w.sets.filter((s) => s.path === path).map((s) => ({ version: s.version, zxid: s.zxid }))
    const report = checkWatchStream(seen, {
      root: ROOT,
      startZxid,
      notes,
      chains: [...KEYS, MARKER].map((path) => {
        const stat = finalStats.get(path)
        return {
          path,
          startVersion: 0,
          finalVersion: stat?.version ?? 0,
          finalMzxid: stat?.mzxid ?? 0n,
          acked: path === MARKER ? markerSets : ackedByKey(path),
        }
      }),
      lives: LIVES.map((path) => ({
        path,
        finalCzxid: finalStats.get(path)?.czxid ?? null,
        ackedCreates: w.lifeWrites
          .filter((l) => l.path === path && l.op === 'create')
          .map((l) => l.zxid),
        ackedDeletes: w.lifeWrites
          .filter((l) => l.path === path && l.op === 'delete')
          .map((l) => l.zxid),
      })),
      ...(rootStat === undefined
        ? {}
        : {
            children: {
              parent: ROOT,
              count: rootStat.cversion - startStat.cversion,
              lastZxid: rootStat.pzxid,
            },
          }),
    })
    const problems = [
      ...stragglers,
      ...sessionTrouble,
      ...(streamEnd === undefined ? [] : [streamEnd]),
      ...w.problems,
    ]

    const moved = moves.slice(1)
    const stats = [
      `watch soak: seed ${SEED}, ${SOAK_MS} ms of faults, ${Date.now() - startedAt} ms in all`,
      `  faults: ${[...faults].map(([k, n]) => `${k} ${n}`).join(', ')}`,
      `  watcher: ${moved.length} reconnects (to members ${moved.map((m) => m.serverId).join(', ') || 'none'}), caught up to ${caughtUpTo === undefined ? 'never' : formatZxid(caughtUpTo)}`,
      `  events seen: ${seen.length} (${Object.entries(report.byType)
        .map(([t, n]) => `${t} ${n}`)
        .join(', ')})`,
      `  writes acknowledged: ${w.sets.length} sets, ${w.lifeWrites.length} creates/deletes; outcomes ${JSON.stringify(Object.fromEntries(w.outcomes))}`,
      `  keys: ${KEYS.map((k) => `${k.slice(ROOT.length + 1)} v${finalStats.get(k)?.version ?? '?'}`).join(' ')}`,
    ].join('\n')
    process.stdout.write(`${stats}\n`)

    if (!report.ok || problems.length > 0) {
      const events = seen.map((ev) => `${formatZxid(ev.zxid)} ${ev.type} ${ev.path}`).join('\n')
      const acks = [
        ...w.sets.map(
          (s) => `${formatZxid(s.zxid)} set ${s.path} v${s.version} (writer ${s.writer})`,
        ),
        ...w.lifeWrites.map((l) => `${formatZxid(l.zxid)} ${l.op} ${l.path} (writer ${l.writer})`),
        ...markerSets.map((m) => `${formatZxid(m.zxid)} set ${MARKER} v${m.version} (admin)`),
      ].sort()
      const moveLines = moves.map(
        (m) =>
          `${m.atMs - startedAt} ms: member ${m.serverId} from position ${formatZxid(m.position)}`,
      )
      const rendered = renderWatchStreamReport(report)
      const folder = await e
        .saveArtifacts('watch soak failed', {
          'report.txt': `${stats}\n${problems.join('\n')}\n${renderWatchStreamReport(report, Infinity)}\n`,
          'events.txt': `${events}\n`,
          'acknowledged.txt': `${acks.join('\n')}\n`,
          'nemesis.txt': `${nemesisLog.join('\n')}\n`,
          'watcher-moves.txt': `${moveLines.join('\n')}\n`,
        })
        .catch(() => '(could not save artifacts)')
      expect.fail(
        [
          `watch soak failed (seed ${SEED}; reproduce with CONCLAVE_SOAK_SEED=${SEED} CONCLAVE_SOAK_MS=${SOAK_MS})`,
          ...problems,
          rendered,
          stats,
          `watcher moves:\n${moveLines.join('\n')}`,
          `artifacts (stream, acknowledged writes, nemesis, member logs): ${folder}`,
        ].join('\n'),
      )
    }
    // The run exercised what it claims: faults of every kind and moves of the watcher.
    expect([...faults.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3)
    expect(moved.length, 'the watcher never moved to another member').toBeGreaterThan(0)
    expect(e.unexpectedExits()).toEqual([])
  },
)

/** shuffled returns a copy of `items` in an order drawn from `random` (Fisher-Yates). */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}
