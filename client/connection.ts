/**
 * Connection: one WebSocket to one server, from the handshake to its end. It decodes
 * frames (a frame that does not decode ends the connection), keeps the link alive with
 * pings, and declares it dead when the server stops answering (the rules are in
 * liveness.ts). The session logic above it decides what a connection means; this module
 * only knows sockets and frames.
 * Also the helpers for walking the server list: shuffling and backoff with jitter.
 */
import {
  decodeServerMessage,
  encodeClientMessage,
  type ClientMessage,
  type ConnectedMessage,
  type ConnectMessage,
  type EventMessage,
  type PongMessage,
  type ReplyMessage,
} from '../protocol/index.js'
import type { Clock, TimerHandle } from './clock.js'
import { Liveness, livenessSettings, type LivenessOptions } from './liveness.js'
import {
  OPEN,
  frameBytes,
  holdWritesThisTick,
  openSocket,
  type SocketLike,
  type TlsOptions,
} from './transport.js'

/** Logger is the minimal logger the SDK writes to (silent by default). */
export interface Logger {
  debug(...args: unknown[]): void
  info(...args: unknown[]): void
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
}

/** SessionMessage is what a server sends once the handshake is done. */
export type SessionMessage = ReplyMessage | EventMessage | PongMessage

/** ConnectionEnd says how a connection ended. */
export interface ConnectionEnd {
  /** wasConnected tells whether the handshake had been accepted. */
  wasConnected: boolean
  /** answeredAfterMs is the time from opening the socket to the server's first frame (acceptance or refusal); undefined if none came. */
  answeredAfterMs: number | undefined
  /** code is the WebSocket close code (ours when `local`). */
  code: number
  reason: string
  /** local is true when this side closed it (timeout, malformed frame, silence, close()). */
  local: boolean
}

/** ConnectionEvents are called synchronously, in frame order, never after `closed`. */
export interface ConnectionEvents {
  connected(message: ConnectedMessage): void
  refused(code: number, reason: string): void
  message(message: SessionMessage): void
  /** closed is called exactly once, when the connection ends for any reason. */
  closed(end: ConnectionEnd): void
}

/** ConnectionOptions configure one connection. */
export interface ConnectionOptions {
  url: string
  /** handshakeTimeoutMs bounds the time from opening the socket to `connected`. */
  handshakeTimeoutMs: number
  logger: Logger
  /** clock times the handshake and the liveness checks. */
  clock: Clock
  /** liveness overrides the ping rules' defaults (which follow the negotiated session timeout). */
  liveness?: LivenessOptions
  /** tls carries the CA (and client certificate) for wss:// servers. */
  tls?: TlsOptions
}

/** LocalClose lists the close codes this side uses (4000-4999 is the application range). */
export const LocalClose = {
  NORMAL: 1000,
  PROTOCOL_ERROR: 4000,
  TIMEOUT: 4005,
} as const

/**
 * LATE_CHECK_MS: a liveness check that runs this much after its due time found the
 * client's own event loop busy (user code, a GC pause). A frame from the server may then
 * be waiting unread, so before giving the server up the check lets pending I/O in once.
 */
const LATE_CHECK_MS = 50

/** Connection runs one socket. Create it, call `run(connect)`, then `send` and `close`. */
export class Connection {
  private socket: SocketLike | undefined
  private ended = false
  private handshakeDone = false
  private openedAtMs = 0
  /** answeredAfterMs is set by the first frame from the server. */
  private answeredAfterMs: number | undefined
  private handshakeTimer: TimerHandle | undefined
  /** liveness applies the ping rules once the handshake is accepted. */
  private liveness: Liveness | undefined
  private livenessTimer: TimerHandle | undefined
  /** livenessDueMs is when the armed liveness check is due. */
  private livenessDueMs = 0
  /** deathDeferred is set while a late check's 'dead' verdict waits for pending I/O (once). */
  private deathDeferred = false
  private resolveRun: ((connected: boolean) => void) | undefined

  constructor(
    private readonly options: ConnectionOptions,
    private readonly events: ConnectionEvents,
  ) {}

  /** url is the server this connection goes to. */
  get url(): string {
    return this.options.url
  }

  /** run opens the socket and sends `connect`; resolves when the connection ends, true if it was accepted. */
  run(connect: ConnectMessage): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      this.resolveRun = resolve
      this.openedAtMs = this.options.clock.nowMs()
      this.handshakeTimer = this.options.clock.setTimeout(
        () => this.close(LocalClose.TIMEOUT, 'handshake timed out'),
        this.options.handshakeTimeoutMs,
      )
      openSocket(this.options.url, this.options.tls).then(
        (socket) => this.attach(socket, connect),
        (err: unknown) => {
          this.options.logger.debug('cannot open socket', this.options.url, err)
          this.end({
            wasConnected: false,
            code: LocalClose.PROTOCOL_ERROR,
            reason: 'cannot open socket',
            local: true,
          })
        },
      )
    })
  }

  /** send writes a message; false if the socket is not open (the caller treats the call as lost with the connection). */
  send(message: ClientMessage): boolean {
    const socket = this.socket
    if (this.ended || socket === undefined || socket.readyState !== OPEN) return false
    holdWritesThisTick(socket)
    socket.send(encodeClientMessage(message))
    if (this.liveness !== undefined) {
      this.liveness.onSent(this.options.clock.nowMs(), message.type === 'request')
      this.rearmIfSooner()
    }
    return true
  }

  /** close ends the connection now; `closed` is called at once, whatever the socket does later. */
  close(code: number = LocalClose.NORMAL, reason = 'closed by client'): void {
    if (this.ended) return
    try {
      this.socket?.close(code, reason)
    } catch (err) {
      this.options.logger.debug('socket close failed', err)
    }
    this.end({ wasConnected: this.handshakeDone, code, reason, local: true })
  }

  private attach(socket: SocketLike, connect: ConnectMessage): void {
    // Always handle 'error': with the ws package an unhandled error event would throw.
    socket.onerror = (event) => this.options.logger.debug('socket error', this.options.url, event)
    if (this.ended) {
      // close() ran while the socket was being created.
      socket.onopen = () => socket.close(LocalClose.NORMAL, 'closed by client')
      return
    }
    this.socket = socket
    socket.onopen = () => {
      this.send(connect)
    }
    socket.onmessage = (event) => this.onFrame(event.data)
    socket.onclose = (event) =>
      this.end({
        wasConnected: this.handshakeDone,
        code: event.code,
        reason: event.reason,
        local: false,
      })
  }

  private onFrame(data: unknown): void {
    if (this.ended) return
    const bytes = frameBytes(data)
    const decoded = bytes === null ? null : decodeServerMessage(bytes)
    if (decoded === null || !decoded.ok) {
      const why = decoded === null ? 'a text frame' : decoded.error.message
      this.options.logger.warn(
        'malformed frame from server; dropping the connection',
        this.options.url,
        why,
      )
      this.close(LocalClose.PROTOCOL_ERROR, 'malformed frame')
      return
    }
    const message = decoded.message
    this.answeredAfterMs ??= this.options.clock.nowMs() - this.openedAtMs
    if (this.liveness !== undefined) {
      this.liveness.onReceived(this.options.clock.nowMs(), message.type === 'reply')
      this.rearmIfSooner()
    }
    if (this.handshakeDone) {
      if (message.type === 'reply' || message.type === 'event' || message.type === 'pong')
        this.events.message(message)
      else this.close(LocalClose.PROTOCOL_ERROR, `unexpected ${message.type}`)
      return
    }
    if (message.type === 'connected') {
      this.handshakeDone = true
      this.options.clock.clearTimeout(this.handshakeTimer)
      this.startLiveness(message.timeoutMs)
      this.events.connected(message)
    } else if (message.type === 'connectRefused') {
      this.events.refused(message.code, message.message)
      this.close(LocalClose.NORMAL, 'refused')
    } else {
      this.close(LocalClose.PROTOCOL_ERROR, `expected connected, got ${message.type}`)
    }
  }

  /** startLiveness applies the ping rules (liveness.ts) for the negotiated session timeout. */
  private startLiveness(timeoutMs: number): void {
    const nowMs = this.options.clock.nowMs()
    const liveness = new Liveness(livenessSettings(timeoutMs, this.options.liveness), nowMs)
    this.liveness = liveness
    // Nothing is due before the keepalive unless a request goes out (send() re-arms then).
    this.armLiveness(nowMs + liveness.settings.keepaliveMs)
  }

  /** armLiveness (re)sets the one liveness timer to run at `atMs`. */
  private armLiveness(atMs: number): void {
    const clock = this.options.clock
    clock.clearTimeout(this.livenessTimer)
    this.livenessDueMs = atMs
    // A Clock only has one-shot timers: each check arms the next one, at the next time a rule can fire.
    this.livenessTimer = clock.setTimeout(
      () => this.checkLiveness(),
      Math.max(1, atMs - clock.nowMs()),
    )
  }

  /**
   * rearmIfSooner moves the liveness check earlier when traffic made a rule due sooner (a
   * request that starts a wait, a pong that ends one ping's deadline while a call still
   * waits). Traffic that only pushes rules later leaves the timer alone: the check then
   * finds nothing due and arms itself for the later time, so a busy connection does not
   * reset a timer per frame.
   */
  private rearmIfSooner(): void {
    const dueMs = this.liveness?.dueMs()
    if (dueMs !== undefined && dueMs < this.livenessDueMs) this.armLiveness(dueMs)
  }

  private checkLiveness(): void {
    const liveness = this.liveness
    if (this.ended || liveness === undefined) return
    const nowMs = this.options.clock.nowMs()
    const late = nowMs - this.livenessDueMs > LATE_CHECK_MS
    const verdict = liveness.check(nowMs)
    if (verdict.action === 'dead') {
      if (late && !this.deathDeferred) {
        this.deathDeferred = true
        this.armLiveness(nowMs + 1)
        return
      }
      // Closed before logging: a throwing logger must not leave a dead connection open.
      this.close(LocalClose.TIMEOUT, `server not answering: ${verdict.reason}`)
      this.options.logger.info(
        'server not answering; dropping the connection',
        this.options.url,
        verdict.reason,
      )
      return
    }
    this.deathDeferred = false
    // Armed before sending, so that a throw below (a logger, an encoder) cannot end the checks for good.
    this.armLiveness(verdict.nextCheckAtMs)
    if (verdict.action === 'ping') this.send({ type: 'ping' })
  }

  private end(ending: Omit<ConnectionEnd, 'answeredAfterMs'>): void {
    if (this.ended) return
    const end: ConnectionEnd = { ...ending, answeredAfterMs: this.answeredAfterMs }
    this.ended = true
    this.options.clock.clearTimeout(this.handshakeTimer)
    this.options.clock.clearTimeout(this.livenessTimer)
    const socket = this.socket
    if (socket !== undefined) {
      socket.onmessage = null
      socket.onclose = null
    }
    this.events.closed(end)
    this.resolveRun?.(end.wasConnected)
  }
}

/** shuffled returns the items in random order (Fisher-Yates). */
export function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/** BACKOFF_BASE_MS is the delay after the first failed round of servers. */
const BACKOFF_BASE_MS = 25

/**
 * backoffDelayMs is the pause after `failedRounds` rounds in a row in which no server
 * accepted: exponential, capped, with "equal jitter" (half fixed, half random) so many
 * clients cut off together do not come back in lockstep.
 */
export function backoffDelayMs(
  failedRounds: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const ceilingMs = Math.min(
    capMs,
    BACKOFF_BASE_MS * 2 ** Math.min(Math.max(failedRounds - 1, 0), 20),
  )
  return ceilingMs / 2 + (random() * ceilingMs) / 2
}
