/**
 * PeerLinks: the peer port. One authenticated WebSocket per pair of ensemble members
 * carries election, sync and broadcast messages; this module only carries them and
 * never looks inside beyond their encoded size.
 *
 * - One connection per pair: the larger id dials the smaller (ZooKeeper's
 *   QuorumCnxManager rule), so two correct members never dial each other at the same
 *   time. If a dialer re-dials while the acceptor still holds its old connection (the
 *   dialer saw the drop first), the newer authenticated connection replaces the older
 *   one: only the dialer creates connections and it keeps one at a time, so this cannot
 *   flap. Replacement happens only after authentication, so a stranger cannot kick a
 *   member off by dialing in its name.
 * - The dialer re-dials a peer that is down with exponential backoff and jitter
 *   (about 50 ms at first, capped at 1 s; peer-backoff.ts).
 * - Every connection proves the shared secret both ways before anything else
 *   (peer-handshake.ts); nothing from an unauthenticated connection reaches a handler.
 * - Until then an inbound connection holds a bounded slot and must authenticate within
 *   the handshake deadline counted from its TCP accept (peer-gate.ts, peer-admission.ts),
 *   so strangers on the peer port cannot keep members from re-linking.
 * - Sending is best effort and never blocks: messages to a peer whose link is down are
 *   dropped (ZAB tolerates loss; the core re-sends after `onLinkChange(peer, true)`).
 *   Each link delivers a gap-free, in-order prefix of what was sent on it: when a peer
 *   stops reading and the send queue passes its bound, the link is closed (and the
 *   dialer re-dials) rather than trimmed. See peer-connection.ts.
 * - Frames are msgpack arrays of messages; messages sent in one event-loop turn, or while
 *   the socket is busy, share a frame (peer-frames.ts).
 */
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { WebSocket, WebSocketServer } from 'ws'
import { LogLimiter } from './log-limiter.js'
import { backoffDelayMs } from './peer-backoff.js'
import { PeerConnection, type ClosedInfo, type LinkCounters } from './peer-connection.js'
import { PeerCloseCode, PeerLinksError, peerCloseCodeName } from './peer-errors.js'
import { ARRAY_HEADER_BYTES_MAX, encodePeerMessage } from './peer-frames.js'
import { ADMISSION_HEADER, AdmissionTokens, createAdmissionToken } from './peer-admission-token.js'
import { HandshakeGate, resolveMemberAddresses } from './peer-gate.js'
import type { LocalIdentity } from './peer-handshake.js'
import {
  ensembleFingerprint,
  formatMember,
  validateMembers,
  type PeerMember,
  type ServerId,
} from './peer-members.js'
import {
  resolvePeerLinksOptions,
  type DialAddress,
  type PeerLinksOptions,
  type PeerLinksSettings,
} from './peer-options.js'
import { SECRET_SHORT_BYTES } from './peer-secret.js'
import type { TlsMaterial, TlsPem } from './tls-material.js'

export type { PeerMember, ServerId } from './peer-members.js'
export type { DialAddress, PeerLinksOptions } from './peer-options.js'

/** DIAL_DEADLINES is how many handshake deadlines a dial may take, from its start to an authenticated link. */
const DIAL_DEADLINES = 2

/** PEER_PATH is the WebSocket path of the peer endpoint; other paths on the peer port get 404. */
export const PEER_PATH = '/conclave/peer'

/** LinkState is whether a link is authenticated and carrying messages. */
export type LinkState = 'up' | 'connecting' | 'down'

/** PeerLinkStatus describes the link to one peer, for /status and tests. */
export interface PeerLinkStatus extends LinkCounters {
  id: ServerId
  /** dials tells whether this member dials the peer (our id is the larger). */
  dials: boolean
  state: LinkState
  /** upSinceMs is the wall-clock time (ms since epoch) the current link came up. */
  upSinceMs?: number
  /** lastDownReason is why the last connection to this peer ended or failed. */
  lastDownReason?: string
  /** redialAttempt counts failed dials since the link was last up (dialer side). */
  redialAttempt: number
  queuedMessages: number
  queuedBytes: number
}

/** MessageHandler receives each message from an authenticated peer, in order. */
export type MessageHandler = (from: ServerId, message: unknown) => void

/** LinkChangeHandler hears when the link to a peer comes up or goes down. */
export type LinkChangeHandler = (peer: ServerId, up: boolean) => void

interface PeerSlot {
  member: PeerMember
  dials: boolean
  active?: PeerConnection
  /** dialing is the dialer's one connection in progress. */
  dialing?: PeerConnection
  dialTimer?: NodeJS.Timeout
  redialAttempt: number
  upSinceMs?: number
  lastDownReason?: string
  counters: LinkCounters
}

/** PeerLinks owns the peer port and the links to every other member. Create it with `PeerLinks.start`. */
export class PeerLinks {
  private readonly slots = new Map<ServerId, PeerSlot>()
  /** encodedMessages remembers the encoding of each message object sent, while it lives (messages are not changed once sent). */
  private readonly encodedMessages = new WeakMap<object, Uint8Array>()
  private readonly handshaking = new Set<PeerConnection>()
  /** refusalLog rate-limits the lines unauthenticated connections can cause. */
  private readonly refusalLog: LogLimiter
  private readonly tokens: AdmissionTokens
  private readonly sockets = new Set<WebSocket>()
  private readonly messageHandlers = new Set<MessageHandler>()
  private readonly linkHandlers = new Set<LinkChangeHandler>()
  private closed = false

  private constructor(
    private readonly local: LocalIdentity,
    private readonly secret: Uint8Array,
    private readonly settings: PeerLinksSettings,
    private readonly httpServer: http.Server,
    private readonly wsServer: WebSocketServer,
    private readonly logger: Logger,
    private readonly gate: HandshakeGate,
    private readonly tls: TlsMaterial | undefined,
  ) {
    this.refusalLog = gate.log
    this.tokens = new AdmissionTokens(secret, local)
    for (const member of local.members) {
      if (member.id === local.selfId) continue
      const counters = {
        messagesSent: 0,
        framesSent: 0,
        messagesReceived: 0,
        framesReceived: 0,
        messagesDropped: 0,
      }
      this.slots.set(member.id, {
        member,
        dials: local.selfId > member.id,
        redialAttempt: 0,
        counters,
      })
    }
  }

  /**
   * start validates the options, opens the peer port and starts dialing every member
   * with a smaller id. It resolves once the port accepts connections; links come up in
   * the background (watch `onLinkChange`). Throws PeerLinksError: INVALID_OPTIONS naming
   * the bad option, or LISTEN_FAILED.
   */
  static async start(options: PeerLinksOptions): Promise<PeerLinks> {
    const settings = resolvePeerLinksOptions(options)
    const members = validateMembers(options.members, options.selfId)
    const local: LocalIdentity = {
      selfId: options.selfId,
      members,
      ensembleId: options.ensembleId ?? '',
      fingerprint: ensembleFingerprint(members),
    }
    const logger = options.logger.child({ component: 'peer-links', self: options.selfId })
    if (options.secret.length < SECRET_SHORT_BYTES) {
      logger.warn(
        { secretBytes: options.secret.length },
        `the shared secret is shorter than ${SECRET_SHORT_BYTES} bytes; use a long random one`,
      )
    }
    const memberAddresses = await resolveMemberAddresses(
      memberHosts(members, options.selfId, settings.dialAddress),
      logger,
    )
    const gate = new HandshakeGate({
      limits: {
        perAddressMax: settings.handshakesPerAddressMax,
        memberPerAddressMax: settings.memberHandshakesPerAddressMax,
        strangersMax: settings.strangerHandshakesMax,
      },
      handshakeTimeoutMs: settings.handshakeTimeoutMs,
      memberAddresses,
      log: new LogLimiter(logger),
    })
    const tls = options.tls
    const httpServer: http.Server =
      tls === undefined
        ? http.createServer()
        : https.createServer({
            ...peerServerTlsOptions(tls.current),
            // A stranger's slow TLS handshake gets no more time than an HMAC handshake.
            handshakeTimeout: settings.handshakeTimeoutMs,
          })
    if (tls !== undefined) {
      const server = httpServer as https.Server
      tls.onChange((pem) => server.setSecureContext(peerServerTlsOptions(pem)))
      server.on('tlsClientError', (err, socket) =>
        gate.log.warn(
          { remote: socket.remoteAddress, err: err.message },
          'peer TLS handshake refused',
        ),
      )
    }
    const wsServer = new WebSocketServer({
      noServer: true,
      maxPayload: settings.frameBytesMax,
      perMessageDeflate: false,
    })
    const links = new PeerLinks(
      local,
      new Uint8Array(options.secret),
      settings,
      httpServer,
      wsServer,
      logger,
      gate,
      tls,
    )
    // Admission happens at the TCP accept, so that a connection that never sends its
    // upgrade request is held to the same deadline and bounds as one that does.
    // With TLS, the upgrade arrives on the TLS socket (after a verified handshake): admit that one.
    httpServer.on(tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) =>
      gate.onConnection(socket),
    )
    httpServer.on('request', (req, res) => {
      if (!gate.holdsSlot(req.socket)) return void req.socket.destroy()
      res
        .writeHead(426, { 'content-type': 'text/plain' })
        .end('conclave peer port: WebSocket peer links only\n')
    })
    httpServer.on('upgrade', (req, socket, head) => links.onUpgrade(req, socket, head))
    httpServer.on('clientError', (_err, socket) => socket.destroy())
    await listen(httpServer, options.host, options.peerPort)
    logger.info(
      {
        port: links.port,
        members: members.map(formatMember).join(' '),
        ensembleId: local.ensembleId,
      },
      'peer port listening',
    )
    for (const slot of links.slots.values()) if (slot.dials) links.dial(slot)
    return links
  }

  /** port is the TCP port the peer port is bound to (useful with peerPort 0). */
  get port(): number {
    return (this.httpServer.address() as AddressInfo).port
  }

  /** fingerprint is this member's ensemble fingerprint (SHA-256 of the sorted member list). */
  get fingerprint(): Uint8Array {
    return this.local.fingerprint
  }

  /**
   * send queues one message for peer `to` and returns true, or drops it and returns
   * false when the link is not up. Never blocks. Throws PeerLinksError UNKNOWN_PEER for
   * an id that is not another member, MESSAGE_TOO_LARGE when the message cannot fit a frame.
   */
  send(to: ServerId, message: unknown): boolean {
    return this.sendMany(to, [message])
  }

  /**
   * sendMany queues several messages for `to`, in order, to go out in one frame (or in
   * consecutive frames, if together they exceed frameBytesMax). Returns false and drops
   * them all when the link is not up. Throws as `send` does, before queueing any.
   */
  sendMany(to: ServerId, messages: readonly unknown[]): boolean {
    const slot = this.slotOf(to)
    if (messages.length === 0) return slot.active !== undefined
    if (this.closed || slot.active === undefined) {
      slot.counters.messagesDropped += messages.length
      return false
    }
    const encoded = messages.map((m) => this.encodeChecked(to, m))
    return slot.active.enqueue(encoded)
  }

  /**
   * flush puts every link's queued messages on the wire now instead of at the end of
   * this event-loop turn. The member calls it once a Ready's messages are all queued, so
   * a proposal or commit leaves before the fsync and the apply that follow it, while
   * messages queued together still share a frame.
   */
  flush(): void {
    for (const slot of this.slots.values()) slot.active?.flushNow()
  }

  /** onMessage adds a handler for every message from an authenticated peer; returns a function removing it. */
  onMessage(handler: MessageHandler): () => void {
    this.messageHandlers.add(handler)
    return () => this.messageHandlers.delete(handler)
  }

  /** onLinkChange adds a handler told when a peer's link comes up or goes down; returns a function removing it. */
  onLinkChange(handler: LinkChangeHandler): () => void {
    this.linkHandlers.add(handler)
    return () => this.linkHandlers.delete(handler)
  }

  /** isUp tells whether the link to `peer` is authenticated and carrying messages. */
  isUp(peer: ServerId): boolean {
    return this.slots.get(peer)?.active !== undefined
  }

  /**
   * pendingBytes is how much is waiting to go to `peer`: queued messages plus bytes the
   * socket has not yet written (0 when the link is down). A sender of a large transfer
   * (a snapshot) paces itself on this so it stays under sendQueueBytesMax, past which
   * the link is closed as a peer that stopped reading.
   */
  pendingBytes(peer: ServerId): number {
    return this.slotOf(peer).active?.pendingBytes ?? 0
  }

  /** linkStates describes the link to every other member, sorted by id. */
  linkStates(): PeerLinkStatus[] {
    return [...this.slots.values()]
      .sort((a, b) => a.member.id - b.member.id)
      .map((slot) => ({
        id: slot.member.id,
        dials: slot.dials,
        state:
          slot.active !== undefined ? 'up' : slot.dialing !== undefined ? 'connecting' : 'down',
        ...(slot.upSinceMs === undefined ? {} : { upSinceMs: slot.upSinceMs }),
        ...(slot.lastDownReason === undefined ? {} : { lastDownReason: slot.lastDownReason }),
        redialAttempt: slot.redialAttempt,
        queuedMessages: slot.active?.queuedMessages ?? 0,
        queuedBytes: slot.active?.queuedBytes ?? 0,
        ...slot.counters,
      }))
  }

  /**
   * close stops dialing, closes every link with 1001 and releases the port. Handlers
   * are not called after close starts. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.messageHandlers.clear()
    this.linkHandlers.clear()
    for (const slot of this.slots.values()) {
      clearTimeout(slot.dialTimer)
      slot.dialTimer = undefined
      slot.active?.close(PeerCloseCode.SHUTDOWN, 'member shutting down')
      slot.dialing?.close(PeerCloseCode.SHUTDOWN, 'member shutting down')
    }
    for (const connection of this.handshaking)
      connection.close(PeerCloseCode.SHUTDOWN, 'member shutting down')
    this.gate.close()
    const released = new Promise<void>((resolve) => this.httpServer.close(() => resolve()))
    // Give polite closes a moment, then cut what is left so shutdown is bounded.
    const cut = setTimeout(() => {
      for (const ws of this.sockets) ws.terminate()
      this.httpServer.closeAllConnections()
    }, 500)
    await released
    clearTimeout(cut)
    this.wsServer.close()
    this.logger.info('peer port closed')
  }

  // ---------------------------------------------------------------- accepting

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy())
    const path = (req.url ?? '/').split('?')[0]
    if (this.closed || path !== PEER_PATH) {
      socket.end(
        `HTTP/1.1 ${this.closed ? '503 Service Unavailable' : '404 Not Found'}\r\nconnection: close\r\n\r\n`,
      )
      return
    }
    // Refused, displaced or past its deadline since the TCP accept: already answered or cut.
    if (!this.gate.holdsSlot(socket)) return void socket.destroy()
    const verdict = this.tokens.verify(req.headers[ADMISSION_HEADER], Date.now())
    if (verdict.ok) this.gate.vouch(socket)
    else if (verdict.why !== 'missing')
      this.logger.debug(
        { remote: req.socket.remoteAddress, why: verdict.why },
        'peer admission token not accepted',
      )
    const remoteAddress = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`
    this.wsServer.handleUpgrade(req, socket, head, (ws) =>
      this.onAccepted(ws, socket, remoteAddress),
    )
  }

  private onAccepted(ws: WebSocket, socket: Duplex, remoteAddress: string): void {
    this.track(ws)
    const connection = this.createConnection(ws, 'acceptor', remoteAddress, undefined)
    this.handshaking.add(connection)
    this.gate.attach(socket, connection)
  }

  /** handshakeSlots tells how many unauthenticated inbound connections hold slots, for /status and tests. */
  handshakeSlots(): {
    pending: number
    strangers: number
    addresses: number
    unprovenHeldMaxMs: number
  } {
    return this.gate.counts()
  }

  // ---------------------------------------------------------------- dialing

  private dial(slot: PeerSlot): void {
    slot.dialTimer = undefined
    if (this.closed || slot.active !== undefined || slot.dialing !== undefined) return
    let address: DialAddress
    try {
      address = this.settings.dialAddress(slot.member)
    } catch (err) {
      slot.lastDownReason = `cannot resolve the dial address: ${(err as Error).message}`
      this.scheduleRedial(slot)
      return
    }
    const host = address.host.includes(':') ? `[${address.host}]` : address.host
    const scheme = this.tls === undefined ? 'ws' : 'wss'
    const url = `${scheme}://${host}:${address.port}${PEER_PATH}`
    const ws = new WebSocket(url, {
      ...(this.tls === undefined ? {} : peerDialTlsOptions(this.tls.current)),
      maxPayload: this.settings.frameBytesMax,
      perMessageDeflate: false,
      followRedirects: false,
      // A zero masking key: ws then neither copies nor XORs what this side sends, and the
      // acceptor skips unmasking. Masking only keeps a browser script from poisoning a
      // proxy's cache (RFC 6455, 10.3); this is an authenticated member-to-member link.
      generateMask: zeroMask,
      // Vouches for this connection's slot on the acceptor before any round trip (peer-admission-token.ts).
      headers: {
        [ADMISSION_HEADER]: createAdmissionToken(
          this.secret,
          this.local,
          slot.member.id,
          Date.now(),
        ),
      },
    })
    this.track(ws)
    slot.dialing = this.createConnection(ws, 'dialer', `${host}:${address.port}`, slot.member.id)
  }

  private scheduleRedial(slot: PeerSlot): void {
    if (this.closed || slot.dialTimer !== undefined) return
    const delayMs = backoffDelayMs(slot.redialAttempt, this.settings.backoff, this.settings.random)
    slot.redialAttempt++
    slot.dialTimer = setTimeout(() => this.dial(slot), delayMs)
  }

  // ---------------------------------------------------------------- connection events

  private createConnection(
    ws: WebSocket,
    role: 'dialer' | 'acceptor',
    remoteAddress: string,
    dialedId: ServerId | undefined,
  ): PeerConnection {
    const slot = dialedId === undefined ? undefined : this.slots.get(dialedId)
    // An acceptor's counters are only known once the hello names the peer; until then
    // nothing is counted (no message can arrive before authentication).
    const counters = slot?.counters ?? {
      messagesSent: 0,
      framesSent: 0,
      messagesReceived: 0,
      framesReceived: 0,
      messagesDropped: 0,
    }
    return new PeerConnection(
      {
        role,
        ws,
        local: this.local,
        secret: this.secret,
        ...(dialedId === undefined ? {} : { dialedId }),
        remoteAddress,
        // An accepted connection's deadline runs from its TCP accept, in the gate. A dial's
        // clock starts earlier, before the connection waits in the acceptor's accept queue
        // (long when strangers flood it and the acceptor is short of CPU), so it is given
        // that deadline twice: giving up sooner would only re-queue the member behind them.
        ...(role === 'dialer'
          ? { handshakeTimeoutMs: DIAL_DEADLINES * this.settings.handshakeTimeoutMs }
          : { refusalLog: this.refusalLog }),
        keepAliveMs: this.settings.keepAliveMs,
        frameBytesMax: this.settings.frameBytesMax,
        sendQueueBytesMax: this.settings.sendQueueBytesMax,
        counters,
        logger: this.logger,
      },
      {
        onUp: (c) => this.onConnectionUp(c),
        onHelloAccepted: (c) => this.gate.helloAccepted(c),
        onMessage: (c, m) => this.onConnectionMessage(c, m),
        onClosed: (c, info) => this.onConnectionClosed(c, info),
      },
    )
  }

  private onConnectionUp(connection: PeerConnection): void {
    const peerId = connection.peerId as ServerId
    const slot = this.slots.get(peerId)
    this.handshaking.delete(connection)
    const handshakeMs = this.gate.done(connection, true)
    if (slot === undefined || this.closed) {
      connection.close(PeerCloseCode.SHUTDOWN, 'member shutting down')
      return
    }
    if (slot.dialing === connection) slot.dialing = undefined
    const previous = slot.active
    if (previous !== undefined) {
      // The dialer re-dialed before we noticed its old connection died: the new one wins.
      slot.active = undefined
      this.logger.info(
        { peer: peerId, remote: previous.remoteAddress },
        'peer link replaced by a newer connection from the same peer',
      )
      previous.close(PeerCloseCode.SUPERSEDED, 'replaced by a newer connection')
      // Messages in flight on the old connection may be lost: tell the layer above the
      // stream restarted, so it re-syncs exactly as after any other drop.
      slot.lastDownReason = 'SUPERSEDED: replaced by a newer connection'
      this.emitLinkChange(peerId, false)
    }
    connection.useCounters(slot.counters)
    slot.active = connection
    slot.redialAttempt = 0
    slot.upSinceMs = Date.now()
    this.logger.info(
      {
        peer: peerId,
        role: slot.dials ? 'dialer' : 'acceptor',
        remote: connection.remoteAddress,
        ...(handshakeMs === undefined ? {} : { handshakeMs }),
      },
      'peer link up',
    )
    this.emitLinkChange(peerId, true)
  }

  private onConnectionMessage(connection: PeerConnection, message: unknown): void {
    const from = connection.peerId as ServerId
    for (const handler of this.messageHandlers) {
      try {
        handler(from, message)
      } catch (err) {
        // A throwing handler is a bug above us; log it loudly but keep the link and the process alive.
        this.logger.error({ peer: from, err }, 'peer message handler threw')
      }
    }
  }

  private onConnectionClosed(connection: PeerConnection, info: ClosedInfo): void {
    this.handshaking.delete(connection)
    this.gate.done(connection, false)
    const peerId = connection.peerId
    const slot = peerId === undefined ? undefined : this.slots.get(peerId)
    if (slot === undefined) return
    const label = `${peerCloseCodeName(info.code)}: ${info.reason}`
    if (slot.dialing === connection) {
      slot.dialing = undefined
      slot.lastDownReason = label
      // Say once per outage that a peer cannot be reached; later attempts log at debug only.
      if (slot.redialAttempt === 0)
        this.logger.info(
          { peer: peerId, reason: label },
          'peer unreachable; re-dialing with backoff',
        )
    }
    if (slot.active === connection) {
      slot.active = undefined
      slot.upSinceMs = undefined
      slot.lastDownReason = label
      this.logger.info(
        {
          peer: peerId,
          code: info.code,
          codeName: peerCloseCodeName(info.code),
          reason: info.reason,
        },
        'peer link down',
      )
      this.emitLinkChange(slot.member.id, false)
    }
    if (slot.dials && slot.active === undefined && slot.dialing === undefined)
      this.scheduleRedial(slot)
  }

  private emitLinkChange(peer: ServerId, up: boolean): void {
    for (const handler of this.linkHandlers) {
      try {
        handler(peer, up)
      } catch (err) {
        this.logger.error({ peer, up, err }, 'peer link-change handler threw')
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  private slotOf(to: ServerId): PeerSlot {
    const slot = this.slots.get(to)
    if (slot === undefined) {
      const others = [...this.slots.keys()].join(', ')
      throw new PeerLinksError(
        'UNKNOWN_PEER',
        `cannot send to ${String(to)}: not another member of this ensemble (peers: ${others})`,
      )
    }
    return slot
  }

  private encodeChecked(to: ServerId, message: unknown): Uint8Array {
    // A leader sends each proposal batch (megabytes under load) to every follower: encode it
    // once. Only proposals: they are built fresh per batch and never changed, while other
    // message objects may be reused with new contents.
    const cacheable =
      typeof message === 'object' &&
      message !== null &&
      (message as { type?: unknown }).type === 'proposal'
    const cached = cacheable ? this.encodedMessages.get(message) : undefined
    const encoded = cached ?? encodePeerMessage(message)
    if (cacheable && cached === undefined) this.encodedMessages.set(message, encoded)
    if (encoded.length + ARRAY_HEADER_BYTES_MAX > this.settings.frameBytesMax) {
      throw new PeerLinksError(
        'MESSAGE_TOO_LARGE',
        `a message to ${to} encodes to ${encoded.length} bytes, more than fits in a frame of ${this.settings.frameBytesMax} bytes`,
      )
    }
    return encoded
  }

  private track(ws: WebSocket): void {
    this.sockets.add(ws)
    ws.once('close', () => this.sockets.delete(ws))
  }
}

/** memberHosts lists where the other members' connections may come from: their hosts and dial addresses. */
function memberHosts(
  members: readonly PeerMember[],
  selfId: ServerId,
  dialAddress: (m: PeerMember) => DialAddress,
): string[] {
  const hosts: string[] = []
  for (const member of members) {
    if (member.id === selfId) continue
    hosts.push(member.host)
    try {
      hosts.push(dialAddress(member).host)
    } catch {
      // Not resolvable yet (a test directory filled in later): the advertised host stands.
    }
  }
  return hosts
}

/** peerServerTlsOptions: the peer port presents this member's certificate and requires a valid one from the dialer. */
function peerServerTlsOptions(pem: TlsPem) {
  return { cert: pem.cert, key: pem.key, ca: pem.ca, requestCert: true, rejectUnauthorized: true }
}

/** peerDialTlsOptions: a dial presents this member's certificate and verifies the acceptor's (CA and address). */
function peerDialTlsOptions(pem: TlsPem) {
  return { cert: pem.cert, key: pem.key, ca: pem.ca, rejectUnauthorized: true }
}

/**
 * PEER_LISTEN_BACKLOG is the peer port's accept queue (the kernel caps it at
 * net.core.somaxconn). Node's default of 511 fills up while a flood of strangers
 * re-connects faster than a busy member accepts, and then the kernel drops a member's
 * SYN too: its dial waits a second for the retransmit.
 */
const PEER_LISTEN_BACKLOG = 4096

function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error) =>
      reject(
        new PeerLinksError('LISTEN_FAILED', `cannot listen on ${host}:${port}: ${err.message}`, {
          cause: err,
        }),
      )
    server.once('error', onError)
    server.listen({ port, host, backlog: PEER_LISTEN_BACKLOG }, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

/** zeroMask fills a WebSocket masking key with zeros (see the dial options). */
function zeroMask(mask: Uint8Array): void {
  mask.fill(0)
}
