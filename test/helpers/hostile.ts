/**
 * The hostile-client suite's harness (issue 9): a 3-member ensemble of real processes,
 * a well-behaved bystander that keeps writing and reading through every member while a
 * test attacks, and the checks every attack must pass afterwards:
 *
 * - no member exited, and no election happened (every member still has the leader and
 *   epoch it had when the run started);
 * - the bystander's worst latency (first attempt to success, retries included) stayed
 *   under 1 s on every member;
 * - each member's RSS grew less than the bound the test states, and its event loop was
 *   never late by as much as the leader timeout (from /status `eventLoop.lagMaxMs`);
 * - every write acknowledged to the bystander is on every member, and still is after
 *   the whole ensemble is stopped and started again.
 *
 * `rawClient` speaks the client protocol over a bare WebSocket, so attacks can send
 * what the SDK never would and stop reading their socket.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { expect } from 'vitest'
import {
  PROTOCOL_VERSION,
  decodeServerMessage,
  encodeClientMessage,
  type Request,
  type ServerMessage,
} from '../../protocol/index.js'
import { finishEnsemble, startEnsemble, type Ensemble, type EnsembleOptions } from './ensemble.js'
import { missingAcked } from './ensemble-writers.js'
import { waitFor, withDeadline } from './wait.js'

const HERE = fileURLToPath(new URL('.', import.meta.url))
const BYSTANDER = join(HERE, 'bystander-main.ts')
const REPO_ROOT = resolve(HERE, '../..')

/** BYSTANDER_LATENCY_MAX_MS is the worst latency the bystander may see during an attack (issue 9). */
export const BYSTANDER_LATENCY_MAX_MS = 1000

/** RSS_SAMPLE_EVERY_MS is how often members' RSS is sampled during a run. */
const RSS_SAMPLE_EVERY_MS = 100

/** BystanderStats is what the bystander saw so far. */
export interface BystanderStats {
  /** acked lists every acknowledged create path. */
  acked: string[]
  /** worstMs is the worst op latency per member. */
  worstMs: Map<number, number>
  /** ops counts finished ops per member. */
  ops: Map<number, number>
  /** errors counts failed attempts by error code. */
  errors: Map<string, number>
}

/** HostileRun is a running ensemble under attack plus its bystander. */
export interface HostileRun {
  readonly ensemble: Ensemble
  /** leaderId is the leader when the run started. */
  readonly leaderId: number
  /** epochs is each member's epoch when the run started. */
  readonly epochs: ReadonlyMap<number, number | undefined>
  readonly bystander: BystanderStats
  /** url is member `id`'s client WebSocket URL. */
  url(id: number): string
  /** rssMiB is member `id`'s resident set now, in MiB (from /proc). */
  rssMiB(id: number): number
  /** rssGrowthMiB is the largest growth of member `id`'s RSS over its start, sampled every 100 ms. */
  rssGrowthMiB(id: number): number
  /** eventLoopLagMaxMs is the longest event-loop delay member `id` reported during the run. */
  eventLoopLagMaxMs(id: number): number
  /** leaderTimeoutMs is the members' leader timeout (tickMs x leaderTimeoutTicks). */
  readonly leaderTimeoutMs: number
  /** waitForBystanderOps resolves once every member's bystander client finished `n` more ops. */
  waitForBystanderOps(n: number, timeoutMs?: number): Promise<void>
}

/** HostileRunOptions are startEnsemble's options without the size (always 3) plus the bystander's pace. */
export type HostileRunOptions = Omit<EnsembleOptions, 'size'> & {
  name: string
  bystanderPauseMs?: number
}

class Run implements HostileRun {
  readonly bystander: BystanderStats = {
    acked: [],
    worstMs: new Map(),
    ops: new Map(),
    errors: new Map(),
  }
  private readonly baseRss = new Map<number, number>()
  private readonly peakGrowth = new Map<number, number>()
  private readonly peakLag = new Map<number, number>()
  private lagPoller: NodeJS.Timeout | undefined
  private readonly waiters = new Set<() => void>()
  private sampler: NodeJS.Timeout | undefined
  child: ChildProcess | undefined
  childExited: Promise<void> | undefined

  constructor(
    readonly ensemble: Ensemble,
    readonly leaderId: number,
    readonly epochs: ReadonlyMap<number, number | undefined>,
    readonly leaderTimeoutMs: number,
  ) {}

  eventLoopLagMaxMs(id: number): number {
    return this.peakLag.get(id) ?? 0
  }

  url(id: number): string {
    return this.ensemble.member(id).url
  }

  rssMiB(id: number): number {
    const pid = this.ensemble.member(id).pid
    if (pid === undefined) return 0
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8')
      const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
      return kib / 1024
    } catch {
      return 0 // the process is gone; unexpectedExits reports it
    }
  }

  rssGrowthMiB(id: number): number {
    return this.peakGrowth.get(id) ?? 0
  }

  startSampling(): void {
    for (const m of this.ensemble.members) this.baseRss.set(m.id, this.rssMiB(m.id))
    const sample = () => {
      for (const m of this.ensemble.members) {
        if (m.state !== 'running') continue
        const growth = this.rssMiB(m.id) - (this.baseRss.get(m.id) ?? 0)
        if (growth > (this.peakGrowth.get(m.id) ?? 0)) this.peakGrowth.set(m.id, growth)
      }
    }
    this.sampler = setInterval(sample, RSS_SAMPLE_EVERY_MS)
    this.sampler.unref()
    // /status reports the longest delay of the last 5-10 s, so polling every 2 s misses nothing.
    const pollLag = async () => {
      for (const [id, status] of await this.ensemble.statuses().catch(() => new Map())) {
        const lag = Number(
          (status.raw.eventLoop as { lagMaxMs?: number } | undefined)?.lagMaxMs ?? 0,
        )
        if (lag > (this.peakLag.get(id) ?? 0)) this.peakLag.set(id, lag)
      }
    }
    this.lagPoller = setInterval(() => void pollLag(), 2000)
    this.lagPoller.unref()
  }

  async stopSampling(): Promise<void> {
    clearInterval(this.sampler)
    if (this.lagPoller === undefined) return
    clearInterval(this.lagPoller)
    this.lagPoller = undefined
    for (const [id, status] of await this.ensemble.statuses().catch(() => new Map())) {
      const lag = Number((status.raw.eventLoop as { lagMaxMs?: number } | undefined)?.lagMaxMs ?? 0)
      if (lag > (this.peakLag.get(id) ?? 0)) this.peakLag.set(id, lag)
    }
  }

  onBystanderLine(line: string): void {
    let entry: { op?: string; member?: number; ms?: number; path?: string; error?: string }
    try {
      entry = JSON.parse(line) as typeof entry
    } catch {
      return
    }
    const b = this.bystander
    if (entry.error !== undefined) b.errors.set(entry.error, (b.errors.get(entry.error) ?? 0) + 1)
    if (entry.op === undefined || entry.member === undefined || entry.ms === undefined) return
    b.ops.set(entry.member, (b.ops.get(entry.member) ?? 0) + 1)
    if (entry.ms > (b.worstMs.get(entry.member) ?? 0)) b.worstMs.set(entry.member, entry.ms)
    if (entry.path !== undefined) b.acked.push(entry.path)
    for (const wake of [...this.waiters]) wake()
  }

  waitForBystanderOps(n: number, timeoutMs = 20_000): Promise<void> {
    const targets = new Map(
      this.ensemble.members.map((m) => [m.id, (this.bystander.ops.get(m.id) ?? 0) + n]),
    )
    const done = () =>
      [...targets].every(([id, target]) => (this.bystander.ops.get(id) ?? 0) >= target)
    return withDeadline(
      new Promise<void>((resolvePromise) => {
        const check = () => {
          if (!done()) return
          this.waiters.delete(check)
          resolvePromise()
        }
        this.waiters.add(check)
        check()
      }),
      timeoutMs,
      `${n} more bystander ops on every member (so far ${JSON.stringify(Object.fromEntries(this.bystander.ops))})`,
    )
  }
}

/** BYSTANDER_PARENT is where the bystander writes. */
export const BYSTANDER_PARENT = '/bystander'

/**
 * startHostileRun starts a 3-member ensemble, waits for its leader, starts the
 * bystander and resolves once the bystander has done a few ops through every member.
 */
export async function startHostileRun(options: HostileRunOptions): Promise<HostileRun> {
  // The product's default tick (100 ms, a 1 s leader timeout), not the 50 ms of the other
  // ensemble tests: "no election" must mean no election at the settings users run.
  const { bystanderPauseMs, ...rest } = options
  const ensembleOptions = { ...rest, tickMs: rest.tickMs ?? 100 }
  const ensemble = await startEnsemble({ ...ensembleOptions, size: 3 })
  try {
    const { id: leaderId } = await ensemble.leader({ timeoutMs: 30_000 })
    await ensemble.converged({ timeoutMs: 30_000 })
    // Every member must already serve under that leader in one epoch, or a follower still
    // finishing its sync would be recorded without an epoch and look like an election later.
    const statuses = await waitFor(
      async () => {
        const all = await ensemble.statuses()
        const settled =
          all.size === ensemble.size &&
          [...all.values()].every(
            (s) => s.serving === true && s.leaderId === leaderId && s.epoch !== undefined,
          )
        return settled ? all : undefined
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `every member serving under leader ${leaderId}` },
    )
    const epochs = new Map([...statuses].map(([id, s]) => [id, s.epoch]))
    const leaderTimeoutMs = ensembleOptions.tickMs * (ensembleOptions.leaderTimeoutTicks ?? 10)
    const run = new Run(ensemble, leaderId, epochs, leaderTimeoutMs)
    const urls = Object.fromEntries(ensemble.members.map((m) => [String(m.id), m.url]))
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        BYSTANDER,
        JSON.stringify({ urls, parent: BYSTANDER_PARENT, pauseMs: bystanderPauseMs ?? 20 }),
      ],
      {
        cwd: REPO_ROOT,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    )
    run.child = child
    run.childExited = new Promise((resolvePromise) => child.once('exit', () => resolvePromise()))
    const stderr: string[] = []
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()))
    let buffered = ''
    const ready = new Promise<void>((resolveReady, reject) => {
      child.once('exit', (code) =>
        reject(
          new Error(
            `bystander exited (${code}) before it was ready: ${stderr.join('').slice(-2000)}`,
          ),
        ),
      )
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString()
        let newline: number
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline)
          buffered = buffered.slice(newline + 1)
          if (line.includes('"ready"')) resolveReady()
          run.onBystanderLine(line)
        }
      })
    })
    await withDeadline(ready, 60_000, 'bystander ready')
    await run.waitForBystanderOps(10, 30_000)
    run.startSampling()
    return run
  } catch (err) {
    await finishEnsemble(ensemble, true, `hostile run failed to start: ${String(err)}`)
    throw err
  }
}

/** FinishOptions state the bounds an attack must stay within. */
export interface FinishOptions {
  /** rssGrowthMaxMiB bounds each member's RSS growth over the run. */
  rssGrowthMaxMiB: number
  /** restart (default true) stops and starts the whole ensemble and checks the writes again. */
  restart?: boolean
  /**
   * disrupted lists members the test itself cut off or restarted on purpose: the
   * bystander's latency through them is reported but not bounded (the test bounds it).
   */
  disrupted?: readonly number[]
}

/**
 * finishHostileRun stops the bystander and asserts the outcome of an attack (see the
 * file comment). It always stops the ensemble; on a failure the logs are saved.
 */
export async function finishHostileRun(hostile: HostileRun, options: FinishOptions): Promise<void> {
  const run = hostile as Run
  const ensemble = run.ensemble
  let failed = true
  try {
    // A few more ops after the attack: the bystander must still be served.
    await run.waitForBystanderOps(5, 20_000)
    await run.stopSampling()
    run.child?.stdin?.end()
    await withDeadline(run.childExited ?? Promise.resolve(), 20_000, 'bystander exit')

    const figures = ensemble.members.map(
      (m) =>
        `member ${m.id}: bystander worst ${run.bystander.worstMs.get(m.id)} ms over ${run.bystander.ops.get(m.id)} ops, RSS +${run.rssGrowthMiB(m.id).toFixed(0)} MiB, event-loop lag max ${run.eventLoopLagMaxMs(m.id)} ms`,
    )
    process.stderr.write(
      `[hostile] ${ensemble.dir}\n  ${figures.join('\n  ')}\n  bystander errors ${JSON.stringify(Object.fromEntries(run.bystander.errors))}\n`,
    )
    expect(ensemble.unexpectedExits(), 'member exits').toEqual([])
    const statuses = await ensemble.statuses()
    for (const m of ensemble.members) {
      const s = statuses.get(m.id)
      expect(s, `member ${m.id} answers /status`).toBeDefined()
      expect(
        { member: m.id, leader: s!.leaderId, epoch: s!.epoch },
        'no election happened',
      ).toEqual({ member: m.id, leader: run.leaderId, epoch: run.epochs.get(m.id) })
    }
    for (const m of ensemble.members) {
      if (!(options.disrupted ?? []).includes(m.id)) {
        expect(
          run.bystander.worstMs.get(m.id) ?? Infinity,
          `bystander's worst latency through member ${m.id}`,
        ).toBeLessThan(BYSTANDER_LATENCY_MAX_MS)
      }
      expect(run.rssGrowthMiB(m.id), `member ${m.id}'s RSS growth (MiB)`).toBeLessThan(
        options.rssGrowthMaxMiB,
      )
      expect(
        run.eventLoopLagMaxMs(m.id),
        `member ${m.id}'s longest event-loop delay (ms)`,
      ).toBeLessThan(run.leaderTimeoutMs)
    }
    expect(run.bystander.acked.length).toBeGreaterThan(0)
    const acked = run.bystander.acked.map((path) => ({ path }))
    await ensemble.converged({ timeoutMs: 30_000 })
    expect(
      await missingAcked(ensemble, BYSTANDER_PARENT, acked),
      'acknowledged writes missing',
    ).toEqual(new Map())
    if (options.restart !== false) {
      for (const m of ensemble.members) await m.stop()
      await Promise.all(ensemble.members.map((m) => m.start()))
      await ensemble.leader({ timeoutMs: 30_000 })
      await ensemble.converged({ timeoutMs: 30_000 })
      expect(
        await missingAcked(ensemble, BYSTANDER_PARENT, acked),
        'acknowledged writes missing after a restart',
      ).toEqual(new Map())
      expect(ensemble.unexpectedExits(), 'member exits after the restart').toEqual([])
    }
    failed = false
  } finally {
    await run.stopSampling()
    if (run.child !== undefined && run.child.exitCode === null) run.child.kill('SIGKILL')
    await finishEnsemble(ensemble, failed, 'hostile run failed')
  }
}

/** ClosedInfo is how the server ended a raw connection. */
export interface ClosedInfo {
  code: number
  reason: string
}

/** RawClient is a bare WebSocket speaking the client protocol (protocol/codec.ts). */
export interface RawClient {
  readonly ws: WebSocket
  /** connect sends `connect` (a new session unless given) and resolves with the server's answer. */
  connect(options?: {
    timeoutMs?: number
    sessionId?: bigint
    password?: Uint8Array
  }): Promise<ServerMessage>
  /** request sends one request frame without waiting. */
  request(xid: number, request: Request): void
  /** reply resolves with the reply to `xid` (kept if it arrived earlier). */
  reply(xid: number, timeoutMs?: number): Promise<Extract<ServerMessage, { type: 'reply' }>>
  /** messages lists every decoded server message so far, in order (replies are removed once taken by `reply`). */
  readonly messages: ServerMessage[]
  /** sendBytes sends any bytes as one binary frame. */
  sendBytes(bytes: Uint8Array): void
  /** pauseReading stops reading the socket (TCP backpressure reaches the server); resumeReading starts again. */
  pauseReading(): void
  resumeReading(): void
  /** closed resolves once the connection is closed, with the server's code and reason. */
  readonly closed: Promise<ClosedInfo>
  terminate(): void
}

/** rawClient opens a bare WebSocket to `url`. */
export async function rawClient(
  url: string,
  options: { timeoutMs?: number } = {},
): Promise<RawClient> {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 })
  const messages: ServerMessage[] = []
  const waiters = new Set<() => void>()
  const closed = new Promise<ClosedInfo>((resolveClosed) =>
    ws.once('close', (code, reason) => resolveClosed({ code, reason: reason.toString() })),
  )
  ws.on('error', () => undefined)
  ws.on('message', (data: Buffer) => {
    const decoded = decodeServerMessage(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    )
    if (decoded.ok) messages.push(decoded.message)
    for (const wake of [...waiters]) wake()
  })
  let isClosed = false
  void closed.then(() => {
    // Flag first: a waiter woken by the close must see it and fail at once.
    isClosed = true
    for (const wake of [...waiters]) wake()
  })
  await withDeadline(
    new Promise<void>((resolveOpen, reject) => {
      ws.once('open', () => resolveOpen())
      ws.once('error', reject)
      ws.once('close', (code) => reject(new Error(`closed (${code}) before open`)))
    }),
    options.timeoutMs ?? 10_000,
    `raw connection to ${url}`,
  )
  const next = <T extends ServerMessage>(
    match: (m: ServerMessage) => m is T,
    timeoutMs: number,
    what: string,
  ): Promise<T> =>
    withDeadline(
      new Promise<T>((resolveMessage, reject) => {
        const check = () => {
          const index = messages.findIndex(match)
          if (index >= 0) {
            waiters.delete(check)
            resolveMessage(messages.splice(index, 1)[0] as T)
          } else if (isClosed) {
            waiters.delete(check)
            reject(new Error(`connection closed while waiting for ${what}`))
          }
        }
        waiters.add(check)
        check()
      }),
      timeoutMs,
      what,
    )
  const send = (bytes: Uint8Array) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(bytes)
  }
  return {
    ws,
    messages,
    connect: async (connectOptions = {}) => {
      send(
        encodeClientMessage({
          type: 'connect',
          protocolVersion: PROTOCOL_VERSION,
          sessionId: connectOptions.sessionId ?? 0n,
          password: connectOptions.password ?? new Uint8Array(0),
          lastZxidSeen: 0n,
          timeoutMs: 10_000,
          readOnly: false,
        }),
      )
      return next(
        (m): m is ServerMessage => m.type === 'connected' || m.type === 'connectRefused',
        connectOptions.timeoutMs ?? 10_000,
        'connected',
      )
    },
    request: (xid, request) => send(encodeClientMessage({ type: 'request', xid, request })),
    reply: (xid, timeoutMs = 10_000) =>
      next(
        (m): m is Extract<ServerMessage, { type: 'reply' }> => m.type === 'reply' && m.xid === xid,
        timeoutMs,
        `reply ${xid}`,
      ),
    sendBytes: send,
    pauseReading: () => ws.pause(),
    resumeReading: () => ws.resume(),
    closed,
    terminate: () => ws.terminate(),
  }
}
