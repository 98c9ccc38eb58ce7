/**
 * SessionEngine: the state machine behind a Client. It keeps one session alive over a
 * list of servers: connect (or resume) with backoff, re-register watches after a
 * reconnect, send requests in issue order, and report connection states the way
 * Curator and kazoo do:
 *
 *   connecting ──► connected ──► suspended ──► connected        (same session)
 *                      ▲             │
 *                      └── lost ◄────┘  (expired: a NEW session follows)
 *   any ──► closed
 *
 * A session is lost when a server refuses it (SESSION_EXPIRED, AUTH_FAILED), ends it
 * (close code 4001), or when the client has been cut off for longer than the
 * negotiated session timeout (Curator's client-side timer). Calls still waiting for a
 * connection when that happens were issued for the dead session and fail with
 * SessionExpiredError; calls issued after it wait for the new session.
 */
import type { TlsOptions } from './transport.js'
import {
  ErrorCode,
  PROTOCOL_VERSION,
  errorCodeName,
  type ConnectedMessage,
  type ConnectMessage,
  type MultiResult,
  type AddWatchRequest,
  type ReplyMessage,
  type Request,
  type ResultOf,
  type SessionId,
} from '../protocol/index.js'
import type { Clock, TimerHandle } from './clock.js'
import {
  Connection,
  LocalClose,
  backoffDelayMs,
  type ConnectionEnd,
  type Logger,
  type SessionMessage,
} from './connection.js'
import {
  AuthFailedError,
  ClientClosedError,
  ConclaveError,
  ConnectionLossError,
  SessionExpiredError,
  errorFromCode,
} from './errors.js'
import type { LivenessOptions } from './liveness.js'
import type { AuthInfo } from './options.js'
import { PendingTable, isWrite, type PendingCall } from './pending.js'
import { ServerList } from './server-list.js'
import type { ClientWatchRegistry, StreamRegistration } from './watch-registry.js'

export type { Logger } from './connection.js'

/** ConnectionState is where the client stands with its session. */
export type ConnectionState = 'connecting' | 'connected' | 'suspended' | 'lost' | 'closed'

/** EngineOptions configure the connection loop. */
export interface EngineOptions {
  servers: string[]
  /** sessionTimeoutMs is the timeout asked for; the server's answer is `negotiatedTimeoutMs`. */
  sessionTimeoutMs: number
  /** handshakeTimeoutMs bounds one connection attempt to one server. */
  handshakeTimeoutMs: number
  /** minHandshakeTimeoutMs, firstHandshakeTimeoutMs, serverSuspectMs: see ServerList (server-list.ts). */
  minHandshakeTimeoutMs: number
  firstHandshakeTimeoutMs: number
  serverSuspectMs: number
  /** liveness overrides the ping rules' defaults (liveness.ts). */
  liveness: LivenessOptions
  /** tls carries the CA and client certificate for wss:// servers (transport.ts). */
  tls?: TlsOptions | undefined
  /** backoffCapMs caps the pause between rounds through the server list. */
  backoffCapMs: number
  /** closeTimeoutMs bounds the wait for the closeSession reply in close(). */
  closeTimeoutMs: number
  logger: Logger
  /** clock times every deadline, backoff and session timer of the client. */
  clock: Clock
  /** userPath maps a server path back to the user's (chroot stripped), for error `path`s. */
  userPath(serverPath: string): string
  /** auth is the credentials to send on every connection before anything else. */
  auth: AuthInfo[]
}

/** SESSION_ENDED_CLOSE_CODE is the server's close code after it ended the session (protocol CloseCode). */
const SESSION_ENDED_CLOSE_CODE = 4001

/** SessionEngine runs the connection loop and the request pipeline. */
export class SessionEngine {
  /** state is the current connection state. */
  state: ConnectionState = 'connecting'
  /** sessionId is the session in use, 0n when there is none. */
  sessionId: SessionId = 0n
  /** negotiatedTimeoutMs is the session timeout the server granted. */
  negotiatedTimeoutMs = 0
  /** serverId is the id of the server of the last accepted connection. */
  serverId = 0
  /** serverUrl is the URL of the server of the last accepted connection ('' before the first). */
  serverUrl = ''
  /** lastZxid is the highest zxid seen in a reply, event or pong. */
  lastZxid = 0n
  /**
   * coveredZxid is the highest zxid of a reply or pong received once the connection's
   * watches were registered: the server sent every event up to it before, so no watch
   * missed one. Events do not count: a txn's events may be cut off half-way.
   */
  coveredZxid = 0n
  /** resyncing counts the watch re-registrations still unanswered on the live connection (Infinity once one failed). */
  private resyncing = 0
  /** replays maps the xid of each addWatch in flight with a position to its registration, for the replayed events that precede its reply. */
  private readonly replays = new Map<number, StreamRegistration>()
  private password: Uint8Array = new Uint8Array(0)
  private readonly pending = new PendingTable()
  /** connection is the current attempt or live connection. */
  private connection: Connection | undefined
  /** live is the connection serving the session, set while `connected`. */
  private live: Connection | undefined
  private readonly stateListeners = new Set<(state: ConnectionState) => void>()
  private lostTimer: TimerHandle | undefined
  private loop: Promise<void> | undefined
  private wakeFromBackoff: (() => void) | undefined
  private closing: Promise<void> | undefined
  /** serverList orders the servers for each round and times their handshakes. */
  private readonly serverList: ServerList
  /** auths are the credentials sent first on every connection (connect's `auth`, then each addAuth). */
  private readonly auths: AuthInfo[]

  constructor(
    private readonly options: EngineOptions,
    private readonly watches: ClientWatchRegistry,
  ) {
    this.serverList = new ServerList(options)
    this.auths = [...options.auth]
  }

  /** start begins the connection loop (once). */
  start(): void {
    this.loop ??= this.run().catch((err: unknown) =>
      this.options.logger.error('connection loop failed', err),
    )
  }

  /** clock is the client's time source; calls time their deadlines with it too. */
  get clock(): Clock {
    return this.options.clock
  }

  /** onState subscribes to state changes; returns the unsubscribe function. */
  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener)
    return () => void this.stateListeners.delete(listener)
  }

  /** closed tells whether close() has begun. */
  get closed(): boolean {
    return this.closing !== undefined
  }

  /**
   * failure is why the client closed itself, if it did: an AuthFailedError after
   * credentials were refused (the server ended the session, as ZooKeeper's does).
   */
  failure: ConclaveError | undefined

  /**
   * issue queues a request: sent at once when connected, else after the next (re)connect.
   * An auth request's credentials are also kept and sent first on every later connection.
   */
  issue(
    request: Request,
    resolve: PendingCall['resolve'],
    reject: PendingCall['reject'],
  ): PendingCall {
    if (request.op === 'auth') {
      const info = { scheme: request.scheme, credentials: request.credentials }
      if (!this.auths.some((a) => a.scheme === info.scheme && a.credentials === info.credentials))
        this.auths.push(info)
      reject = this.watchAuth(info, reject)
    }
    const call = this.pending.create(request, resolve, reject)
    if (this.closed) reject(new ClientClosedError('the client is closed'))
    else if (this.live !== undefined && this.state === 'connected') this.send(call, this.live)
    else this.pending.queue(call)
    return call
  }

  /**
   * watchAuth wraps an auth call's reject: refused credentials (AUTH_FAILED) are
   * forgotten and the client closes for good, as a ZooKeeper handle does in AUTH_FAILED.
   */
  private watchAuth(info: AuthInfo, reject: PendingCall['reject']): PendingCall['reject'] {
    return (error) => {
      if (error instanceof ConclaveError && error.code === 'AUTH_FAILED') {
        const index = this.auths.indexOf(info)
        if (index >= 0) this.auths.splice(index, 1)
        this.failure ??= new AuthFailedError(error.message)
        this.options.logger.warn('credentials refused; closing the client', info.scheme)
        void this.close()
      }
      reject(error)
    }
  }

  /** abandon gives up on a call: an unsent one is dropped, a sent one's reply will be ignored. */
  abandon(call: PendingCall): void {
    this.pending.abandon(call)
  }

  /** close ends the session politely (closeSession, bounded wait), then the connection. Idempotent. */
  close(): Promise<void> {
    return (this.closing ??= this.shutdown())
  }

  private async shutdown(): Promise<void> {
    const live = this.live
    if (live !== undefined && this.state === 'connected') {
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimeout(resolve, this.options.closeTimeoutMs)
        const done = () => {
          this.clock.clearTimeout(timer)
          resolve()
        }
        this.send(this.pending.create({ op: 'closeSession' }, done, done), live)
      })
    }
    this.clock.clearTimeout(this.lostTimer)
    const closed = new ClientClosedError('the client is closed')
    this.pending.failUnsent(closed)
    // A write already sent may have been applied: its outcome is unknown, not a failure.
    this.pending.failInFlight((call) =>
      isWrite(call.request)
        ? new ClientClosedError(
            `the client was closed with ${call.request.op} in flight; it may have been applied`,
            { definite: false },
          )
        : closed,
    )
    this.connection?.close(LocalClose.NORMAL, 'client closed')
    this.watches.dropAll(null)
    this.setState('closed')
    this.wakeFromBackoff?.()
    await this.loop
  }

  // ---------------------------------------------------------------- the loop

  private async run(): Promise<void> {
    let failedRounds = 0
    while (!this.closed) {
      let accepted = false
      for (const url of this.serverList.round()) {
        if (this.closed) return
        if (await this.attempt(url)) accepted = true
      }
      if (this.closed) return
      failedRounds = accepted ? 0 : failedRounds + 1
      await this.pause(backoffDelayMs(failedRounds, this.options.backoffCapMs))
    }
  }

  private pause(delayMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(resolve, delayMs)
      this.wakeFromBackoff = () => {
        this.clock.clearTimeout(timer)
        resolve()
      }
    })
  }

  /** attempt runs one connection to one server; resolves when it ends, true if it was accepted. */
  private attempt(url: string): Promise<boolean> {
    const connect: ConnectMessage = {
      type: 'connect',
      protocolVersion: PROTOCOL_VERSION,
      sessionId: this.sessionId,
      password: this.password,
      lastZxidSeen: this.lastZxid,
      timeoutMs: this.options.sessionTimeoutMs,
      readOnly: false,
    }
    const requestedSessionId = this.sessionId
    const connection: Connection = new Connection(
      {
        url,
        handshakeTimeoutMs: this.serverList.handshakeTimeoutMs(url),
        logger: this.options.logger,
        clock: this.clock,
        liveness: this.options.liveness,
        tls: this.options.tls,
      },
      {
        connected: (message) => this.onConnected(connection, message, requestedSessionId),
        refused: (code, reason) => this.onRefused(code, reason, url),
        message: (message) => this.onSessionMessage(connection, message),
        closed: (end) => {
          this.serverList.onEnd(url, end)
          this.onConnectionEnd(connection, end)
        },
      },
    )
    this.connection = connection
    return connection.run(connect)
  }

  private onConnected(
    connection: Connection,
    message: ConnectedMessage,
    requestedSessionId: SessionId,
  ): void {
    if (this.closed) return connection.close(LocalClose.NORMAL, 'client closed')
    const resumed = requestedSessionId !== 0n && message.sessionId === requestedSessionId
    if (requestedSessionId !== 0n && !resumed)
      this.loseSession('the server opened a new session instead of resuming')
    this.live = connection
    this.clock.clearTimeout(this.lostTimer)
    this.sessionId = message.sessionId
    this.password = message.password
    this.negotiatedTimeoutMs = message.timeoutMs
    this.serverId = message.serverId
    this.serverUrl = connection.url
    // Not `lastZxid = message.zxid`: that is the server's position, which includes changes
    // whose events this client never received; re-registering watches relative to it
    // would silently skip them. The setWatches reply brings lastZxid up to date.
    this.options.logger.debug(
      resumed ? 'session resumed' : 'session opened',
      connection.url,
      message.sessionId.toString(16),
    )
    // Credentials before anything else (ZooKeeper re-sends its AuthPackets first), so
    // every later request, watch re-registrations included, is checked with them.
    for (const info of this.auths) {
      const request: Request = { op: 'auth', ...info }
      const call = this.pending.create(
        request,
        () => {},
        this.watchAuth(info, () => {}),
      )
      this.send(call, connection)
    }
    // Watches first, so the server sends what changed while we were away before any new
    // reply: streams from their positions, then one-shot watches (whose catch-up events
    // only fire one-shot watches, so they never pass a stream its replay).
    this.resyncing = 0
    const done = () => {
      if (this.live === connection && this.resyncing > 0) this.resyncing -= 1
    }
    const failed = (err: unknown) => {
      this.options.logger.warn('re-registering watches failed', err)
      if (this.live === connection) this.resyncing = Infinity
    }
    // Streams opened since the last connection ended (in a new session too: a stream
    // opened while the client was cut off) are registered from their positions.
    for (const registration of this.watches.streamRegistrations()) {
      this.resyncing += 1
      this.registerStreamOn(connection, registration, true, done, failed)
    }
    if (resumed) {
      for (const setWatches of this.watches.setWatchesRequests(this.coveredZxid)) {
        this.resyncing += 1
        this.send(this.pending.create(setWatches, done, failed), connection)
      }
    } else if (this.resyncing === 0 && message.zxid > this.coveredZxid) {
      // A new session has no watches yet: nothing before its first zxid can be missed.
      this.coveredZxid = message.zxid
    }
    // Queued calls go out before listeners hear 'connected', so calls a listener makes stay behind them.
    for (const call of this.pending.takeUnsent()) this.send(call, connection)
    this.setState('connected')
  }

  private onRefused(code: number, reason: string, url: string): void {
    this.options.logger.info('connect refused', url, errorCodeName(code) ?? code, reason)
    // ZXID_AHEAD, NOT_SERVING and THROTTLED: this server cannot serve us now; the loop tries
    // the next, and backs off when a whole round refused.
    if (code === ErrorCode.SESSION_EXPIRED || code === ErrorCode.AUTH_FAILED)
      this.loseSession(`${errorCodeName(code)}: ${reason}`)
  }

  private onConnectionEnd(connection: Connection, end: ConnectionEnd): void {
    if (this.connection === connection) this.connection = undefined
    if (this.live !== connection) return
    this.live = undefined
    this.replays.clear()
    this.watches.connectionEnded(connection, this.coveredZxid)
    this.pending.failInFlight(
      (call) =>
        new ConnectionLossError(`connection lost with ${call.request.op} in flight`, {
          definite: !isWrite(call.request),
        }),
    )
    if (this.closed) return
    this.options.logger.info('connection lost', connection.url, end.code, end.reason)
    this.setState('suspended')
    if (!end.local && end.code === SESSION_ENDED_CLOSE_CODE) {
      this.loseSession('the server ended the session')
      return
    }
    const timeoutMs = this.negotiatedTimeoutMs
    this.lostTimer = this.clock.setTimeout(() => {
      if (this.state !== 'suspended') return
      this.loseSession(`no server reached within the session timeout (${timeoutMs} ms)`)
      // The attempt under way still carries the dead session's credentials.
      this.connection?.close(LocalClose.NORMAL, 'session given up')
    }, timeoutMs)
  }

  /** loseSession forgets the session; the next connection opens a new one. */
  private loseSession(reason: string): void {
    if (this.sessionId === 0n) return
    this.clock.clearTimeout(this.lostTimer)
    this.sessionId = 0n
    this.password = new Uint8Array(0)
    const expired = new SessionExpiredError(`session lost: ${reason}`)
    this.pending.failUnsent(expired)
    this.watches.dropAll(expired)
    this.setState('lost')
  }

  private onSessionMessage(connection: Connection, message: SessionMessage): void {
    if (message.zxid > this.lastZxid) this.lastZxid = message.zxid
    if (message.type === 'event') {
      if (message.replayOf === undefined) return this.watches.deliver(message, connection)
      const registration = this.replays.get(message.replayOf)
      if (registration !== undefined) this.watches.deliverReplay(message, registration)
      return
    }
    if (message.type === 'reply') this.onReply(connection, message)
    if (this.resyncing === 0 && this.live === connection && message.zxid > this.coveredZxid)
      this.coveredZxid = message.zxid
  }

  /**
   * registerStream asks the server for the persistent watch of `registration` on the
   * live connection, replaying what it applied after the registration's position if
   * `replay`, else starting when it registers the watch; without a live connection, the
   * next connection registers it with the others, from its position.
   * A stream that failed for good (an error no reconnect cures) ends with that error.
   */
  registerStream(registration: StreamRegistration, replay: boolean): void {
    const live = this.live
    if (live === undefined || this.state !== 'connected') return
    this.registerStreamOn(live, registration, replay)
  }

  /** registerStreamOn sends addWatch on `connection` (from the registration's position if `replay`, with a sync first if that is ahead of what the client saw). */
  private registerStreamOn(
    connection: Connection,
    registration: StreamRegistration,
    replay: boolean,
    done: () => void = () => {},
    failed: (error: unknown) => void = () => {},
  ): void {
    const { path, recursive, from } = registration
    // The member may lag behind the position (another member's, or a restarted
    // process's): a sync first brings it up to the leader's commit point.
    if (replay && from.zxid > this.lastZxid)
      this.send(
        this.pending.create(
          { op: 'sync', path: '/' },
          () => {},
          () => {},
        ),
        connection,
      )
    const request: AddWatchRequest = {
      op: 'addWatch',
      path,
      mode: recursive ? 'persistentRecursive' : 'persistent',
      ...(replay ? { fromZxid: from.zxid } : {}),
      ...(replay && Number.isFinite(from.index) ? { afterIndex: from.index } : {}),
    }
    const call: PendingCall = this.pending.create(
      request,
      (result, zxid) => {
        this.replays.delete(call.xid)
        const reply = result as ResultOf<'addWatch'>
        const compacted =
          reply.compacted === true ? { oldestZxid: reply.oldestZxid ?? 0n } : undefined
        this.watches.acknowledge(registration, zxid, compacted, connection)
        done()
      },
      (error: unknown) => {
        this.replays.delete(call.xid)
        // Lost with the connection, or refused by a member that is not serving: the next
        // connection registers the stream again. Anything else ends the stream.
        if (error instanceof ConclaveError && !error.retryable)
          this.watches.refuse(registration, error)
        failed(error)
      },
    )
    if (replay) this.replays.set(call.xid, registration)
    this.send(call, connection)
  }

  /** liveConnection is the connection serving the session while `connected` (an identity for the watch registry). */
  get liveConnection(): object | undefined {
    return this.state === 'connected' ? this.live : undefined
  }

  private onReply(connection: Connection, reply: ReplyMessage): void {
    const match = this.pending.matchReply(reply.xid)
    if (match.kind === 'unexpected') {
      this.options.logger.warn(
        'reply for an unexpected xid; dropping the connection',
        reply.xid,
        match.expectedXid,
      )
      connection.close(LocalClose.PROTOCOL_ERROR, 'reply out of order')
      return
    }
    const call = match.call
    if (call.abandoned) return
    if (reply.err === 0) return call.resolve(reply.result ?? {}, reply.zxid)
    // A failed multi still carries its per-op results.
    const results =
      reply.result !== undefined && 'results' in reply.result ? reply.result.results : undefined
    const message = reply.message ?? `${call.request.op} failed (${reply.err})`
    const serverPath = pathOfFailure(call.request, results)
    const path = serverPath === undefined ? {} : { path: this.options.userPath(serverPath) }
    call.reject(
      errorFromCode(reply.err, message, { ...path, ...(results === undefined ? {} : { results }) }),
    )
  }

  private send(call: PendingCall, connection: Connection): void {
    this.pending.markSent(call)
    // A false return means the socket is already closing; its end fails the call as in flight.
    connection.send({ type: 'request', xid: call.xid, request: call.request })
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return
    this.state = state
    for (const listener of [...this.stateListeners]) {
      try {
        listener(state)
      } catch (err) {
        this.options.logger.error('state listener threw', err)
      }
    }
  }
}

/** pathOfFailure is the node a failed request concerns: its path, or a multi's failing op's path. */
function pathOfFailure(request: Request, results: MultiResult[] | undefined): string | undefined {
  if (request.op === 'multi') {
    const failed =
      results?.findIndex((r) => r.err !== 0 && r.err !== ErrorCode.RUNTIME_INCONSISTENCY) ?? -1
    return failed < 0 ? undefined : request.ops[failed]?.path
  }
  return 'path' in request ? request.path : undefined
}
