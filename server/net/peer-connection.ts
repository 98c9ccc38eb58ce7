/**
 * PeerConnection: one WebSocket between two ensemble members, from the first byte to
 * the close. It runs the handshake (peer-handshake.ts) for its role, and once the peer
 * is authenticated it carries frames: a bounded send queue flushed in batches, decoding
 * of received frames, and a keep-alive that closes a link whose peer went silent.
 *
 * Guarantee to the layer above: on one connection, the messages delivered are a
 * gap-free prefix of the messages sent, in order. Loss happens only at a close: when a
 * peer stops reading and the queue passes its bound, the connection is closed (not
 * trimmed), so ZAB never sees a hole in the middle of a stream.
 */
import type { Logger } from 'pino'
import type { RawData, WebSocket } from 'ws'
import type { LogLimiter } from './log-limiter.js'
import { PeerCloseCode, peerCloseCodeName } from './peer-errors.js'
import { decodeFrame, takeFrame } from './peer-frames.js'
import {
  PEER_PROTOCOL_VERSION,
  checkChallenge,
  checkHello,
  computeProof,
  createNonce,
  decodeHandshakeMessage,
  encodeHandshakeMessage,
  transcriptFor,
  verifyProof,
  type HandshakeMessage,
  type HandshakeRole,
  type LocalIdentity,
  type Refusal,
} from './peer-handshake.js'
import type { ServerId } from './peer-members.js'

/** LinkCounters are cumulative traffic counts for one peer, shared by its successive connections. */
export interface LinkCounters {
  messagesSent: number
  framesSent: number
  messagesReceived: number
  framesReceived: number
  /** messagesDropped counts messages sent while the link was down, or queued when it closed. */
  messagesDropped: number
}

/** ConnectionPhase is where a connection is: handshaking, carrying messages, or closed. */
export type ConnectionPhase = 'handshaking' | 'up' | 'closed'

/** ClosedInfo says how a connection ended. */
export interface ClosedInfo {
  code: number
  reason: string
  /** wasUp tells whether the connection had been authenticated. */
  wasUp: boolean
}

/** PeerConnectionEvents are what a connection reports to PeerLinks. */
export interface PeerConnectionEvents {
  onUp(connection: PeerConnection): void
  /** onHelloAccepted (acceptor) hears that the hello passed checkHello and the challenge went out. */
  onHelloAccepted?(connection: PeerConnection): void
  onMessage(connection: PeerConnection, message: unknown): void
  onClosed(connection: PeerConnection, info: ClosedInfo): void
}

/** PeerConnectionOptions configure one connection; times in ms, sizes in bytes. */
export interface PeerConnectionOptions {
  role: HandshakeRole
  ws: WebSocket
  local: LocalIdentity
  secret: Uint8Array
  /** dialedId is the member a dialer meant to reach (dialer only). */
  dialedId?: ServerId
  remoteAddress: string
  /**
   * handshakeTimeoutMs bounds the handshake from the connection's creation. Omitted for
   * an accepted connection: PeerLinks counts that deadline from the TCP accept instead
   * and calls expireHandshake.
   */
  handshakeTimeoutMs?: number
  /** refusalLog, when given, writes the handshake refusal lines (rate-limited: strangers trigger them). */
  refusalLog?: LogLimiter
  keepAliveMs: number
  frameBytesMax: number
  sendQueueBytesMax: number
  counters: LinkCounters
  logger: Logger
}

/** TERMINATE_AFTER_CLOSE_MS bounds the polite closing handshake before the socket is cut. */
const TERMINATE_AFTER_CLOSE_MS = 1000

/** PeerConnection is one peer WebSocket; PeerLinks creates one per dial and per accepted socket. */
export class PeerConnection {
  /** peerId is the other member's id: known from the start for a dialer, after the hello for an acceptor. */
  peerId: ServerId | undefined
  private phase: ConnectionPhase = 'handshaking'
  private expecting: HandshakeMessage['type'] | 'nothing'
  private ownNonce: Uint8Array | undefined
  private peerNonce: Uint8Array | undefined
  private readonly queue: Uint8Array[] = []
  private queueBytes = 0
  private flushScheduled = false
  private heardSinceCheck = true
  private handshakeTimer: NodeJS.Timeout | undefined
  private keepAliveTimer: NodeJS.Timeout | undefined
  private terminateTimer: NodeJS.Timeout | undefined
  private lastSocketError: string | undefined
  private counters: LinkCounters

  constructor(
    private readonly options: PeerConnectionOptions,
    private readonly events: PeerConnectionEvents,
  ) {
    const { ws, role } = options
    this.peerId = options.dialedId
    this.counters = options.counters
    this.expecting = role === 'dialer' ? 'challenge' : 'hello'
    const { handshakeTimeoutMs } = options
    if (handshakeTimeoutMs !== undefined)
      this.handshakeTimer = setTimeout(
        () => this.expireHandshake(handshakeTimeoutMs),
        handshakeTimeoutMs,
      )
    ws.on('message', (data: RawData, isBinary: boolean) => this.onFrame(data, isBinary))
    ws.on('pong', () => (this.heardSinceCheck = true))
    ws.on('ping', () => (this.heardSinceCheck = true))
    ws.on('error', (err) => this.onSocketError(err))
    ws.on('close', (code: number, reason: Buffer) => this.onSocketClose(code, reason.toString()))
    if (role === 'dialer') ws.on('open', () => this.sendHello())
  }

  /** state is the connection's phase. */
  get state(): ConnectionPhase {
    return this.phase
  }

  /** queuedMessages is the number of messages waiting to be framed. */
  get queuedMessages(): number {
    return this.queue.length
  }

  /** queuedBytes is the encoded size of the messages waiting to be framed. */
  get queuedBytes(): number {
    return this.queueBytes
  }

  /** pendingBytes is the queue plus what the socket has buffered but not yet written. */
  get pendingBytes(): number {
    return this.phase === 'closed' ? 0 : this.queueBytes + this.options.ws.bufferedAmount
  }

  /**
   * useCounters makes this connection count into `counters` from now on: an accepted
   * connection learns its peer only from the hello, and then adds to that peer's totals.
   */
  useCounters(counters: LinkCounters): void {
    this.counters = counters
  }

  /** remoteAddress is the socket's remote address, for log lines. */
  get remoteAddress(): string {
    return this.options.remoteAddress
  }

  /**
   * enqueue adds encoded messages (each small enough for a frame on its own) to the
   * send queue and schedules a flush. It returns false, dropping them, unless the link
   * is up; it closes the link with SEND_QUEUE_OVERFLOW when the queue passes its bound.
   */
  enqueue(encoded: readonly Uint8Array[]): boolean {
    if (this.phase !== 'up') return false
    for (const m of encoded) {
      this.queue.push(m)
      this.queueBytes += m.length
    }
    // A burst larger than the bound in one turn is not a stalled peer: hand the socket
    // what it will take now, and call it overflow only if the queue is still too long.
    if (this.queueBytes > this.options.sendQueueBytesMax) this.writeQueued()
    if (this.queueBytes > this.options.sendQueueBytesMax) {
      this.fail({
        code: PeerCloseCode.SEND_QUEUE_OVERFLOW,
        reason: 'peer is not reading',
        detail: `send queue reached ${this.queueBytes} bytes (bound ${this.options.sendQueueBytesMax}): the peer stopped reading; closing to re-sync`,
      })
      return false
    }
    this.scheduleFlush()
    return true
  }

  /** close ends the connection with `code` and `reason`; the queue is dropped. Idempotent. */
  close(code: number, reason: string): void {
    if (this.phase === 'closed') return
    this.finish({ code, reason, wasUp: this.phase === 'up' })
    const { ws } = this.options
    if (ws.readyState === ws.OPEN) {
      ws.close(code, reason)
      this.terminateTimer = setTimeout(() => ws.terminate(), TERMINATE_AFTER_CLOSE_MS)
    } else {
      ws.terminate()
    }
  }

  // ---------------------------------------------------------------- handshake

  private sendHello(): void {
    if (this.phase !== 'handshaking') return
    const { local, dialedId } = this.options
    this.ownNonce = createNonce()
    this.sendHandshake({
      type: 'hello',
      version: PEER_PROTOCOL_VERSION,
      fromId: local.selfId,
      toId: dialedId as ServerId,
      ensembleId: local.ensembleId,
      fingerprint: local.fingerprint,
      members: [...local.members],
      nonce: this.ownNonce,
    })
  }

  private onHandshakeMessage(message: HandshakeMessage): void {
    if (message.type !== this.expecting) {
      this.fail({
        code: PeerCloseCode.PROTOCOL_ERROR,
        reason: 'unexpected handshake message',
        detail: `expected '${this.expecting}' but got '${message.type}'`,
      })
      return
    }
    const { local, secret } = this.options
    switch (message.type) {
      case 'hello': {
        this.peerId = message.fromId
        const refusal = checkHello(message, local)
        if (refusal !== null) return this.fail(refusal)
        this.peerNonce = message.nonce
        this.events.onHelloAccepted?.(this)
        this.ownNonce = createNonce()
        const transcript = transcriptFor(
          local,
          message.fromId,
          local.selfId,
          message.nonce,
          this.ownNonce,
        )
        this.expecting = 'proof'
        this.sendHandshake({
          type: 'challenge',
          version: PEER_PROTOCOL_VERSION,
          fromId: local.selfId,
          toId: message.fromId,
          fingerprint: local.fingerprint,
          nonce: this.ownNonce,
          proof: computeProof(secret, 'acceptor', transcript),
        })
        return
      }
      case 'challenge': {
        const dialedId = this.options.dialedId as ServerId
        const refusal = checkChallenge(
          message,
          local,
          dialedId,
          secret,
          this.ownNonce as Uint8Array,
        )
        if (refusal !== null) return this.fail(refusal)
        const transcript = transcriptFor(
          local,
          local.selfId,
          dialedId,
          this.ownNonce as Uint8Array,
          message.nonce,
        )
        this.expecting = 'ready'
        this.sendHandshake({ type: 'proof', proof: computeProof(secret, 'dialer', transcript) })
        return
      }
      case 'proof': {
        const peerId = this.peerId as ServerId
        const transcript = transcriptFor(
          local,
          peerId,
          local.selfId,
          this.peerNonce as Uint8Array,
          this.ownNonce as Uint8Array,
        )
        if (!verifyProof(secret, 'dialer', transcript, message.proof)) {
          return this.fail({
            code: PeerCloseCode.AUTH_FAILED,
            reason: 'authentication failed',
            detail: `member ${peerId} failed to prove the shared secret (wrong secret?)`,
          })
        }
        this.sendHandshake({ type: 'ready' })
        return this.becomeUp()
      }
      case 'ready':
        return this.becomeUp()
    }
  }

  private sendHandshake(message: HandshakeMessage): void {
    const { ws } = this.options
    if (ws.readyState === ws.OPEN) ws.send(encodeHandshakeMessage(message))
  }

  private becomeUp(): void {
    clearTimeout(this.handshakeTimer)
    this.handshakeTimer = undefined
    this.phase = 'up'
    this.expecting = 'nothing'
    const { keepAliveMs } = this.options
    if (keepAliveMs > 0) this.keepAliveTimer = setInterval(() => this.checkAlive(), keepAliveMs)
    this.events.onUp(this)
  }

  /** expireHandshake closes a connection still handshaking with HANDSHAKE_TIMEOUT, saying it had `timeoutMs`. */
  expireHandshake(timeoutMs: number): void {
    clearTimeout(this.handshakeTimer)
    this.handshakeTimer = undefined
    if (this.phase !== 'handshaking') return
    const waitingFor =
      this.options.ws.readyState === this.options.ws.CONNECTING
        ? 'the connection to open'
        : `'${this.expecting}'`
    this.fail({
      code: PeerCloseCode.HANDSHAKE_TIMEOUT,
      reason: 'handshake timed out',
      detail: `no complete handshake within ${timeoutMs} ms (waiting for ${waitingFor})`,
    })
  }

  // ---------------------------------------------------------------- frames

  private onFrame(data: RawData, isBinary: boolean): void {
    if (this.phase === 'closed') return
    this.heardSinceCheck = true
    if (!isBinary) {
      this.fail({
        code: PeerCloseCode.PROTOCOL_ERROR,
        reason: 'binary frames only',
        detail: 'peer sent a text frame',
      })
      return
    }
    const frame = toBytes(data)
    if (this.phase === 'handshaking') {
      const decoded = decodeHandshakeMessage(frame)
      if (!decoded.ok) this.fail(decoded.refusal)
      else this.onHandshakeMessage(decoded.message)
      return
    }
    const decoded = decodeFrame(frame)
    if (!decoded.ok) {
      this.fail({
        code: PeerCloseCode.PROTOCOL_ERROR,
        reason: 'undecodable frame',
        detail: `undecodable frame of ${frame.length} bytes: ${decoded.reason}`,
      })
      return
    }
    const { counters } = this
    counters.framesReceived++
    for (const message of decoded.messages) {
      // A handler may close this link (or everything) mid-frame: deliver nothing after that.
      if (this.phase !== 'up') return
      counters.messagesReceived++
      this.events.onMessage(this, message)
    }
  }

  /**
   * flushNow puts the queued messages on the wire now rather than at the end of this
   * event-loop turn (same bounds as the turn's flush: it writes only while the socket's
   * buffer is below a frame's worth).
   */
  flushNow(): void {
    // A flush already scheduled for the end of the turn stays scheduled (and finds less
    // to do): clearing its flag here would only schedule a second one.
    if (this.queue.length > 0) this.writeQueued()
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    // setImmediate, not a microtask: everything sent while this event-loop turn handles
    // its I/O (say, ACKs from several followers) goes out together in one frame.
    setImmediate(() => this.flush())
  }

  /**
   * flush frames the queue while the socket's write buffer is below a frame's worth.
   * Above it, messages wait in the queue and go out in one larger frame when a write
   * completes: that is how batching grows with load.
   */
  private flush(): void {
    this.flushScheduled = false
    this.writeQueued()
  }

  /** writeQueued frames and writes the queue while the socket's buffer is below a frame's worth. */
  private writeQueued(): void {
    const { ws, frameBytesMax } = this.options
    const { counters } = this
    while (this.phase === 'up' && this.queue.length > 0 && ws.bufferedAmount < frameBytesMax) {
      const { frame, count, payloadBytes } = takeFrame(this.queue, frameBytesMax)
      this.queueBytes -= payloadBytes
      counters.framesSent++
      counters.messagesSent += count
      ws.send(frame, { binary: true }, () => {
        if (this.queue.length > 0) this.scheduleFlush()
      })
    }
  }

  private checkAlive(): void {
    if (this.phase !== 'up') return
    if (!this.heardSinceCheck) {
      const { keepAliveMs } = this.options
      this.fail({
        code: PeerCloseCode.PEER_SILENT,
        reason: 'peer silent',
        detail: `nothing heard from the peer for over ${keepAliveMs} ms`,
      })
      return
    }
    this.heardSinceCheck = false
    this.options.ws.ping()
  }

  // ---------------------------------------------------------------- closing

  /** fail logs why this connection is refused or dropped, then closes it with the refusal's code. */
  private fail(refusal: Refusal): void {
    if (this.phase === 'closed') return
    const during = this.phase === 'handshaking' ? 'peer link refused' : 'peer link closed'
    const warn =
      this.phase === 'handshaking'
        ? this.warnHandshake.bind(this)
        : this.options.logger.warn.bind(this.options.logger)
    warn(
      {
        peer: this.peerId,
        role: this.options.role,
        remote: this.options.remoteAddress,
        code: refusal.code,
        codeName: peerCloseCodeName(refusal.code),
        reason: refusal.reason,
        detail: refusal.detail,
      },
      during,
    )
    this.close(refusal.code, refusal.reason)
  }

  /** warnHandshake writes a line about a handshake, through the rate limit when one is set. */
  private warnHandshake(fields: Record<string, unknown>, msg: string): void {
    const { refusalLog, logger } = this.options
    if (refusalLog !== undefined) refusalLog.warn(fields, msg)
    else logger.warn(fields, msg)
  }

  private onSocketError(err: Error): void {
    // A refused dial or a reset; the close event follows and reports it.
    this.options.logger.debug(
      { peer: this.peerId, remote: this.options.remoteAddress, err: err.message },
      'peer socket error',
    )
    this.lastSocketError = err.message
  }

  private onSocketClose(code: number, reason: string): void {
    clearTimeout(this.terminateTimer)
    if (this.phase === 'closed') return
    if (this.phase === 'handshaking' && code >= 4000 && code < 5000) {
      const { role, remoteAddress } = this.options
      // An accepted connection is unauthenticated: its close reason is a stranger's bytes, not logged.
      const fields = {
        peer: this.peerId,
        role,
        remote: remoteAddress,
        code,
        codeName: peerCloseCodeName(code),
        ...(role === 'dialer' ? { reason } : {}),
      }
      const detail =
        code === PeerCloseCode.AUTH_FAILED
          ? { detail: 'the peer could not verify our proof: the shared secrets differ' }
          : {}
      this.warnHandshake({ ...fields, ...detail }, 'peer link refused by peer')
    }
    const why = reason !== '' ? reason : (this.lastSocketError ?? 'connection closed')
    this.finish({ code, reason: why, wasUp: this.phase === 'up' })
  }

  private finish(info: ClosedInfo): void {
    this.phase = 'closed'
    this.expecting = 'nothing'
    clearTimeout(this.handshakeTimer)
    clearInterval(this.keepAliveTimer)
    this.counters.messagesDropped += this.queue.length
    this.queue.length = 0
    this.queueBytes = 0
    this.events.onClosed(this, info)
  }
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data)
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return data
}
