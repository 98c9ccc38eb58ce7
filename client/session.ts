/**
 * SessionEngine: the connection loop behind a Client. It keeps one session alive over
 * a list of servers: connect (or resume) with backoff, ping, detect dead connections,
 * re-register watches after a reconnect, send requests in order and match replies
 * FIFO, and report connection states the way Curator and kazoo do.
 */
import {
  ErrorCode,
  PROTOCOL_VERSION,
  decodeServerMessage,
  encodeClientMessage,
  errorCodeName,
  type ClientMessage,
  type EventMessage,
  type Request,
  type ServerMessage,
  type SessionId,
} from '../protocol/index.js'
import { ClientClosedError, ConnectionLossError, SessionExpiredError, errorFromCode, type ConclaveError } from './errors.js'
import { OPEN, frameBytes, openSocket, type SocketLike } from './transport.js'
import type { ClientWatchRegistry } from './watch-registry.js'

/** ConnectionState is where the client stands with its session. */
export type ConnectionState = 'connecting' | 'connected' | 'suspended' | 'lost' | 'closed'

/** Logger is the minimal logger the SDK writes to (silent by default). */
export interface Logger {
  debug(...args: unknown[]): void
  info(...args: unknown[]): void
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
}

/** EngineOptions configure the connection loop. */
export interface EngineOptions {
  servers: string[]
  sessionTimeoutMs: number
  connectAttemptMs: number
  backoffCapMs: number
  logger: Logger
}

/** PendingCall is one request from the moment it is issued until it is answered or given up. */
export interface PendingCall {
  xid: number
  request: Request
  resolve(result: unknown, zxid: bigint): void
  reject(error: ConclaveError): void
  /** sent is set once the request went out on a connection. */
  sent: boolean
  /** abandoned calls were given up (timeout/abort) after being sent; their reply is ignored. */
  abandoned: boolean
}

const WRITE_OPS = new Set(['create', 'delete', 'set', 'multi', 'closeSession'])

/** SessionEngine runs the connection loop and the request pipeline. */
export class SessionEngine {
  state: ConnectionState = 'connecting'
  sessionId: SessionId = 0n
  password: Uint8Array = new Uint8Array(0)
  negotiatedTimeoutMs = 0
  serverId = 0
  lastZxid = 0n
  private socket: SocketLike | undefined
  private nextXid = 1
  /** Calls waiting for a connection, in issue order. */
  private readonly unsent: PendingCall[] = []
  /** Calls sent on the current connection, in send order: replies come back in this order. */
  private readonly inFlight: PendingCall[] = []
  private readonly stateListeners = new Set<(state: ConnectionState) => void>()
  private disconnectedAtMs = 0
  private lastSentMs = 0
  private lastReceivedMs = 0
  private loop: Promise<void> | undefined
  private wakeLoop: (() => void) | undefined

  constructor(
    private readonly options: EngineOptions,
    private readonly watches: ClientWatchRegistry,
  ) {}

  /** start begins the connection loop. */
  start(): void {
    this.loop ??= this.run()
  }

  /** onState subscribes to state changes; returns the unsubscribe function. */
  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener)
    return () => this.stateListeners.delete(listener)
  }

  /** issue queues a request; it is sent at once when connected, else after the next (re)connect. */
  issue(request: Request, resolve: PendingCall['resolve'], reject: PendingCall['reject']): PendingCall {
    const call = this.makeCall(request, resolve, reject)
    if (this.closed) {
      reject(new ClientClosedError('the client is closed'))
      return call
    }
    if (this.state === 'connected' && this.socket !== undefined) this.sendCall(call)
    else this.unsent.push(call)
    return call
  }

  private makeCall(request: Request, resolve: PendingCall['resolve'], reject: PendingCall['reject']): PendingCall {
    const call: PendingCall = { xid: this.nextXid++, request, resolve, reject, sent: false, abandoned: false }
    if (this.nextXid > 0x7fff_ffff) this.nextXid = 1
    return call
  }

  /** closed tells whether close() has begun. */
  get closed(): boolean {
    return this.state === 'closed'
  }

  /** abandon gives up on a call: an unsent one is dropped, a sent one's reply will be ignored. */
  abandon(call: PendingCall): void {
    const index = this.unsent.indexOf(call)
    if (index >= 0) this.unsent.splice(index, 1)
    else call.abandoned = true
  }

  /** isWrite tells whether a request may change state (for `definite`). */
  static isWrite(request: Request): boolean {
    return WRITE_OPS.has(request.op)
  }

  /** close ends the session politely (closeSession, bounded wait), then the connection. */
  async close(): Promise<void> {
    if (this.closed) return
    if (this.state === 'connected' && this.socket !== undefined) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000)
        this.issue({ op: 'closeSession' }, () => (clearTimeout(timer), resolve()), () => (clearTimeout(timer), resolve()))
      })
    }
    this.setState('closed')
    this.socket?.close(1000, 'client closed')
    this.socket = undefined
    const closed = new ClientClosedError('the client is closed')
    for (const call of this.unsent.splice(0)) call.reject(closed)
    for (const call of this.inFlight.splice(0)) if (!call.abandoned) call.reject(closed)
    this.watches.dropAll(null)
    this.wakeLoop?.()
    await this.loop
  }

  // ---------------------------------------------------------------- the loop

  private async run(): Promise<void> {
    let failedRounds = 0
    while (!this.closed) {
      let connectedThisRound = false
      for (const server of shuffle(this.options.servers)) {
        if (this.closed) return
        this.expireIfCutOffTooLong()
        if (await this.session(server)) connectedThisRound = true
      }
      failedRounds = connectedThisRound ? 0 : failedRounds + 1
      if (this.closed) return
      const capMs = this.options.backoffCapMs
      const delayMs = Math.min(capMs, 25 * 2 ** Math.min(failedRounds, 10)) * (0.5 + Math.random() / 2)
      await new Promise<void>((resolve) => {
        this.wakeLoop = resolve
        setTimeout(resolve, delayMs)
      })
    }
  }

  /** expireIfCutOffTooLong declares the session lost when no server heard from us for its timeout. */
  private expireIfCutOffTooLong(): void {
    if (this.sessionId === 0n || this.state !== 'suspended') return
    if (Date.now() - this.disconnectedAtMs > this.negotiatedTimeoutMs) {
      this.loseSession(`no server reached within the session timeout (${this.negotiatedTimeoutMs} ms)`)
    }
  }

  /** session runs one connection to one server; resolves true if it got connected. */
  private async session(server: string): Promise<boolean> {
    let socket: SocketLike
    try {
      socket = await openSocket(server)
    } catch (err) {
      this.options.logger.debug('cannot open socket', server, err)
      return false
    }
    return new Promise<boolean>((resolve) => {
      let connected = false
      let pingTimer: ReturnType<typeof setInterval> | undefined
      const attemptTimer = setTimeout(() => socket.close(4000, 'connect timed out'), this.options.connectAttemptMs)
      const finish = () => {
        clearTimeout(attemptTimer)
        clearInterval(pingTimer)
        if (this.socket === socket) this.onDisconnected()
        resolve(connected)
      }
      socket.onopen = () => {
        const connect: ClientMessage = {
          type: 'connect',
          protocolVersion: PROTOCOL_VERSION,
          sessionId: this.sessionId,
          password: this.password,
          lastZxidSeen: this.lastZxid,
          timeoutMs: this.options.sessionTimeoutMs,
          readOnly: false,
        }
        socket.send(encodeClientMessage(connect))
      }
      socket.onmessage = (event) => {
        const bytes = frameBytes(event.data)
        const decoded = bytes === null ? null : decodeServerMessage(bytes)
        if (decoded === null || !decoded.ok) {
          this.options.logger.warn('malformed frame from server; reconnecting', server)
          socket.close(4000, 'malformed frame')
          return
        }
        this.lastReceivedMs = Date.now()
        const message = decoded.message
        if (!connected) {
          if (message.type === 'connected') {
            connected = true
            clearTimeout(attemptTimer)
            this.onConnected(socket, message, server)
            pingTimer = setInterval(() => this.keepAlive(socket), Math.max(50, Math.floor(this.negotiatedTimeoutMs / 6)))
          } else if (message.type === 'connectRefused') {
            this.onRefused(message.code, message.message, server)
            socket.close(1000, 'refused')
          } else socket.close(4002, 'expected connected')
          return
        }
        this.onMessage(socket, message)
      }
      socket.onerror = () => {}
      socket.onclose = () => finish()
    })
  }

  private onConnected(socket: SocketLike, message: Extract<ServerMessage, { type: 'connected' }>, server: string): void {
    const resumed = this.sessionId !== 0n && message.sessionId === this.sessionId
    this.socket = socket
    this.sessionId = message.sessionId
    this.password = message.password
    this.negotiatedTimeoutMs = message.timeoutMs
    this.serverId = message.serverId
    // NB: not `lastZxid = message.zxid`: the server's zxid on a new connection includes
    // changes whose events this client never received; re-registering watches relative
    // to it would silently skip them.
    this.lastSentMs = Date.now()
    this.options.logger.debug(resumed ? 'session resumed' : 'session opened', server, message.sessionId.toString(16))
    // Watches first, so the server fires what changed while we were away before any new reply.
    const setWatches = resumed ? this.watches.setWatchesRequest(this.lastZxid) : null
    if (setWatches !== null) {
      const onError = (err: ConclaveError) => this.options.logger.warn('re-registering watches failed', err)
      this.sendCall(this.makeCall(setWatches, () => {}, onError), socket)
    }
    this.setState('connected')
    for (const call of this.unsent.splice(0)) this.sendCall(call, socket)
  }

  private onRefused(code: number, reason: string, server: string): void {
    this.options.logger.info('connect refused', server, errorCodeName(code) ?? code, reason)
    if (code === ErrorCode.SESSION_EXPIRED || code === ErrorCode.AUTH_FAILED) this.loseSession(reason)
  }

  /** loseSession forgets the session: the next connect opens a new one. */
  private loseSession(reason: string): void {
    this.sessionId = 0n
    this.password = new Uint8Array(0)
    const expired = new SessionExpiredError(`session lost: ${reason}`)
    for (const call of this.inFlight.splice(0)) if (!call.abandoned) call.reject(expired)
    this.watches.dropAll(expired)
    this.setState('lost')
  }

  private onDisconnected(): void {
    this.socket = undefined
    for (const call of this.inFlight.splice(0)) {
      if (call.abandoned) continue
      const write = SessionEngine.isWrite(call.request)
      call.reject(new ConnectionLossError(`connection lost with ${call.request.op} in flight`, { definite: !write }))
    }
    if (this.state === 'connected') {
      this.disconnectedAtMs = Date.now()
      this.setState('suspended')
    }
  }

  private onMessage(socket: SocketLike, message: ServerMessage): void {
    switch (message.type) {
      case 'reply': {
        if (message.zxid > this.lastZxid) this.lastZxid = message.zxid
        const call = this.inFlight.shift()
        if (call === undefined || call.xid !== message.xid) {
          this.options.logger.warn('reply out of order; reconnecting', message.xid, call?.xid)
          socket.close(4000, 'reply out of order')
          return
        }
        if (call.abandoned) return
        if (message.err === 0) call.resolve(message.result ?? {}, message.zxid)
        else {
          const results = (message.result as { results?: [] } | undefined)?.results
          call.reject(errorFromCode(message.err, message.message ?? `request failed (${message.err})`, results === undefined ? {} : { results }))
        }
        return
      }
      case 'event':
        if (message.zxid > this.lastZxid) this.lastZxid = message.zxid
        this.watches.deliver(message as EventMessage)
        return
      case 'pong':
        if (message.zxid > this.lastZxid) this.lastZxid = message.zxid
        return
      default:
        socket.close(4002, `unexpected ${message.type}`)
    }
  }

  /** keepAlive pings when idle and closes a connection that went silent (2/3 of the timeout). */
  private keepAlive(socket: SocketLike): void {
    const now = Date.now()
    if (now - this.lastReceivedMs > (this.negotiatedTimeoutMs * 2) / 3) {
      this.options.logger.info('server silent; reconnecting')
      socket.close(4000, 'server silent')
      return
    }
    if (now - this.lastSentMs >= this.negotiatedTimeoutMs / 3) this.write(socket, { type: 'ping' })
  }

  private sendCall(call: PendingCall, socket = this.socket): void {
    if (socket === undefined) return void this.unsent.push(call)
    call.sent = true
    this.inFlight.push(call)
    this.write(socket, { type: 'request', xid: call.xid, request: call.request })
  }

  private write(socket: SocketLike, message: ClientMessage): void {
    if (socket.readyState !== OPEN) return
    this.lastSentMs = Date.now()
    socket.send(encodeClientMessage(message))
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return
    this.state = state
    for (const listener of [...this.stateListeners]) listener(state)
  }
}

function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}
