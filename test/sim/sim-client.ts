/**
 * SimClient: one simulated application with a session, acting like the SDK does. It
 * connects to a random server (resuming its session with the last zxid it saw, so a
 * server behind it refuses), keeps the session alive with pings, and issues a random
 * mix of requests on a handful of paths: create, set with or without a version,
 * delete, plain reads, linearizable reads, and sync followed by a read. It also
 * creates ephemerals (checked by the ensemble invariants, not by the history), closes
 * its session now and then, and sometimes goes silent for longer than its session
 * timeout so the leader expires the session.
 *
 * Every request on the tracked paths is recorded in the checker's history format.
 * A request whose reply never comes (the server crashed, the connection closed, the
 * client gave up after its request timeout) gets an unknown outcome, and the client
 * moves to another server.
 */
import type { OpInput, OpOutput } from '../checker/index.js'
import {
  CloseCode,
  ErrorCode,
  type ReplyMessage,
  type Request,
  type ServerId,
  type SessionId,
  type Stat,
  type Zxid,
} from '../../protocol/index.js'
import type { HistoryRecorder } from './history-recorder.js'
import type { ToClient, ToServer } from './messages.js'
import type { SimRandom } from './random.js'

/** ClientEnv is the simulation around a client. */
export interface ClientEnv {
  nowMs(): number
  readonly servers: readonly ServerId[]
  /** open starts a connection to `server` and returns its id. */
  open(client: SimClient, server: ServerId): number
  send(connId: number, message: ToServer): void
  readonly history: HistoryRecorder
  /** acknowledged is told of every write answered from a committed txn. */
  acknowledged(zxid: Zxid, clientId: number): void
  /** unexpected reports a reply that no correct server sends. */
  unexpected(what: string): void
  trace(line: string): void
}

/** ClientProfile is one client's behaviour, fixed per seed. */
export interface ClientProfile {
  readonly paths: readonly string[]
  readonly sessionTimeoutMs: number
  readonly requestTimeoutMs: number
  /** opRate is the chance per tick of issuing a request when below `maxOutstanding`. */
  readonly opRate: number
  readonly maxOutstanding: number
  /** silenceRate is the chance per tick of going silent long enough for the session to expire. */
  readonly silenceRate: number
}

type PendingKind = 'tracked' | 'sync' | 'ephemeral' | 'close'

interface Pending {
  readonly kind: PendingKind
  readonly request: Request
  readonly sentAtMs: number
  /** opId is the history op this request reports (a sync reports nothing itself). */
  readonly opId: number | undefined
  readonly plain: boolean
}

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()
const TXN_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.OK,
  ErrorCode.NODE_EXISTS,
  ErrorCode.NO_NODE,
  ErrorCode.BAD_VERSION,
  ErrorCode.SESSION_EXPIRED,
  ErrorCode.SESSION_MOVED,
])

/** SimClient is one simulated client. */
export class SimClient {
  private phase: 'idle' | 'connecting' | 'connected' = 'idle'
  private connId = 0
  /** movedOn is the connection that answered SESSION_MOVED: the server must close it, answering nothing more on it. */
  private movedOn = 0
  private server: ServerId | undefined
  private connectStartedMs = 0
  private retryAtMs = 0
  private sessionId: SessionId = 0n
  private password: Uint8Array = new Uint8Array(0)
  private lastZxidSeen: Zxid = 0n
  private lastSentMs = 0
  private silentUntilMs = 0
  private nextXid = 1
  private nextValue = 1
  private ephemerals = 0
  private readonly pending = new Map<number, Pending>()
  private readonly versions = new Map<string, number>()
  /** stopped clients issue nothing new (the run is winding down). */
  stopped = false
  /** writeSoon makes the client's next request an unconditional set (the liveness probe). */
  writeSoon = false

  constructor(
    readonly id: number,
    private readonly profile: ClientProfile,
    private readonly random: SimRandom,
    private readonly env: ClientEnv,
  ) {}

  /** outstanding is the number of requests awaiting a reply. */
  get outstanding(): number {
    return this.pending.size
  }

  /** act is the client's turn, once per tick: connect, time out, ping, or issue a request. */
  act(): void {
    const now = this.env.nowMs()
    if (now < this.silentUntilMs) return
    if (this.phase === 'idle') {
      if (!this.stopped && now >= this.retryAtMs) this.connect()
      return
    }
    if (this.phase === 'connecting') {
      if (now - this.connectStartedMs > this.profile.requestTimeoutMs)
        this.giveUp('connect timed out')
      return
    }
    for (const p of this.pending.values()) {
      if (now - p.sentAtMs > this.profile.requestTimeoutMs) return this.giveUp('request timed out')
    }
    if (!this.stopped && this.random.chance(this.profile.silenceRate)) {
      // Go quiet for longer than the session timeout: the leader must expire the session.
      this.silentUntilMs = now + this.profile.sessionTimeoutMs + this.random.between(500, 3000)
      this.env.trace(`c${this.id} silent until ${this.silentUntilMs}`)
      return
    }
    const wantsOp = this.writeSoon || this.random.chance(this.profile.opRate)
    if (!this.stopped && this.pending.size < this.profile.maxOutstanding && wantsOp) this.issue()
    else if (now - this.lastSentMs >= this.profile.sessionTimeoutMs / 3) this.send({ type: 'ping' })
  }

  /** onMessage handles what arrives on a connection (messages of older connections are ignored). */
  onMessage(connId: number, message: ToClient): void {
    if (connId !== this.connId || this.phase === 'idle') return
    switch (message.type) {
      case 'connected':
        this.phase = 'connected'
        if (message.sessionId !== this.sessionId)
          this.env.trace(`c${this.id} session ${message.sessionId.toString(16)} at s${this.server}`)
        this.sessionId = message.sessionId
        this.password = message.password
        this.seen(message.zxid)
        return
      case 'connectRefused':
        if (message.code === ErrorCode.SESSION_EXPIRED) this.sessionId = 0n
        return this.giveUp(`refused ${message.code}`)
      case 'reply':
        return this.onReply(message)
      case 'closed':
        // As the SDK does: a connection closed because the session ended takes the session with it.
        if (message.code === CloseCode.SESSION_ENDED) this.sessionId = 0n
        return this.giveUp(`closed: ${message.reason}`)
      case 'pong':
        return
    }
  }

  /** abandon settles every outstanding request as unknown (the run ended without their replies). */
  abandon(): void {
    this.giveUp('run ended')
  }

  private connect(): void {
    this.server = this.env.servers[this.random.int(this.env.servers.length)]
    this.connId = this.env.open(this, this.server as ServerId)
    this.phase = 'connecting'
    this.connectStartedMs = this.env.nowMs()
    const timeoutMs = this.profile.sessionTimeoutMs
    this.send({
      type: 'connect',
      protocolVersion: 1,
      sessionId: this.sessionId,
      password: this.password,
      lastZxidSeen: this.lastZxidSeen,
      timeoutMs,
      readOnly: false,
    })
  }

  private giveUp(why: string): void {
    for (const [xid, p] of this.pending) {
      this.pending.delete(xid)
      if (p.opId !== undefined) this.env.history.unknown(p.opId)
    }
    if (this.phase !== 'idle') {
      this.send({ type: 'disconnect' })
      this.env.trace(`c${this.id} gives up on s${this.server}: ${why}`)
    }
    this.phase = 'idle'
    this.connId = 0
    this.retryAtMs = this.env.nowMs() + this.random.between(20, 300)
  }

  private send(message: ToServer): void {
    this.lastSentMs = this.env.nowMs()
    this.env.send(this.connId, message)
  }

  private seen(zxid: Zxid): void {
    if (zxid > this.lastZxidSeen) this.lastZxidSeen = zxid
  }

  private request(
    kind: PendingKind,
    request: Request,
    opId: number | undefined,
    plain = false,
  ): void {
    const xid = this.nextXid++
    this.pending.set(xid, { kind, request, sentAtMs: this.env.nowMs(), opId, plain })
    const isWrite = request.op === 'create' || request.op === 'set' || request.op === 'delete'
    if (opId !== undefined && isWrite) this.env.history.bindRequest(opId, this.sessionId, xid)
    this.send({ type: 'request', xid, request })
  }

  private issue(): void {
    const r = this.writeSoon ? 0.2 : this.random.float()
    this.writeSoon = false
    const path = this.random.pick(this.profile.paths)
    const begin = (input: OpInput) =>
      this.env.history.begin(this.id, this.sessionId, input, this.env.nowMs())
    const value = `c${this.id}.${this.nextValue++}`
    const data = utf8.encode(value)
    if (r < 0.17) {
      this.request(
        'tracked',
        { op: 'create', path, data, mode: 'persistent' },
        begin({ kind: 'create', path, value }),
      )
    } else if (r < 0.4) {
      const expectedVersion = this.chooseVersion(path)
      this.request(
        'tracked',
        { op: 'set', path, data, version: expectedVersion },
        begin({ kind: 'set', path, value, expectedVersion }),
      )
    } else if (r < 0.5) {
      const expectedVersion = this.chooseVersion(path)
      this.request(
        'tracked',
        { op: 'delete', path, version: expectedVersion },
        begin({ kind: 'delete', path, expectedVersion }),
      )
    } else if (r < 0.68) {
      this.request(
        'tracked',
        { op: 'get', path, watch: false },
        begin({ kind: 'read', path }),
        true,
      )
    } else if (r < 0.83) {
      this.request(
        'tracked',
        { op: 'get', path, watch: false, linearizable: true },
        begin({ kind: 'read', path }),
      )
    } else if (r < 0.93) {
      // sync, then a plain read: together one linearizable read from the sync's call to the read's reply.
      const opId = begin({ kind: 'read', path })
      this.request('sync', { op: 'sync', path }, opId)
      this.request('tracked', { op: 'get', path, watch: false }, opId)
    } else if (r < 0.985) {
      const mode = this.random.chance(0.5) ? 'ephemeral' : 'ephemeral-sequential'
      this.request(
        'ephemeral',
        { op: 'create', path: `/e${this.id}-${this.ephemerals++}`, data, mode },
        undefined,
      )
    } else {
      this.request('close', { op: 'closeSession' }, undefined)
    }
  }

  private chooseVersion(path: string): number {
    const known = this.versions.get(path)
    if (known === undefined || this.random.chance(0.35)) return -1
    return Math.max(0, known + this.random.between(-1, 1))
  }

  private onReply(reply: ReplyMessage): void {
    if (this.movedOn === this.connId)
      this.env.unexpected(
        `reply ${reply.xid} after SESSION_MOVED on the same connection: the server must close it`,
      )
    if (reply.err === ErrorCode.SESSION_MOVED) this.movedOn = this.connId
    const p = this.pending.get(reply.xid)
    if (p === undefined) return
    this.pending.delete(reply.xid)
    this.seen(reply.zxid)
    const isWrite =
      p.request.op === 'create' ||
      p.request.op === 'set' ||
      p.request.op === 'delete' ||
      p.request.op === 'closeSession'
    if (isWrite && TXN_ERRORS.has(reply.err)) this.env.acknowledged(reply.zxid, this.id)
    if (reply.err === ErrorCode.SESSION_EXPIRED) {
      if (p.opId !== undefined) this.env.history.drop(p.opId)
      this.sessionId = 0n
      return this.giveUp('session expired')
    }
    if (p.kind === 'close') {
      if (reply.err === ErrorCode.OK) this.sessionId = 0n
      return
    }
    if (p.kind === 'ephemeral') {
      // SESSION_MOVED: a stale claim from a server this client left reached the leader
      // last; the server closes the connection after it and the client claims again.
      if (
        reply.err !== ErrorCode.OK &&
        reply.err !== ErrorCode.NOT_SERVING &&
        reply.err !== ErrorCode.SESSION_MOVED
      )
        this.env.unexpected(`ephemeral create answered ${reply.err}: ${reply.message ?? ''}`)
      return
    }
    if (p.opId === undefined) return
    this.settle(p, reply)
  }

  /** settle turns a reply into the history op's output, or drops/unknowns the op. */
  private settle(p: Pending, reply: ReplyMessage): void {
    const opId = p.opId as number
    if (p.kind === 'sync') {
      // A failed sync turns the read that follows into a plain one; keep it out of the history.
      if (reply.err !== ErrorCode.OK) this.env.history.drop(opId)
      return
    }
    // Both are definite failures that changed nothing: the op never took effect.
    if (reply.err === ErrorCode.NOT_SERVING || reply.err === ErrorCode.SESSION_MOVED)
      return this.env.history.drop(opId)
    const output = this.outputOf(p.request, reply)
    if (output === undefined) {
      this.env.unexpected(`${p.request.op} answered ${reply.err}: ${reply.message ?? ''}`)
      return this.env.history.drop(opId)
    }
    // The op may be gone already: a failed sync drops the read that follows it.
    if (this.env.history.isOpen(opId))
      this.env.history.finish(opId, output, this.env.nowMs(), p.plain ? reply.zxid : undefined)
  }

  private outputOf(request: Request, reply: ReplyMessage): OpOutput | undefined {
    const err = reply.err
    const stat = (reply.result as { stat?: Stat } | undefined)?.stat
    if (err === ErrorCode.NO_NODE)
      return request.op === 'get'
        ? { ok: true, exists: false, zxid: reply.zxid }
        : { ok: false, code: 'NO_NODE' }
    if (err === ErrorCode.NODE_EXISTS && request.op === 'create')
      return { ok: false, code: 'NODE_EXISTS' }
    if (err === ErrorCode.BAD_VERSION && (request.op === 'set' || request.op === 'delete'))
      return { ok: false, code: 'BAD_VERSION' }
    if (err !== ErrorCode.OK) return undefined
    switch (request.op) {
      case 'create':
        this.versions.set(request.path, 0)
        return { ok: true, version: 0, zxid: reply.zxid }
      case 'set':
        if (stat === undefined) return undefined
        this.versions.set(request.path, stat.version)
        return { ok: true, version: stat.version, zxid: reply.zxid }
      case 'delete':
        this.versions.delete(request.path)
        return { ok: true, zxid: reply.zxid }
      case 'get': {
        const data = (reply.result as { data?: Uint8Array } | undefined)?.data
        if (stat === undefined || data === undefined) return undefined
        this.versions.set(request.path, stat.version)
        return {
          ok: true,
          exists: true,
          value: fromUtf8.decode(data),
          version: stat.version,
          zxid: reply.zxid,
          mzxid: stat.mzxid,
        }
      }
      // Not ops this client records in the history.
      case 'exists':
      case 'children':
      case 'multi':
      case 'sync':
      case 'getEphemerals':
      case 'childCount':
      case 'getAcl':
      case 'setAcl':
      case 'auth':
      case 'addWatch':
      case 'removeWatches':
      case 'setWatches':
      case 'closeSession':
        return undefined
    }
  }
}
