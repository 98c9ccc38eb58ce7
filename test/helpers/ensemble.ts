/**
 * A real multi-process ensemble for integration and fault tests: one `conclave server
 * --config FILE` process per member on loopback, each with its own config file, data
 * directory and client and peer ports, all sharing one secret file.
 *
 * With `proxies: true` a fault proxy (fault-proxy.ts) sits on every peer link. Only the
 * larger id of a pair dials, so for the link (i, j) with i > j, member i's config says
 * `dialAddresses[j] = proxy` and the proxy forwards to j's real peer port. Tests then
 * cut, hold, flap or break single links with `link(i, j)`, `oneWay`, `partition`,
 * `isolate` and `heal`. Clients always reach members directly (a partition here is
 * between members, not between a member and its clients, which is what makes the
 * "minority never acknowledges a write" tests meaningful).
 *
 * Every member's stdout and stderr lines are kept in memory across restarts; on a
 * failure `saveArtifacts` writes them (with configs and a last status of each member)
 * to test-artifacts/<name>-<time>/. Processes never outlive the test run: `stopAll`
 * ends them (SIGCONT first for a stopped one, SIGKILL if SIGTERM is not enough), and an
 * exit hook SIGKILLs whatever is left if the test process ends without it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startFaultProxy, type Direction, type FaultMode, type FaultProxy } from './fault-proxy.js'
import { waitFor, withDeadline } from './wait.js'
import { CONCLAVE_CLI } from './cli-path.js'

const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..')
const CLI = CONCLAVE_CLI

/** ARTIFACTS_ROOT is where failing ensemble tests leave their logs (ignored by git). */
export const ARTIFACTS_ROOT = join(REPO_ROOT, 'test-artifacts')

/** STATUS_TIMEOUT_MS bounds one /status request: a stopped (SIGSTOP) member never answers. */
const STATUS_TIMEOUT_MS = 1000

/** EnsembleOptions shape the ensemble; unset tunables keep the server defaults (tickMs: 50 here). */
export interface EnsembleOptions {
  /** size is the number of members (ids 1..size). */
  size: number
  /** proxies puts a fault proxy on every peer link. */
  proxies?: boolean
  /** tickMs defaults to 50 to keep elections short in tests. */
  tickMs?: number
  leaderTimeoutTicks?: number
  initTimeoutTicks?: number
  minSessionTimeoutMs?: number
  maxSessionTimeoutMs?: number
  snapshotEveryTxns?: number
  diffLimitTxns?: number
  /** settings are extra config keys for every member (the per-member ones above win). */
  settings?: Record<string, unknown>
  /** startIds are the members started at once (default: all); the others are configured but left stopped. */
  startIds?: number[]
  /** name labels the temp and artifact folders. */
  name?: string
  /** logLevel is passed to every member (default info). */
  logLevel?: string
  /** startTimeoutMs bounds the wait for a member's 'listening' line (default 60 s: a loaded 2-core machine starts tsx slowly). */
  startTimeoutMs?: number
}

/** LogEntry is one parsed pino line of a member (non-JSON lines keep their text in `msg`). */
export type LogEntry = Record<string, unknown> & { msg?: string; level?: number }

/** MemberState is what the harness did to a member last: running, paused (SIGSTOP) or stopped. */
export type MemberState = 'running' | 'paused' | 'stopped'

/** FollowerStatus is one entry of a leader's `followers` in /status. */
export interface FollowerStatus {
  id: number
  ackedZxid?: unknown
  lagTxns?: number | null
  connected?: boolean
  /** stage is the leader's view of the follower's sync ('connected' | 'epochAcked' | 'syncing' | 'synced'). */
  stage?: string
}

/** MemberStatus is a member's /status with zxids parsed; `raw` keeps every field as sent. */
export interface MemberStatus {
  id: number
  role: string
  /** serving is whether the member serves clients (an established leader or follower), when /status says. */
  serving: boolean | undefined
  /** leaderId is the leader the member follows or is, when /status says. */
  leaderId: number | undefined
  epoch: number | undefined
  /** zxid is the applied zxid. */
  zxid: bigint
  lastLoggedZxid: bigint | undefined
  lastCommittedZxid: bigint | undefined
  /** digest is the tree digest at the applied zxid, as a comparable string. */
  digest: string
  followers: FollowerStatus[] | undefined
  raw: Record<string, unknown>
}

/** Member is one ensemble member's process handle; it survives restarts. */
export interface Member {
  readonly id: number
  readonly clientPort: number
  readonly peerPort: number
  /** url is the member's client WebSocket URL. */
  readonly url: string
  readonly httpUrl: string
  readonly dataDir: string
  readonly configFile: string
  readonly config: Record<string, unknown>
  /** logs holds every output line of every incarnation, with a marker line per start. */
  readonly logs: string[]
  readonly state: MemberState
  readonly pid: number | undefined
  /** starts counts how often the member was spawned. */
  readonly starts: number
  /** exitedUnexpectedly lists exits the harness did not cause (a crash of the server itself). */
  readonly unexpectedExits: readonly string[]
  /** start spawns the member (if stopped) and resolves once it logs 'listening'. */
  start(): Promise<void>
  /** kill sends a signal; SIGKILL and SIGTERM wait for the exit, SIGSTOP/SIGCONT return at once. */
  kill(signal: NodeJS.Signals): Promise<void>
  /** stop ends the member politely (SIGTERM, SIGKILL after 10 s) and waits for the exit. */
  stop(): Promise<void>
  /** restart stops the member if it runs, then starts it with the same config and data. */
  restart(): Promise<void>
  /** wipe deletes the member's data directory; the member must be stopped. */
  wipe(): void
  /** entries parses the log lines from index `since` on. */
  entries(since?: number): LogEntry[]
  /** waitForLog waits for a log entry (from line `since` on) matching `predicate`. */
  waitForLog(
    predicate: (entry: LogEntry) => boolean,
    options?: { since?: number; timeoutMs?: number; what?: string },
  ): Promise<LogEntry>
}

/** Ensemble is a running set of members plus the proxies between them. */
export interface Ensemble {
  readonly size: number
  /** quorum is the number of members that makes a majority. */
  readonly quorum: number
  readonly dir: string
  readonly secretFile: string
  readonly members: readonly Member[]
  /** urls are every member's client URL, for the SDK's server list. */
  readonly urls: string[]
  member(id: number): Member
  /** live lists members that run and are not paused. */
  live(): Member[]
  /** status fetches a member's /status (throws if it does not answer within a second). */
  status(id: number): Promise<MemberStatus>
  /** tryStatus is status, or undefined when the member does not answer. */
  tryStatus(id: number): Promise<MemberStatus | undefined>
  /** statuses fetches /status of the given (default: live) members that answer. */
  statuses(ids?: number[]): Promise<Map<number, MemberStatus>>
  /**
   * leader waits until exactly one member among `among` (default: live members) leads,
   * says it is serving, and has a quorum: itself plus quorum-1 connected followers.
   */
  leader(options?: {
    timeoutMs?: number
    among?: number[]
  }): Promise<{ id: number; status: MemberStatus }>
  /** converged waits until every member in `ids` (default: live) reports the same applied zxid and digest and none is looking. */
  converged(options?: {
    timeoutMs?: number
    ids?: number[]
  }): Promise<{ zxid: bigint; digest: string }>
  /** link is the proxy on the peer link between i and j (proxies: true only). */
  link(i: number, j: number): FaultProxy
  /** setLink switches the link between i and j to `mode`. */
  setLink(i: number, j: number, mode: FaultMode): void
  /** oneWay lets traffic on the i-j link pass only from `from` to `to` (an asymmetric partition). */
  oneWay(from: number, to: number): void
  /** partition holds every link between members of different groups (members in no group are cut from all). */
  partition(...groups: number[][]): void
  /** isolate holds every link of member `id`. */
  isolate(id: number, how?: 'hold' | 'reset'): void
  /** heal lets every link pass again. */
  heal(): void
  /** unexpectedExits lists every member exit the harness did not cause. */
  unexpectedExits(): string[]
  /** saveArtifacts writes logs, configs and last statuses (plus `extra` files) and returns the folder. */
  saveArtifacts(reason: string, extra?: Record<string, string>): Promise<string>
  /** stopAll ends every member and proxy and removes the temp folder; safe to call twice. */
  stopAll(options?: { keepDir?: boolean }): Promise<void>
}

/** Every child process any ensemble spawned and has not yet seen exit, for the exit hook. */
const liveChildren = new Set<ChildProcess>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // Synchronous last resort when a test process ends without stopAll (a crash, a timeout).
  process.on('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL')
      } catch {
        // already gone
      }
    }
  })
}

/**
 * FREE_PORT_RANGE is where freePorts looks: below Linux's ephemeral range (32768-60999),
 * which the kernel hands to every outgoing connection. A port found free there by
 * binding port 0 could be taken by some client's socket before the member binds it
 * (EADDRINUSE, seen with test files in parallel); ports below it are only ever bound
 * on purpose.
 */
const FREE_PORT_RANGE = { from: 20_000, to: 32_000 }

/**
 * freePorts finds `count` distinct free loopback ports: random ones in FREE_PORT_RANGE,
 * each checked by binding it. Released before returning, so the members can bind them.
 */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = []
  for (let tries = 0; ports.length < count; tries++) {
    if (tries > 1000)
      throw new Error(`no ${count} free ports in ${FREE_PORT_RANGE.from}-${FREE_PORT_RANGE.to}`)
    const port =
      FREE_PORT_RANGE.from + Math.floor(Math.random() * (FREE_PORT_RANGE.to - FREE_PORT_RANGE.from))
    if (!ports.includes(port) && (await canBind(port))) ports.push(port)
  }
  return ports
}

/** canBind tells whether `port` on 127.0.0.1 can be bound right now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** parseZxid reads a zxid as /status shows it: a bigint, a decimal string, or `0x<epoch>_<counter>`. */
export function parseZxid(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value)
  if (typeof value !== 'string') return undefined
  const hex = /^0x([0-9a-f]+)_([0-9a-f]+)$/i.exec(value)
  if (hex !== null) return (BigInt(`0x${hex[1]}`) << 32n) | BigInt(`0x${hex[2]}`)
  if (/^0x[0-9a-f]+$/i.test(value)) return BigInt(value)
  if (/^\d+$/.test(value)) return BigInt(value)
  return undefined
}

/** toMemberStatus parses a /status body. */
export function toMemberStatus(raw: Record<string, unknown>): MemberStatus {
  const zxid = parseZxid(raw.zxidDecimal) ?? parseZxid(raw.zxid)
  if (zxid === undefined) throw new Error(`status has no readable zxid: ${JSON.stringify(raw)}`)
  return {
    id: Number(raw.id),
    role: String(raw.role),
    serving: typeof raw.serving === 'boolean' ? raw.serving : undefined,
    leaderId: typeof raw.leaderId === 'number' ? raw.leaderId : undefined,
    epoch:
      typeof raw.epoch === 'number'
        ? raw.epoch
        : raw.epoch === undefined || raw.epoch === null
          ? undefined
          : Number(raw.epoch),
    zxid,
    lastLoggedZxid: parseZxid(raw.lastLoggedZxid),
    lastCommittedZxid: parseZxid(raw.lastCommittedZxid),
    digest: typeof raw.digest === 'string' ? raw.digest : JSON.stringify(raw.digest),
    followers: Array.isArray(raw.followers) ? (raw.followers as FollowerStatus[]) : undefined,
    raw,
  }
}

/** fetchJson GETs a URL with a deadline and parses the body. */
export async function fetchJson(
  url: string,
  timeoutMs = STATUS_TIMEOUT_MS,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  const body = (await response.json()) as Record<string, unknown>
  return { status: response.status, body }
}

/** parseLogLine parses one pino JSON line; other text becomes `{ msg: text }`. */
export function parseLogLine(line: string): LogEntry {
  if (line.startsWith('{')) {
    try {
      return JSON.parse(line) as LogEntry
    } catch {
      // fall through
    }
  }
  return { msg: line, raw: true }
}

class MemberProcess implements Member {
  readonly logs: string[] = []
  readonly unexpectedExits: string[] = []
  state: MemberState = 'stopped'
  starts = 0
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()
  private expectingExit = false

  constructor(
    readonly id: number,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
    readonly configFile: string,
    readonly config: Record<string, unknown>,
    private readonly logLevel: string,
    private readonly startTimeoutMs: number,
  ) {}

  get url(): string {
    return `ws://127.0.0.1:${this.clientPort}`
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.clientPort}`
  }

  get pid(): number | undefined {
    return this.child?.pid
  }

  async start(): Promise<void> {
    if (this.state !== 'stopped') return
    this.starts++
    this.expectingExit = false
    const since = this.logs.length
    this.logs.push(
      `--- harness: start #${this.starts} of member ${this.id} at ${new Date().toISOString()} ---`,
    )
    const child = spawn(
      process.execPath,
      [CLI, 'server', '--config', this.configFile, '--no-pretty', '--log-level', this.logLevel],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    this.child = child
    this.state = 'running'
    liveChildren.add(child)
    installExitHook()
    const collect = (stream: NodeJS.ReadableStream) => {
      let buffered = ''
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString()
        let newline: number
        while ((newline = buffered.indexOf('\n')) >= 0) {
          this.logs.push(buffered.slice(0, newline))
          buffered = buffered.slice(newline + 1)
        }
      })
      stream.on('end', () => {
        if (buffered.length > 0) this.logs.push(buffered)
        buffered = ''
      })
    }
    collect(child.stdout)
    collect(child.stderr)
    this.exited = new Promise<void>((done) => {
      child.once('exit', (code, signal) => {
        liveChildren.delete(child)
        const how = signal === null ? `code ${code}` : `signal ${signal}`
        this.logs.push(`--- harness: member ${this.id} (pid ${child.pid}) exited with ${how} ---`)
        if (!this.expectingExit)
          this.unexpectedExits.push(`member ${this.id} start #${this.starts} exited with ${how}`)
        if (this.child === child) {
          this.child = undefined
          this.state = 'stopped'
        }
        done()
      })
    })
    const exitedEarly = this.exited.then(() => {
      throw new Error(
        `member ${this.id} exited before listening:\n${this.logs.slice(since).join('\n')}`,
      )
    })
    const listening = this.waitForLog((e) => e.msg === 'listening', {
      since,
      timeoutMs: this.startTimeoutMs,
      what: `member ${this.id} listening`,
    })
    await Promise.race([listening, exitedEarly])
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child
    if (child === undefined) return
    if (signal === 'SIGSTOP') {
      child.kill('SIGSTOP')
      this.state = 'paused'
      return
    }
    if (signal === 'SIGCONT') {
      child.kill('SIGCONT')
      this.state = 'running'
      return
    }
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') {
      this.expectingExit = true
      // A stopped process would not act on SIGTERM until continued.
      if (this.state === 'paused' && signal !== 'SIGKILL') child.kill('SIGCONT')
      child.kill(signal)
      await this.exited
      return
    }
    child.kill(signal)
  }

  async stop(): Promise<void> {
    const child = this.child
    if (child === undefined) return
    this.expectingExit = true
    if (this.state === 'paused') child.kill('SIGCONT')
    child.kill('SIGTERM')
    try {
      await withDeadline(this.exited, 10_000, `member ${this.id} stop`)
    } catch {
      this.logs.push(`--- harness: member ${this.id} ignored SIGTERM for 10 s; SIGKILL ---`)
      child.kill('SIGKILL')
      await this.exited
    }
  }

  async restart(): Promise<void> {
    await this.stop()
    await this.start()
  }

  wipe(): void {
    if (this.state !== 'stopped')
      throw new Error(`member ${this.id} must be stopped before its data dir is wiped`)
    rmSync(this.dataDir, { recursive: true, force: true })
    mkdirSync(this.dataDir, { recursive: true })
    this.logs.push(`--- harness: wiped the data dir of member ${this.id} ---`)
  }

  entries(since = 0): LogEntry[] {
    return this.logs.slice(since).map(parseLogLine)
  }

  async waitForLog(
    predicate: (entry: LogEntry) => boolean,
    options: { since?: number; timeoutMs?: number; what?: string } = {},
  ): Promise<LogEntry> {
    let scanned = options.since ?? 0
    return waitFor(
      () => {
        for (; scanned < this.logs.length; scanned++) {
          const entry = parseLogLine(this.logs[scanned] as string)
          if (predicate(entry)) return entry
        }
        return undefined
      },
      {
        timeoutMs: options.timeoutMs ?? 20_000,
        intervalMs: 20,
        what: options.what ?? `a log line of member ${this.id}`,
      },
    )
  }
}

class EnsembleImpl implements Ensemble {
  readonly quorum: number
  readonly urls: string[]
  private stopped = false

  constructor(
    readonly size: number,
    readonly dir: string,
    readonly secretFile: string,
    readonly members: MemberProcess[],
    private readonly proxies: Map<string, FaultProxy>,
    private readonly name: string,
  ) {
    this.quorum = Math.floor(size / 2) + 1
    this.urls = members.map((m) => m.url)
  }

  member(id: number): Member {
    return this.memberProcess(id)
  }

  private memberProcess(id: number): MemberProcess {
    const m = this.members.find((x) => x.id === id)
    if (m === undefined) throw new Error(`no member ${id} (ensemble of ${this.size})`)
    return m
  }

  live(): Member[] {
    return this.members.filter((m) => m.state === 'running')
  }

  async status(id: number): Promise<MemberStatus> {
    const { body } = await fetchJson(`${this.memberProcess(id).httpUrl}/status`)
    return toMemberStatus(body)
  }

  async tryStatus(id: number): Promise<MemberStatus | undefined> {
    try {
      return await this.status(id)
    } catch {
      return undefined
    }
  }

  async statuses(ids?: number[]): Promise<Map<number, MemberStatus>> {
    const wanted = ids ?? this.live().map((m) => m.id)
    const found = await Promise.all(
      wanted.map(async (id) => [id, await this.tryStatus(id)] as const),
    )
    const out = new Map<number, MemberStatus>()
    for (const [id, s] of found) if (s !== undefined) out.set(id, s)
    return out
  }

  async leader(
    options: { timeoutMs?: number; among?: number[] } = {},
  ): Promise<{ id: number; status: MemberStatus }> {
    let last = ''
    try {
      return await waitFor(
        async () => {
          const among = options.among ?? this.live().map((m) => m.id)
          const statuses = await this.statuses(among)
          last = describeStatuses(statuses)
          const leaders = [...statuses.values()].filter((s) => s.role === 'leading')
          if (leaders.length !== 1) return undefined
          const leader = leaders[0] as MemberStatus
          let followers: number
          if (leader.followers !== undefined) {
            // A follower counts once it is linked and synced (not merely connected).
            followers = leader.followers.filter(
              (f) => f.connected !== false && (f.stage === undefined || f.stage === 'synced'),
            ).length
          } else {
            followers = [...statuses.values()].filter(
              (s) => s.role === 'following' && s.epoch === leader.epoch,
            ).length
          }
          if (followers < this.quorum - 1) return undefined
          if (leader.serving === false) return undefined
          if (leader.serving === undefined) {
            const health = await fetchJson(`${this.memberProcess(leader.id).httpUrl}/health`).catch(
              () => undefined,
            )
            if (health === undefined || health.body.serving === false) return undefined
          }
          return { id: leader.id, status: leader }
        },
        {
          timeoutMs: options.timeoutMs ?? 20_000,
          intervalMs: 50,
          what: 'one established leader with a quorum',
        },
      )
    } catch (err) {
      throw new Error(`${(err as Error).message}; last statuses:\n${last}`, { cause: err })
    }
  }

  async converged(
    options: { timeoutMs?: number; ids?: number[] } = {},
  ): Promise<{ zxid: bigint; digest: string }> {
    let last = ''
    try {
      return await waitFor(
        async () => {
          const ids = options.ids ?? this.live().map((m) => m.id)
          const statuses = await this.statuses(ids)
          last = describeStatuses(statuses)
          if (statuses.size !== ids.length) return undefined
          const all = [...statuses.values()]
          if (all.some((s) => s.role === 'looking')) return undefined
          const first = all[0]
          if (first === undefined) return undefined
          if (!all.every((s) => s.zxid === first.zxid && s.digest === first.digest))
            return undefined
          return { zxid: first.zxid, digest: first.digest }
        },
        {
          timeoutMs: options.timeoutMs ?? 30_000,
          intervalMs: 50,
          what: 'every live member at the same zxid and digest',
        },
      )
    } catch (err) {
      throw new Error(`${(err as Error).message}; last statuses:\n${last}`, { cause: err })
    }
  }

  link(i: number, j: number): FaultProxy {
    const proxy = this.proxies.get(linkKey(i, j))
    if (proxy === undefined) {
      throw new Error(
        this.proxies.size === 0
          ? 'this ensemble has no proxies (start it with proxies: true)'
          : `no link between ${i} and ${j}`,
      )
    }
    return proxy
  }

  setLink(i: number, j: number, mode: FaultMode): void {
    this.link(i, j).setMode(mode)
  }

  oneWay(from: number, to: number): void {
    // The larger id dials: its direction through the proxy is 'to-target'.
    const forward: Direction = from > to ? 'to-target' : 'from-target'
    this.link(from, to).setMode({ kind: 'one-way', forward })
  }

  partition(...groups: number[][]): void {
    const groupOf = new Map<number, number>()
    groups.forEach((g, index) => g.forEach((id) => groupOf.set(id, index)))
    for (const [key, proxy] of this.proxies) {
      const [i, j] = key.split('-').map(Number) as [number, number]
      const gi = groupOf.get(i)
      const same = gi !== undefined && gi === groupOf.get(j)
      proxy.setMode(same ? { kind: 'pass' } : { kind: 'drop-all', how: 'hold' })
    }
  }

  isolate(id: number, how: 'hold' | 'reset' = 'hold'): void {
    for (const m of this.members)
      if (m.id !== id) this.link(id, m.id).setMode({ kind: 'drop-all', how })
  }

  heal(): void {
    for (const proxy of this.proxies.values()) proxy.heal()
  }

  unexpectedExits(): string[] {
    return this.members.flatMap((m) => m.unexpectedExits)
  }

  async saveArtifacts(reason: string, extra: Record<string, string> = {}): Promise<string> {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-')
    const folder = join(ARTIFACTS_ROOT, `${this.name}-${stamp}-${process.pid}`)
    mkdirSync(folder, { recursive: true })
    const statuses = await this.statuses(
      this.members.filter((m) => m.state === 'running').map((m) => m.id),
    )
    writeFileSync(join(folder, 'reason.txt'), `${reason}\n`)
    writeFileSync(
      join(folder, 'statuses.json'),
      JSON.stringify(
        [...statuses.values()].map((s) => s.raw),
        null,
        2,
      ),
    )
    for (const m of this.members) {
      writeFileSync(join(folder, `member-${m.id}.log`), `${m.logs.join('\n')}\n`)
      writeFileSync(join(folder, `member-${m.id}.config.json`), JSON.stringify(m.config, null, 2))
    }
    const links = [...this.proxies].map(([key, p]) => ({ link: key, mode: p.mode, stats: p.stats }))
    if (links.length > 0) writeFileSync(join(folder, 'links.json'), JSON.stringify(links, null, 2))
    for (const [file, text] of Object.entries(extra)) writeFileSync(join(folder, file), text)
    return folder
  }

  async stopAll(options: { keepDir?: boolean } = {}): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await Promise.all(this.members.map((m) => m.stop().catch(() => undefined)))
    await Promise.all([...this.proxies.values()].map((p) => p.close().catch(() => undefined)))
    if (options.keepDir !== true) rmSync(this.dir, { recursive: true, force: true })
  }
}

function linkKey(i: number, j: number): string {
  return i > j ? `${i}-${j}` : `${j}-${i}`
}

/** describeStatuses renders statuses one per line, for timeouts and failure messages. */
export function describeStatuses(statuses: Map<number, MemberStatus>): string {
  return [...statuses.values()]
    .map(
      (s) =>
        `  member ${s.id}: ${s.role} epoch ${s.epoch} zxid 0x${s.zxid.toString(16)} digest ${s.digest}${s.followers === undefined ? '' : ` followers ${JSON.stringify(s.followers)}`}`,
    )
    .join('\n')
}

/**
 * startEnsemble writes the secret and one config per member into a fresh temp folder,
 * picks free ports, optionally puts a proxy on every peer link, starts the members
 * (all, or `startIds`) and resolves once each started one listens. It does not wait
 * for a leader: call `leader()`.
 */
export async function startEnsemble(options: EnsembleOptions): Promise<Ensemble> {
  const size = options.size
  if (!Number.isInteger(size) || size < 1 || size > 9)
    throw new RangeError(`ensemble size must be 1-9, got ${size}`)
  const name = options.name ?? `ensemble${size}`
  const dir = mkdtempSync(join(tmpdir(), `conclave-${name}-`))
  const secretFile = join(dir, 'secret')
  writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 })
  const ports = await freePorts(2 * size)
  const ids = Array.from({ length: size }, (_, i) => i + 1)
  const addresses = ids.map((id, i) => ({
    id,
    host: '127.0.0.1',
    clientPort: ports[2 * i] as number,
    peerPort: ports[2 * i + 1] as number,
  }))

  const proxies = new Map<string, FaultProxy>()
  if (options.proxies === true) {
    for (const i of ids) {
      for (const j of ids) {
        if (j >= i) continue
        const target = addresses[j - 1]!
        proxies.set(
          linkKey(i, j),
          await startFaultProxy({ target: { host: '127.0.0.1', port: target.peerPort } }),
        )
      }
    }
  }

  const tunables: Record<string, unknown> = {
    tickMs: options.tickMs ?? 50,
    leaderTimeoutTicks: options.leaderTimeoutTicks,
    initTimeoutTicks: options.initTimeoutTicks,
    minSessionTimeoutMs: options.minSessionTimeoutMs,
    maxSessionTimeoutMs: options.maxSessionTimeoutMs,
    snapshotEveryTxns: options.snapshotEveryTxns,
    diffLimitTxns: options.diffLimitTxns,
  }
  const members = addresses.map((address) => {
    const dataDir = join(dir, `data-${address.id}`)
    mkdirSync(dataDir, { recursive: true })
    const dialAddresses: Record<string, string> = {}
    for (const other of ids) {
      if (other >= address.id || proxies.size === 0) continue
      dialAddresses[String(other)] = `127.0.0.1:${proxies.get(linkKey(address.id, other))!.port}`
    }
    const config: Record<string, unknown> = {
      ...options.settings,
      id: address.id,
      dataDir,
      host: '127.0.0.1',
      clientPort: address.clientPort,
      peerPort: address.peerPort,
      secretFile,
      ensembleId: name,
      members: addresses,
      ...(Object.keys(dialAddresses).length > 0 ? { dialAddresses } : {}),
    }
    for (const [key, value] of Object.entries(tunables))
      if (value !== undefined) config[key] = value
    const configFile = join(dir, `member-${address.id}.json`)
    writeFileSync(configFile, JSON.stringify(config, null, 2))
    return new MemberProcess(
      address.id,
      address.clientPort,
      address.peerPort,
      dataDir,
      configFile,
      config,
      options.logLevel ?? 'info',
      options.startTimeoutMs ?? 60_000,
    )
  })

  const ensemble = new EnsembleImpl(size, dir, secretFile, members, proxies, name)
  const startIds = options.startIds ?? ids
  try {
    await Promise.all(members.filter((m) => startIds.includes(m.id)).map((m) => m.start()))
  } catch (err) {
    const folder = await ensemble
      .saveArtifacts(`start failed: ${String(err)}`)
      .catch(() => '(could not save artifacts)')
    await ensemble.stopAll()
    throw new Error(`${(err as Error).message}\nlogs saved in ${folder}`, { cause: err })
  }
  return ensemble
}

/**
 * memberFromConfig makes a stand-alone member handle (not part of any ensemble's
 * list) from a config object: the config is written to `dir/<label>.json` and the
 * process is started with `start()`. Tests use it for an impostor (a process with a
 * wrong secret claiming a member's id); stop it with `stop()`.
 */
export function memberFromConfig(
  config: Record<string, unknown>,
  dir: string,
  label: string,
  options: { logLevel?: string; startTimeoutMs?: number } = {},
): Member {
  const configFile = join(dir, `${label}.json`)
  writeFileSync(configFile, JSON.stringify(config, null, 2))
  mkdirSync(String(config.dataDir), { recursive: true })
  return new MemberProcess(
    Number(config.id),
    Number(config.clientPort),
    Number(config.peerPort),
    String(config.dataDir),
    configFile,
    config,
    options.logLevel ?? 'info',
    options.startTimeoutMs ?? 60_000,
  )
}

/**
 * finishEnsemble is for afterEach/afterAll: on a failed test it saves the artifacts and
 * returns the folder (also printed to stderr), then it always stops everything.
 */
export async function finishEnsemble(
  ensemble: Ensemble | undefined,
  failed: boolean,
  reason = 'test failed',
): Promise<string | undefined> {
  if (ensemble === undefined) return undefined
  let folder: string | undefined
  if (failed) {
    folder = await ensemble.saveArtifacts(reason).catch(() => undefined)
    if (folder !== undefined) process.stderr.write(`ensemble logs saved in ${folder}\n`)
  }
  await ensemble.stopAll()
  return folder
}
