/**
 * ClientFront: the part of a member that faces clients. It accepts connects (opening a
 * session through the leader, or resuming one after checking it is live, the password
 * matches and the client has not seen a newer zxid), forwards writes and session
 * closes to the leader, starts syncs and linearizable reads through the core's read
 * index, answers plain reads from the local tree, registers watches, and answers each
 * write when its txn is applied here.
 *
 * Per-session FIFO (design.md §1.2) is kept by one queue per connection
 * (client-connection.ts): a reply leaves only when every earlier request of the
 * connection has been answered, and a read is computed only when it reaches the head,
 * so it sees exactly the session's earlier writes and none of its later ones. Watch
 * events of a txn are sent before anything answered after that txn is applied.
 *
 * A member that is not serving (no established leader) refuses connects and requests
 * with the retryable NOT_SERVING, so the SDK moves to another member.
 *
 * Bounds per client (ClientLimits, issue 9): past `connectionBufferedBytesSoft` bytes
 * queued for a client, its reads are not computed (they wait in the FIFO) and its
 * socket is not read until the buffer drains to half the mark, so a client that stops
 * reading cannot make the member hold its replies; past `connectionBufferedBytesMax`
 * (watch events are not held back) or after `connectionStalledMaxMs` over the soft
 * mark, it is closed with 1008. Requests waiting for their reply, reads included,
 * count toward `maxOutstandingRequests`, and past `connectionWriteBytesInFlightMax` bytes of
 * writes not yet applied its socket is not read either, so other clients' writes never
 * queue behind more than that of one client's. New sessions are rate limited, watches per
 * session capped, setWatches sliced by the SDK, and a reply that would not fit a frame
 * is answered with an error instead.
 */
import type { Logger } from 'pino'
import {
  CloseCode,
  ErrorCode,
  PROTOCOL_VERSION,
  SET_WATCHES_PATHS_MAX,
  WRITE_OPS,
  decodeClientMessage,
  encodeServerMessage,
  errorCodeName,
  formatZxid,
  Perm,
  type Acl,
  type AuthRequest,
  type EventMessage,
  type ConnectMessage,
  type Request,
  type ServerId,
  type ServerMessage,
  type SessionId,
  type Txn,
  type Zxid,
} from '../../protocol/index.js'
import { IDENTITIES_MAX, requestKey, type ForwardPayload } from '../member/index.js'
import type { ClientSocket } from '../net/client-listener.js'
import { aclPermits, answerRead, replyForWrite, type WriteRequest } from '../requests/index.js'
import type { SessionTable } from '../sessions/index.js'
import type { ApplyResult, DataTree } from '../tree/index.js'
import {
  planReplay,
  type ChangeWindow,
  type Position,
  type WatchRegistry,
} from '../watches/index.js'
import { ClientConnection, type QueuedRequest, type Reply } from './client-connection.js'
import type { ClientMetrics } from './metrics.js'
import type { ReplicaClock } from './clock.js'
import type { ClientBoundKey, ServerConfig } from './config.js'
import { authenticate } from './auth.js'
import { TokenBucket } from './token-bucket.js'

/** HANDSHAKE_TIMEOUT_MS is how long a new socket may take to send `connect`. */
const HANDSHAKE_TIMEOUT_MS = 10_000

/** AUTH_FAILED_CLOSE_XID is the xid of the close a refused auth request causes (ZooKeeper's auth xid). */
const AUTH_FAILED_CLOSE_XID = -4

/** CLOSE_REASON_BYTES_MAX is the WebSocket limit on a close reason. */
const CLOSE_REASON_BYTES_MAX = 123

/** PUMP_REPLY_BYTES_PER_TURN is how many reply bytes one connection's pump computes before it yields the event loop. */
const PUMP_REPLY_BYTES_PER_TURN = 2 * 1024 * 1024

/**
 * WINDOW_SCAN_CHANGES_PER_TURN is how many change-window entries one connection's
 * requests may scan per event-loop turn: two full default windows. A replay from an old
 * position walks the whole window even when it matches nothing, and one socket read can
 * hand the front a thousand such requests; past the budget the pump yields.
 */
const WINDOW_SCAN_CHANGES_PER_TURN = 200_000

/** WATCH_REMOVAL_PATHS_PER_TURN is how many watched paths a closed connection drops per event-loop turn. */
const WATCH_REMOVAL_PATHS_PER_TURN = 2_000

/** ClientLimits are the settings that bound what one client costs a member, plus the frame limit. */
export type ClientLimits = Pick<ServerConfig, ClientBoundKey> & { frameBytesMax: number }

/** FrontHost is what the front end needs from its member; tree and sessions may be replaced (SNAP). */
export interface FrontHost {
  readonly id: ServerId
  readonly tree: DataTree
  readonly sessions: SessionTable
  readonly watches: WatchRegistry
  /** window holds the recent committed changes that watches registered with a position are replayed from. */
  readonly window: ChangeWindow
  readonly logger: Logger
  /** serving tells whether this member may answer clients (an established leader, or a follower that got UPTODATE). */
  serving(): boolean
  /** forward hands a client action to the leader; false when there is no leader to take it. */
  forward(sessionId: SessionId, xid: number, payload: ForwardPayload): boolean
  /** readIndex asks the leader for a confirmed read index; the answer comes through `onReadReady`/`onReadFailed` with `token`. */
  readIndex(token: unknown): boolean
  /** touch records client activity on a session (the leader refreshes it, a follower tells the leader). */
  touch(sessionId: SessionId): void
  /** newSessionId picks the id of a session this member opens. */
  newSessionId(): SessionId
  /** newPassword draws a session password from a cryptographic generator. */
  newPassword(): Uint8Array
  /** clock is the time seam: the session-creation rate, deadlines, and yielding the event loop. */
  readonly clock: ReplicaClock
  /** superDigest is the super user's digest id (`user:base64sha1`), or '' for none. */
  readonly superDigest: string
  /** metrics counts requests, bytes and limit refusals for /metrics. */
  readonly metrics: ClientMetrics
}

/** WriteEntry is a queued write. */
type WriteEntry = Extract<QueuedRequest, { kind: 'write' }>

/** ReadToken is what the core hands back for a read index: the connection and its queued entry. */
interface ReadToken {
  readonly connection: ClientConnection
  readonly entry: Extract<QueuedRequest, { kind: 'barrier' }>
}

/**
 * FrontBug plants a deliberate bug in the client front (tests only), to prove that the
 * simulator's history checkers are wired in and can fail:
 * - `linearizable-read-is-local`: syncs and linearizable reads skip the read index and
 *   answer from the local tree;
 * - `connect-ignores-zxid`: a session is accepted from a client that has seen a newer
 *   zxid than this member applied, so it can see time go back.
 */
export type FrontBug = 'linearizable-read-is-local' | 'connect-ignores-zxid'

/** ClientFront serves the clients connected to one member. */
export class ClientFront {
  private readonly connections = new Map<number, ClientConnection>()
  /** The connection currently bound to each session. */
  private readonly owners = new Map<SessionId, ClientConnection>()
  /** Forwarded writes waiting for their txn, by session and xid. */
  private readonly awaitingApply = new Map<
    string,
    { connection: ClientConnection; entry: Extract<QueuedRequest, { kind: 'write' }> }
  >()
  /** Connections waiting for their createSession txn, by the session id chosen for them. */
  private readonly awaitingSession = new Map<SessionId, ClientConnection>()
  /** Connections whose head is a barrier waiting for the tree to reach its read index. */
  private readonly awaitingBarrier = new Set<ClientConnection>()
  /** New sessions this member may still open: one second's worth at once, refilled at the rate. */
  private readonly sessionCreates: TokenBucket

  constructor(
    private readonly host: FrontHost,
    private readonly limits: ClientLimits,
    private readonly bug?: FrontBug,
  ) {
    this.sessionCreates = new TokenBucket(
      limits.maxSessionCreatesPerSecond,
      limits.maxSessionCreatesPerSecond,
    )
  }

  /** connectionCount is the number of open client connections. */
  get connectionCount(): number {
    return this.connections.size
  }

  /** requestsInFlight is the number of requests received and not answered yet, over every connection. */
  get requestsInFlight(): number {
    let count = 0
    for (const connection of this.connections.values()) count += connection.pendingCount
    return count
  }

  // ---------------------------------------------------------------- sockets

  /** onOpen registers a new socket and gives it a deadline for its connect message. */
  onOpen(socket: ClientSocket): void {
    const clock = this.host.clock
    const connection = new ClientConnection(socket, () => clock.monotonicMs())
    this.connections.set(socket.id, connection)
    clock.after(HANDSHAKE_TIMEOUT_MS, () => {
      if (connection.phase === 'handshake' && this.connections.has(socket.id)) {
        this.close(connection, CloseCode.BAD_HANDSHAKE, 'no connect message in time')
      }
    })
  }

  /** onClose forgets a socket, its watches and what it waited for. */
  onClose(socket: ClientSocket, code: number, reason: string): void {
    const connection = this.connections.get(socket.id)
    if (connection === undefined) return
    this.connections.delete(socket.id)
    connection.phase = 'closing'
    connection.stallTimer?.cancel()
    this.dropWatches(connection.id)
    this.awaitingBarrier.delete(connection)
    if (this.owners.get(connection.sessionId) === connection)
      this.owners.delete(connection.sessionId)
    for (const [sessionId, waiting] of this.awaitingSession)
      if (waiting === connection) this.awaitingSession.delete(sessionId)
    for (const [key, waiting] of this.awaitingApply)
      if (waiting.connection === connection) this.awaitingApply.delete(key)
    this.host.logger.debug(
      { connection: socket.id, session: connection.sessionId.toString(16), code, reason },
      'client disconnected',
    )
  }

  /** onFrame decodes one frame and acts on it; malformed input is answered or closes the socket, never throws. */
  onFrame(socket: ClientSocket, frame: Uint8Array): void {
    this.host.metrics.received(frame.length)
    const connection = this.connections.get(socket.id)
    if (connection === undefined || connection.phase === 'closing') return
    const decoded = decodeClientMessage(frame)
    if (!decoded.ok) {
      if (decoded.xid !== undefined && connection.phase === 'open') {
        // A request we could read the xid of gets its error in its turn; the connection stays.
        connection.enqueue({
          kind: 'answered',
          xid: decoded.xid,
          reply: { err: decoded.error.code, message: decoded.error.message },
        })
        this.pump(connection)
      } else {
        this.host.logger.debug(
          { connection: socket.id, reason: decoded.error.message },
          'refusing malformed frame',
        )
        // The reason names the failure, never the decoded bytes: those are the sender's.
        this.close(
          connection,
          CloseCode.PROTOCOL_ERROR,
          `malformed frame (${errorCodeName(decoded.error.code) ?? decoded.error.code})`,
        )
      }
      return
    }
    const message = decoded.message
    switch (message.type) {
      case 'connect':
        return this.onConnect(connection, message)
      case 'ping':
        return this.onPing(connection)
      case 'request':
        return this.onRequest(connection, message.xid, message.request, frame.length)
      default: {
        const unreachable: never = message
        return unreachable
      }
    }
  }

  /** closeAll closes every connection (the member lost its leader, or is stopping); clients move on. */
  closeAll(code: number, reason: string): void {
    for (const connection of [...this.connections.values()]) this.close(connection, code, reason)
    this.awaitingApply.clear()
    this.awaitingSession.clear()
    this.awaitingBarrier.clear()
  }

  private close(connection: ClientConnection, code: number, reason: string): void {
    if (code === CloseCode.CLIENT_NOT_READING) this.host.metrics.refused('client_not_reading')
    connection.phase = 'closing'
    connection.stallTimer?.cancel()
    connection.socket.close(code, truncateReason(reason))
  }

  /** dropWatches removes a closed connection's watches in slices, so a huge set does not hold the loop. */
  private dropWatches(watcher: number): void {
    const watches = this.host.watches
    watches.removeWatcher(watcher, WATCH_REMOVAL_PATHS_PER_TURN)
    if (watches.countFor(watcher) > 0) this.host.clock.nextTurn(() => this.dropWatches(watcher))
  }

  private send(connection: ClientConnection, message: ServerMessage): void {
    this.sendFrame(connection, encodeServerMessage(message))
  }

  /**
   * sendFrame sends one frame and enforces the output bounds: over the hard mark the
   * connection is closed; over the soft mark it is marked blocked until it drains.
   */
  private sendFrame(connection: ClientConnection, frame: Uint8Array): void {
    if (connection.phase === 'closing') return
    const socket = connection.socket
    socket.send(frame)
    this.host.metrics.sent(frame.length)
    const buffered = socket.bufferedBytes()
    const { connectionBufferedBytesSoft: soft, connectionBufferedBytesMax: max } = this.limits
    if (buffered > max) {
      this.host.logger.info(
        { connection: connection.id, bufferedBytes: buffered },
        'closing a client that does not read its replies',
      )
      this.close(
        connection,
        CloseCode.CLIENT_NOT_READING,
        `output buffer over ${max} bytes: the client is not reading`,
      )
    } else if (buffered >= soft && !connection.outputBlocked) this.blockOutput(connection)
  }

  /**
   * blockOutput stops computing the connection's reads and reading its socket until what
   * is queued for it drains to half the soft mark; if that takes longer than
   * connectionStalledMaxMs, the client is not reading and the connection is closed.
   */
  private blockOutput(connection: ClientConnection): void {
    connection.outputBlocked = true
    this.applyBackpressure(connection)
    const stalledMaxMs = this.limits.connectionStalledMaxMs
    connection.stallTimer = this.host.clock.after(stalledMaxMs, () => {
      if (!connection.outputBlocked || connection.phase === 'closing') return
      this.host.logger.info(
        { connection: connection.id, bufferedBytes: connection.socket.bufferedBytes() },
        'closing a client that stopped reading',
      )
      this.close(
        connection,
        CloseCode.CLIENT_NOT_READING,
        `output buffer over ${this.limits.connectionBufferedBytesSoft} bytes for ${stalledMaxMs} ms: the client is not reading`,
      )
    })
    connection.socket.onDrained(Math.floor(this.limits.connectionBufferedBytesSoft / 2), () => {
      connection.stallTimer?.cancel()
      connection.outputBlocked = false
      if (this.connections.get(connection.id) === connection && connection.phase !== 'closing')
        this.pump(connection)
    })
  }

  // ---------------------------------------------------------------- sessions

  private onConnect(connection: ClientConnection, message: ConnectMessage): void {
    if (connection.phase !== 'handshake')
      return this.close(connection, CloseCode.BAD_HANDSHAKE, 'connect sent twice')
    if (message.protocolVersion !== PROTOCOL_VERSION) {
      return this.refuse(
        connection,
        ErrorCode.BAD_ARGUMENTS,
        `unsupported protocol version ${message.protocolVersion}; this server speaks ${PROTOCOL_VERSION}`,
      )
    }
    if (!this.host.serving())
      return this.refuse(
        connection,
        ErrorCode.NOT_SERVING,
        `server ${this.host.id} is not serving: it has no quorum`,
      )
    const tree = this.host.tree
    if (message.lastZxidSeen > tree.appliedZxid && this.bug !== 'connect-ignores-zxid') {
      return this.refuse(
        connection,
        ErrorCode.ZXID_AHEAD,
        `client has seen zxid ${formatZxid(message.lastZxidSeen)}, this server only ${formatZxid(tree.appliedZxid)}`,
      )
    }
    if (message.sessionId === 0n) {
      if (!this.sessionCreates.take(this.host.clock.nowMs())) {
        this.host.metrics.refused('session_rate')
        const rate = this.limits.maxSessionCreatesPerSecond
        return this.refuse(
          connection,
          ErrorCode.THROTTLED,
          `too many new sessions: this server opens at most ${rate} per second (maxSessionCreatesPerSecond); retry after a pause`,
        )
      }
      return this.createSession(connection, message)
    }
    const sessions = this.host.sessions
    const session = sessions.get(message.sessionId)
    if (session === undefined || sessions.isClosing(message.sessionId)) {
      return this.refuse(
        connection,
        ErrorCode.SESSION_EXPIRED,
        `session 0x${message.sessionId.toString(16)} has expired`,
      )
    }
    if (!sessions.passwordMatches(message.sessionId, message.password))
      return this.refuse(connection, ErrorCode.AUTH_FAILED, 'wrong session password')
    // The leader learns that this member now owns the session: requests still in flight
    // through the member the client left will fail with SESSION_MOVED.
    if (!this.host.forward(message.sessionId, 0, { kind: 'claimSession' })) {
      return this.refuse(connection, ErrorCode.NOT_SERVING, `server ${this.host.id} has no leader`)
    }
    this.bind(connection, message.sessionId)
    this.send(connection, {
      type: 'connected',
      sessionId: session.id,
      password: session.password,
      timeoutMs: session.timeoutMs,
      serverId: this.host.id,
      zxid: tree.appliedZxid,
      readOnly: false,
    })
  }

  private createSession(connection: ClientConnection, message: ConnectMessage): void {
    const sessionId = this.host.newSessionId()
    const payload: ForwardPayload = {
      kind: 'createSession',
      timeoutMs: message.timeoutMs,
      password: this.host.newPassword(),
    }
    if (!this.host.forward(sessionId, 0, payload))
      return this.refuse(connection, ErrorCode.NOT_SERVING, `server ${this.host.id} has no leader`)
    connection.phase = 'creating-session'
    this.awaitingSession.set(sessionId, connection)
  }

  /** bind makes `connection` the owner of a session, closing any older connection that held it. */
  private bind(connection: ClientConnection, sessionId: SessionId): void {
    const previous = this.owners.get(sessionId)
    if (previous !== undefined && previous !== connection)
      this.close(previous, CloseCode.SESSION_MOVED, 'session moved to another connection')
    this.owners.set(sessionId, connection)
    connection.sessionId = sessionId
    connection.phase = 'open'
    this.host.touch(sessionId)
  }

  private refuse(connection: ClientConnection, code: number, message: string): void {
    this.send(connection, { type: 'connectRefused', code, message })
    this.close(connection, CloseCode.SESSION_ENDED, `${errorCodeName(code) ?? code}: ${message}`)
  }

  private onPing(connection: ClientConnection): void {
    if (connection.phase !== 'open')
      return this.close(connection, CloseCode.BAD_HANDSHAKE, 'ping before connect')
    this.host.touch(connection.sessionId)
    this.send(connection, { type: 'pong', zxid: this.host.tree.appliedZxid })
  }

  // ---------------------------------------------------------------- requests

  private onRequest(
    connection: ClientConnection,
    xid: number,
    request: Request,
    frameBytes: number,
  ): void {
    if (connection.phase !== 'open')
      return this.close(connection, CloseCode.BAD_HANDSHAKE, 'request before connect')
    const sessionId = connection.sessionId
    const answer = (err: number, message: string) =>
      connection.enqueue({ kind: 'answered', xid, reply: { err, message }, op: request.op })
    const sessions = this.host.sessions
    if (!this.host.serving())
      answer(ErrorCode.NOT_SERVING, `server ${this.host.id} is not serving: it has no quorum`)
    else if (!sessions.has(sessionId) || sessions.isClosing(sessionId))
      answer(ErrorCode.SESSION_EXPIRED, 'session has expired')
    else if (request.op === 'auth') return this.onAuth(connection, xid, request)
    else if (WRITE_OPS.has(request.op)) {
      this.host.touch(sessionId)
      const entry: WriteEntry = { kind: 'write', xid, request, frameBytes }
      connection.writeBytesInFlight += frameBytes
      // While reads wait for the output to drain (or for their turn), a later write must
      // not be applied before them (per-session FIFO): it is held until it reaches the head.
      if (connection.outputBlocked || connection.pumpDeferred || connection.heldWrites > 0) {
        entry.held = true
        connection.heldWrites += 1
        connection.enqueue(entry)
      } else {
        const refused = this.forwardWrite(connection, entry)
        if (refused === undefined) connection.enqueue(entry)
        else {
          connection.writeBytesInFlight -= frameBytes
          answer(refused.err, refused.message ?? '')
        }
      }
    } else if (request.op === 'sync' || (request.op === 'get' && request.linearizable === true)) {
      this.host.touch(sessionId)
      const entry = { kind: 'barrier' as const, xid, request, zxid: undefined as Zxid | undefined }
      const token: ReadToken = { connection, entry }
      if (this.bug === 'linearizable-read-is-local') {
        entry.zxid = 0n
        connection.enqueue(entry)
      } else if (this.host.readIndex(token)) connection.enqueue(entry)
      else
        answer(
          ErrorCode.NOT_SERVING,
          `server ${this.host.id} has no leader to confirm a read index`,
        )
    } else {
      this.host.touch(sessionId)
      connection.enqueue({ kind: 'read', xid, request })
    }
    this.pump(connection)
  }

  /**
   * onAuth adds the identities of an auth request to the connection at once (requests
   * after it are checked with them; ZooKeeper too applies auth on arrival) and answers
   * in turn. Refused credentials are AUTH_FAILED, and, as in ZooKeeper, the session
   * is over: the reply goes out, the session is closed through the leader, and the
   * connection closed. Neither the credentials nor the digest are logged.
   */
  private onAuth(connection: ClientConnection, xid: number, request: AuthRequest): void {
    this.host.touch(connection.sessionId)
    const result = authenticate(request.scheme, request.credentials, this.host.superDigest)
    if (Array.isArray(result)) {
      for (const id of result) {
        const held = connection.identities.some((h) => h.scheme === id.scheme && h.id === id.id)
        if (!held && connection.identities.length < IDENTITIES_MAX) connection.identities.push(id)
      }
      connection.enqueue({ kind: 'answered', xid, reply: { err: 0, result: {} }, op: 'auth' })
      return this.pump(connection)
    }
    connection.enqueue({
      kind: 'answered',
      xid,
      reply: { err: result.code, message: result.reason },
      op: 'auth',
    })
    this.pump(connection)
    this.host.logger.info(
      { connection: connection.id, session: connection.sessionId.toString(16) },
      'closing a session whose auth request was refused',
    )
    this.host.forward(connection.sessionId, AUTH_FAILED_CLOSE_XID, { kind: 'closeSession' })
    this.close(connection, CloseCode.SESSION_ENDED, `AUTH_FAILED: ${result.reason}`)
  }

  /**
   * forwardWrite hands a write to the leader and records it as waiting for its txn; the
   * error reply when it cannot be (its xid already in flight, no leader).
   */
  private forwardWrite(connection: ClientConnection, entry: WriteEntry): Reply | undefined {
    const { sessionId } = connection
    const key = requestKey(sessionId, entry.xid)
    // A commit is matched to its request by session and xid, so those must be unique in flight.
    if (this.awaitingApply.has(key))
      return {
        err: ErrorCode.BAD_ARGUMENTS,
        message: `xid ${entry.xid} is already in flight for this session`,
      }
    const request = entry.request
    const payload: ForwardPayload =
      request.op === 'closeSession'
        ? { kind: 'closeSession' }
        : {
            kind: 'write',
            request: request as WriteRequest,
            // The leader checks the ACLs, so the identities travel with the write (ZooKeeper's authInfo).
            identities: [...connection.identities],
          }
    if (!this.host.forward(sessionId, entry.xid, payload))
      return { err: ErrorCode.NOT_SERVING, message: `server ${this.host.id} has no leader` }
    this.awaitingApply.set(key, { connection, entry })
    return undefined
  }

  /** onReadReady records that a sync or linearizable read may be answered once `zxid` is applied here. */
  onReadReady(token: unknown, zxid: Zxid): void {
    const { connection, entry } = token as ReadToken
    entry.zxid = zxid
    if (this.connections.get(connection.id) === connection) this.pump(connection)
  }

  /** onReadFailed answers a sync or linearizable read whose read index could not be confirmed. */
  onReadFailed(token: unknown): void {
    const { connection, entry } = token as ReadToken
    entry.failed = true
    if (this.connections.get(connection.id) === connection) this.pump(connection)
  }

  /** applyBackpressure stops reading from a connection with too many requests or write bytes in flight, or too much output queued. */
  private applyBackpressure(connection: ClientConnection): void {
    const outstandingMax = this.limits.maxOutstandingRequests
    const writeBytesMax = this.limits.connectionWriteBytesInFlightMax
    if (
      !connection.paused &&
      (connection.pendingCount >= outstandingMax ||
        connection.writeBytesInFlight >= writeBytesMax ||
        connection.outputBlocked)
    ) {
      connection.paused = true
      connection.socket.pause()
    } else if (
      connection.paused &&
      connection.pendingCount < outstandingMax / 2 &&
      connection.writeBytesInFlight < writeBytesMax / 2 &&
      !connection.outputBlocked
    ) {
      connection.paused = false
      connection.socket.resume()
    }
  }

  /**
   * pump answers the connection's requests from the head while they are ready, and
   * forwards a held write once it reaches the head. After PUMP_REPLY_BYTES_PER_TURN it
   * yields and goes on in the next turn (a session's pipelined reads of large nodes).
   */
  private pump(connection: ClientConnection): void {
    if (connection.pumpDeferred) return
    const tree = this.host.tree
    let turnBytes = 0
    for (
      let entry = connection.peek();
      entry !== undefined && !connection.outputBlocked;
      entry = connection.peek()
    ) {
      let reply: Reply
      let zxid = tree.appliedZxid
      if (entry.kind === 'answered') reply = entry.reply
      else if (entry.kind === 'read') {
        if (!this.chargeWindowScan(connection, entry.request)) break
        reply = this.executeRead(connection, entry.xid, entry.request)
      } else if (entry.kind === 'barrier') {
        if (entry.failed === true)
          reply = {
            err: ErrorCode.NOT_SERVING,
            message: 'the read index could not be confirmed: the leader lost its quorum',
          }
        else if (entry.zxid === undefined || tree.appliedZxid < entry.zxid) {
          this.awaitingBarrier.add(connection)
          break
        } else if (entry.request.op === 'sync') reply = { err: 0, result: {} }
        else {
          if (!this.chargeWindowScan(connection, entry.request)) break
          reply = this.executeRead(connection, entry.xid, entry.request)
        }
      } else {
        if (entry.held === true) {
          entry.held = undefined
          connection.heldWrites -= 1
          entry.reply = this.forwardWrite(connection, entry)
          if (entry.reply !== undefined) connection.writeBytesInFlight -= entry.frameBytes
        }
        if (entry.reply === undefined) break
        reply = entry.reply
        zxid = entry.replyZxid ?? zxid
      }
      const receivedMs = connection.shift()
      this.host.metrics.replied(entry, this.host.clock.monotonicMs() - receivedMs, reply.err)
      turnBytes += this.sendReply(connection, entry.xid, zxid, reply)
      if (entry.kind === 'write' && entry.request.op === 'closeSession' && reply.err === 0) {
        this.close(connection, CloseCode.SESSION_ENDED, 'session closed')
        return
      }
      if (entry.kind === 'write' && reply.err === ErrorCode.SESSION_MOVED) {
        // The leader names another member as the session's: a request in flight from a
        // connection the client left, or a claim from such a connection that reached the
        // leader after this one's. Either way this connection is not the session's at the
        // leader; closing it (as ZooKeeper's FinalRequestProcessor does) has the client
        // reconnect and claim the session again, instead of failing every later write.
        this.close(
          connection,
          CloseCode.SESSION_MOVED,
          'the leader holds the session as moved to another member: reconnect to resume it',
        )
        return
      }
      if (turnBytes >= PUMP_REPLY_BYTES_PER_TURN && connection.peek() !== undefined) {
        this.deferPump(connection)
        break
      }
    }
    this.applyBackpressure(connection)
  }

  /** deferPump has the connection's pump go on in the next event-loop turn. */
  private deferPump(connection: ClientConnection): void {
    connection.pumpDeferred = true
    this.host.clock.nextTurn(() => {
      connection.pumpDeferred = false
      if (this.connections.get(connection.id) === connection && connection.phase !== 'closing')
        this.pump(connection)
    })
  }

  /**
   * chargeWindowScan counts the change-window entries `request` will scan against the
   * connection's budget for this turn. When the budget is spent (and this is not the
   * turn's first scan, so any one request can run) it defers the pump and returns false:
   * the request stays at the head and runs in the next turn.
   */
  private chargeWindowScan(connection: ClientConnection, request: Request): boolean {
    const { window } = this.host
    const scanned =
      request.op === 'addWatch' && request.fromZxid !== undefined
        ? window.changesAfter(request.fromZxid)
        : request.op === 'setWatches'
          ? window.changesAfter(request.relativeZxid)
          : 0
    if (scanned === 0) return true
    if (
      connection.turnScannedChanges > 0 &&
      connection.turnScannedChanges + scanned > WINDOW_SCAN_CHANGES_PER_TURN
    ) {
      this.deferPump(connection)
      return false
    }
    if (connection.turnScannedChanges === 0)
      this.host.clock.nextTurn(() => {
        connection.turnScannedChanges = 0
      })
    connection.turnScannedChanges += scanned
    return true
  }

  /** sendReply sends a reply and returns its size; one whose frame would pass the frame limit (a huge children listing) becomes an error. */
  private sendReply(connection: ClientConnection, xid: number, zxid: Zxid, reply: Reply): number {
    const message = (r: Reply): ServerMessage => ({
      type: 'reply',
      xid,
      zxid,
      ...(r as Omit<Reply, 'result'>),
      ...(r.result === undefined ? {} : { result: r.result as never }),
    })
    let frame = encodeServerMessage(message(reply))
    if (frame.length > this.limits.frameBytesMax) {
      this.host.metrics.refused('reply_too_large')
      const tooLarge = `the reply is ${frame.length} bytes, over the frame limit of ${this.limits.frameBytesMax}: ask for less (childCount, or narrower paths)`
      frame = encodeServerMessage(message({ err: ErrorCode.MARSHALLING_ERROR, message: tooLarge }))
    }
    this.sendFrame(connection, frame)
    return frame.length
  }

  /** watchRefusal is the error for a request that would add `adding` watches past maxWatchesPerSession, if it would. */
  private watchRefusal(connection: ClientConnection, adding: number): Reply | undefined {
    const held = this.host.watches.countFor(connection.id)
    const max = this.limits.maxWatchesPerSession
    if (held + adding <= max) return undefined
    return {
      err: ErrorCode.QUOTA_EXCEEDED,
      message: `the session holds ${held} watches; adding ${adding} would pass the limit of ${max} (maxWatchesPerSession)`,
    }
  }

  /** executeRead answers the read `xid` and registers the watch it asked for, in one step. */
  private executeRead(connection: ClientConnection, xid: number, request: Request): Reply {
    const watcher = connection.id
    const { tree, watches } = this.host
    if (
      (request.op === 'exists' || request.op === 'get' || request.op === 'children') &&
      request.watch
    ) {
      const refused = this.watchRefusal(connection, 1)
      if (refused !== undefined) return refused
    }
    switch (request.op) {
      case 'exists': {
        const reply = answerRead(tree, request, connection.sessionId, connection.identities)
        if (request.watch && reply.err === 0) {
          const stat = (reply.result as { stat: unknown }).stat
          if (stat === null) watches.addExistWatch(request.path, watcher)
          else watches.addDataWatch(request.path, watcher)
        }
        return reply
      }
      case 'get': {
        const reply = answerRead(tree, request, connection.sessionId, connection.identities)
        if (request.watch && reply.err === 0) watches.addDataWatch(request.path, watcher)
        return reply
      }
      case 'children': {
        const reply = answerRead(tree, request, connection.sessionId, connection.identities)
        if (request.watch && reply.err === 0) watches.addChildWatch(request.path, watcher)
        return reply
      }
      case 'getEphemerals':
      case 'childCount':
      case 'getAcl':
        return answerRead(tree, request, connection.sessionId, connection.identities)
      case 'addWatch': {
        const refused = this.watchRefusal(connection, 1)
        if (refused !== undefined) return refused
        const recursive = request.mode === 'persistentRecursive'
        if (request.fromZxid === undefined) {
          watches.addPersistentWatch(request.path, watcher, recursive)
          return { err: 0, result: {} }
        }
        return this.replayAndWatch(connection, xid, request.path, recursive, {
          zxid: request.fromZxid,
          ...(request.afterIndex === undefined ? {} : { afterIndex: request.afterIndex }),
        })
      }
      case 'removeWatches':
        return watches.removeWatches(request.path, request.kind, watcher)
          ? { err: 0, result: {} }
          : { err: ErrorCode.NO_WATCHER, message: `no ${request.kind} watch on ${request.path}` }
      case 'setWatches': {
        const paths = request.data.length + request.exist.length + request.child.length
        if (paths > SET_WATCHES_PATHS_MAX) {
          return {
            err: ErrorCode.BAD_ARGUMENTS,
            message: `setWatches carries ${paths} paths, over the limit of ${SET_WATCHES_PATHS_MAX} per request: send several (the SDK does)`,
          }
        }
        const refused = this.watchRefusal(connection, paths)
        if (refused !== undefined) return refused
        const events = watches.setWatches(
          watcher,
          request,
          (path) => {
            const stat = tree.stat(path)
            return stat === null
              ? { exists: false, mzxid: 0n, pzxid: 0n }
              : { exists: true, mzxid: stat.mzxid, pzxid: stat.pzxid }
          },
          tree.appliedZxid,
          this.host.window,
        )
        // A catch-up is about a path the client watched itself. A node gone past the
        // window has no known ACL; its absence is public (exists is not checked), so
        // its deletion may be told; anything else needs READ.
        for (const event of events) {
          const gone = event.event === 'deleted' && this.host.tree.getNode(event.path) === undefined
          if (gone || this.mayHearReplayed(connection, event)) this.send(connection, event)
        }
        return { err: 0, result: {} }
      }
      case 'create':
      case 'delete':
      case 'set':
      case 'setAcl':
      case 'multi':
      case 'sync':
      case 'auth':
      case 'closeSession':
        return { err: ErrorCode.UNIMPLEMENTED, message: `op '${request.op}' is not a read` }
    }
  }

  /**
   * replayAndWatch registers a persistent watch that starts after `from`: it sends the
   * events the watch missed since then (from the change window), each marked as part of
   * the replay of request `xid` so the client routes it to that stream only, and
   * registers the watch, in
   * one step, so nothing applied in between is lost or sent twice. A position the window
   * no longer covers, or a replay that would pass the connection's output bound, is
   * answered `compacted` (the watch is live from the reply's zxid); a position beyond
   * what this member applied is ZXID_AHEAD and registers nothing.
   */
  private replayAndWatch(
    connection: ClientConnection,
    xid: number,
    path: string,
    recursive: boolean,
    from: Position,
  ): Reply {
    const { tree, watches, window } = this.host
    // Half the room between the soft and hard output marks: the pump stops at the soft
    // mark, so a replay sent from below it can never close the connection.
    const bytesMax = Math.floor(
      (this.limits.connectionBufferedBytesMax - this.limits.connectionBufferedBytesSoft) / 2,
    )
    const plan = planReplay(window, { path, recursive }, from, tree.appliedZxid, bytesMax)
    if (plan.kind === 'ahead')
      return {
        err: ErrorCode.ZXID_AHEAD,
        message: `fromZxid ${formatZxid(from.zxid)} is ahead of this server (${formatZxid(tree.appliedZxid)}): sync first, or it was never committed`,
      }
    watches.addPersistentWatch(path, connection.id, recursive)
    if (plan.kind === 'compacted')
      return { err: 0, result: { compacted: true, oldestZxid: plan.oldestZxid } }
    for (const event of plan.events)
      if (this.mayHearReplayed(connection, event))
        this.send(connection, { ...event, replayOf: xid })
    return { err: 0, result: {} }
  }

  // ---------------------------------------------------------------- applied txns

  /**
   * onApplied is called after each committed txn is applied to the tree: it sends the
   * txn's watch events, then answers what it settles (a write, a session opened or
   * ended) and whatever became answerable, before the next txn is applied — so a read
   * queued behind a session's write sees exactly the state after that write.
   */
  onApplied(txn: Txn, applied: ApplyResult): void {
    const notifications = this.host.watches.trigger(applied.changes, txn.zxid)
    if (notifications.length > 0) {
      // A node the txn deleted is judged by the ACL its change carries (see mayHear).
      const changeAcls = new Map<string, readonly Acl[]>()
      for (const change of applied.changes)
        if (change.acl !== undefined) changeAcls.set(change.path, change.acl)
      for (const { watcher, event } of notifications) {
        const target = this.connections.get(watcher)
        if (target !== undefined && this.mayHear(target, event.path, changeAcls.get(event.path)))
          this.send(target, event)
      }
    }
    const op = txn.op
    if (op.type === 'createSession') this.finishSessionCreate(txn)
    const key = requestKey(txn.sessionId, txn.xid)
    const waiting = this.awaitingApply.get(key)
    if (waiting !== undefined) {
      this.awaitingApply.delete(key)
      waiting.entry.reply = replyForWrite(waiting.entry.request, txn, applied)
      waiting.connection.writeBytesInFlight -= waiting.entry.frameBytes
      waiting.entry.replyZxid = txn.zxid
    }
    if (op.type === 'closeSession') this.endSession(op.sessionId, waiting?.connection)
    if (waiting !== undefined && this.connections.get(waiting.connection.id) === waiting.connection)
      this.pump(waiting.connection)
    if (this.awaitingBarrier.size > 0) {
      const barriers = [...this.awaitingBarrier]
      this.awaitingBarrier.clear()
      for (const connection of barriers)
        if (this.connections.get(connection.id) === connection) this.pump(connection)
    }
  }

  /**
   * mayHear tells whether a watcher may be told of a change to `path`: only with READ
   * on the node (CVE-2024-23944: a recursive watch must not reveal the paths, let alone
   * the existence, of nodes its session cannot read). A deleted node is judged by the
   * ACL it had (`deletedAcl`); a node gone without a known ACL tells nobody.
   */
  private mayHear(
    connection: ClientConnection,
    path: string,
    deletedAcl: readonly Acl[] | undefined,
  ): boolean {
    const acl = this.host.tree.getNode(path)?.acl ?? deletedAcl
    return acl !== undefined && aclPermits(acl, Perm.READ, connection.identities)
  }

  /** mayHearReplayed is mayHear for an event replayed from the change window, which kept each change's node ACL. */
  private mayHearReplayed(connection: ClientConnection, event: EventMessage): boolean {
    const change = this.host.window.changeAt(event.zxid, event.index)
    const same = change !== undefined && change.path === event.path && change.type === event.event
    return this.mayHear(connection, event.path, same ? change.acl : undefined)
  }

  private finishSessionCreate(txn: Txn): void {
    if (txn.op.type !== 'createSession') return
    const connection = this.awaitingSession.get(txn.op.sessionId)
    if (connection === undefined) return
    this.awaitingSession.delete(txn.op.sessionId)
    if (connection.phase !== 'creating-session') return
    this.bind(connection, txn.op.sessionId)
    this.host.logger.debug(
      { session: txn.op.sessionId.toString(16), timeoutMs: txn.op.timeoutMs },
      'session created',
    )
    this.send(connection, {
      type: 'connected',
      sessionId: txn.op.sessionId,
      password: txn.op.password,
      timeoutMs: txn.op.timeoutMs,
      serverId: this.host.id,
      zxid: txn.zxid,
      readOnly: false,
    })
  }

  /** endSession closes the connection of a session that expired (a client's own close is answered first). */
  private endSession(sessionId: SessionId, closer: ClientConnection | undefined): void {
    const owner = this.owners.get(sessionId)
    if (owner === undefined || owner === closer) return
    this.owners.delete(sessionId)
    this.close(owner, CloseCode.SESSION_ENDED, 'session expired')
  }
}

function truncateReason(reason: string): string {
  const bytes = Buffer.from(reason)
  if (bytes.length <= CLOSE_REASON_BYTES_MAX) return reason
  return (
    bytes
      .subarray(0, CLOSE_REASON_BYTES_MAX - 3)
      .toString()
      .replace(/\uFFFD$/, '') + '...'
  )
}
