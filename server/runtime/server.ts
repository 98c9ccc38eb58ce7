/**
 * ConclaveServer: a standalone server. It owns the tree, the session table, the watch
 * registry and the txn builder, and drives them from the client listener and a tick
 * timer. This is the one place (with the rest of runtime/) where the pure modules meet
 * sockets, the clock and randomness.
 *
 * A write goes: frame -> decode -> TxnBuilder.prepare (against the pending state) ->
 * Replicator.propose -> committed -> DataTree.apply + SessionTable.apply -> watch events
 * sent -> the session's queue answers in order. Reads are answered from the tree when
 * they reach the head of their connection's queue, behind that session's pending writes.
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import {
  CloseCode,
  ErrorCode,
  epochOf,
  counterOf,
  PENDING_REQUESTS_PER_SESSION_MAX,
  PROTOCOL_VERSION,
  WRITE_OPS,
  decodeClientMessage,
  encodeServerMessage,
  errorCodeName,
  formatZxid,
  makeZxid,
  type ConnectMessage,
  type Request,
  type ServerMessage,
  type SessionId,
  type Txn,
  type Zxid,
} from '../../protocol/index.js'
import { DataTree } from '../tree/data-tree.js'
import { SessionTable } from '../sessions/session-table.js'
import { SessionIdGenerator } from '../sessions/session-ids.js'
import { WatchRegistry } from '../watches/watch-registry.js'
import { TxnBuilder } from '../requests/txn-builder.js'
import { answerRead } from '../requests/reads.js'
import { replyForWrite } from '../requests/write-reply.js'
import { ClientListener, type ClientSocket, type HttpReply } from '../net/client-listener.js'
import { ClientConnection, type QueuedRequest, type Reply } from './client-connection.js'
import { DurableReplicator } from './durable-replicator.js'
import { frameBytesMaxFor, type ServerConfig } from './config.js'
import { FileStorage } from '../storage/file-storage.js'
import { restoreStandalone, snapshotRequestOf } from '../storage/restore.js'

/** TxnHeader is what every prepared txn carries besides its op. */
interface TxnHeader {
  zxid: Zxid
  timeMs: number
  sessionId: SessionId
  xid: number
}

/** A fresh standalone server runs in epoch 1; the ensemble's election gives later epochs. */
const STANDALONE_EPOCH = 1

/** HANDSHAKE_TIMEOUT_MS is how long a new socket may take to send `connect`. */
const HANDSHAKE_TIMEOUT_MS = 10_000

/** CLOSE_REASON_BYTES_MAX is the WebSocket limit on a close reason. */
const CLOSE_REASON_BYTES_MAX = 123

/** ConclaveServer is one running standalone server. Create it with `ConclaveServer.start`. */
export class ConclaveServer {
  private readonly tree: DataTree
  private readonly sessions: SessionTable
  private readonly watches = new WatchRegistry()
  private readonly builder: TxnBuilder
  private readonly replicator: DurableReplicator
  private readonly sessionIds: SessionIdGenerator
  private readonly connections = new Map<number, ClientConnection>()
  /** The connection currently bound to each session. */
  private readonly owners = new Map<SessionId, ClientConnection>()
  /** Writes waiting for their txn to be applied, by zxid. */
  private readonly awaitingApply = new Map<Zxid, { connection: ClientConnection; entry: Extract<QueuedRequest, { kind: 'write' }> }>()
  /** Connections waiting for their createSession txn, by zxid. */
  private readonly awaitingSession = new Map<Zxid, ClientConnection>()
  /** Connections with barriers (sync) waiting for the tree to catch up. */
  private readonly awaitingBarrier = new Set<ClientConnection>()
  private listener: ClientListener | undefined
  private tickTimer: NodeJS.Timeout | undefined
  private tickCount = 0
  private readonly epoch: number
  private counter: number
  private stopped = false

  private constructor(
    private readonly config: ServerConfig,
    private readonly logger: Logger,
    private readonly storage: FileStorage,
    restored: { tree: DataTree; sessions: SessionTable },
  ) {
    this.tree = restored.tree
    this.sessions = restored.sessions
    this.builder = new TxnBuilder(this.tree, { dataBytesMax: config.maxDataBytes })
    this.sessionIds = new SessionIdGenerator(config.id, Date.now())
    const lastZxid = this.tree.appliedZxid
    this.epoch = Math.max(STANDALONE_EPOCH, epochOf(lastZxid))
    this.counter = epochOf(lastZxid) === this.epoch ? counterOf(lastZxid) : 0
    this.replicator = new DurableReplicator(storage, lastZxid, (error) => this.onStorageFailure(error))
    this.replicator.onCommit((txns) => this.applyCommitted(txns))
  }

  /**
   * start recovers the data directory, opens the client port and starts the tick timer.
   * A damaged or foreign data directory throws a StorageError whose message is for the operator.
   */
  static async start(config: ServerConfig, logger: Logger): Promise<ConclaveServer> {
    const { storage, recovered } = await FileStorage.open(config.dataDir, {
      createIfMissing: true,
      snapshotEveryTxns: config.snapshotEveryTxns,
    })
    const restored = restoreStandalone(recovered, {
      tickMs: config.tickMs,
      minTimeoutMs: config.minSessionTimeoutMs,
      maxTimeoutMs: config.maxSessionTimeoutMs,
    })
    logger.info(
      { dataDir: config.dataDir, zxid: formatZxid(restored.tree.appliedZxid), znodes: restored.tree.nodeCount, sessions: restored.sessions.size, snapshot: recovered.snapshot?.file, replayedTxns: recovered.txns.length },
      'recovered',
    )
    const server = new ConclaveServer(config, logger, storage, restored)
    try {
      server.listener = await ClientListener.listen(
        { host: config.host, port: config.clientPort, frameBytesMax: frameBytesMaxFor(config) },
        {
          onOpen: (socket) => server.onOpen(socket),
          onFrame: (socket, frame) => server.onFrame(socket, frame),
          onClose: (socket, code, reason) => server.onClose(socket, code, reason),
          health: () => server.health(),
          status: () => ({ status: 200, body: server.status() }),
        },
        logger,
      )
    } catch (err) {
      await storage.close()
      throw err
    }
    server.tickTimer = setInterval(() => server.tick(), config.tickMs)
    logger.info({ id: config.id, host: config.host, port: server.port, tickMs: config.tickMs }, 'listening')
    return server
  }

  /** port is the client port actually bound. */
  get port(): number {
    if (this.listener === undefined) throw new Error('server not started')
    return this.listener.port
  }

  /** stop closes every connection and the port. Sessions are not closed: they live in the data. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.tickTimer)
    await this.listener?.close()
    await this.replicator.drained()
    await this.storage.close()
    this.logger.info('stopped')
  }

  /** onStorageFailure stops a server whose disk failed: it must not answer anything it could not make durable. */
  private onStorageFailure(error: unknown): void {
    this.logger.fatal({ err: error }, 'cannot write the transaction log; stopping')
    process.exit(3)
  }

  /** maybeSnapshot starts a background (chunked, fuzzy) snapshot when enough txns were logged. */
  private maybeSnapshot(): void {
    if (!this.storage.snapshotDue || this.stopped) return
    const started = Date.now()
    this.storage.snapshot(snapshotRequestOf(this.tree, this.sessions)).then(
      (info) => this.logger.info({ file: info.file, zxid: formatZxid(info.zxid), znodes: info.nodes, ms: Date.now() - started }, 'snapshot written'),
      (error: unknown) => this.logger.error({ err: error }, 'snapshot failed; the log still holds everything'),
    )
  }

  /** status is what GET /status shows. */
  status(): Record<string, unknown> {
    return {
      id: this.config.id,
      role: 'standalone',
      zxid: formatZxid(this.tree.appliedZxid),
      zxidDecimal: this.tree.appliedZxid,
      sessions: this.sessions.size,
      znodes: this.tree.nodeCount,
      watches: this.watches.count(),
      connections: this.connections.size,
      digest: this.tree.digest(),
    }
  }

  private health(): HttpReply {
    return { status: 200, body: { ok: true, role: 'standalone', serving: !this.stopped } }
  }

  // ---------------------------------------------------------------- connections

  private onOpen(socket: ClientSocket): void {
    const connection = new ClientConnection(socket)
    this.connections.set(socket.id, connection)
    // A socket that never completes the handshake must not hold resources forever.
    setTimeout(() => {
      if (connection.phase === 'handshake' && this.connections.has(socket.id)) {
        this.close(connection, CloseCode.BAD_HANDSHAKE, 'no connect message in time')
      }
    }, HANDSHAKE_TIMEOUT_MS).unref()
  }

  private onClose(socket: ClientSocket, code: number, reason: string): void {
    const connection = this.connections.get(socket.id)
    if (connection === undefined) return
    this.connections.delete(socket.id)
    connection.phase = 'closing'
    this.watches.removeWatcher(connection.id)
    this.awaitingBarrier.delete(connection)
    if (this.owners.get(connection.sessionId) === connection) this.owners.delete(connection.sessionId)
    this.logger.debug({ connection: socket.id, session: connection.sessionId.toString(16), code, reason }, 'client disconnected')
  }

  private close(connection: ClientConnection, code: number, reason: string): void {
    connection.phase = 'closing'
    connection.socket.close(code, truncateReason(reason))
  }

  private send(connection: ClientConnection, message: ServerMessage): void {
    connection.socket.send(encodeServerMessage(message))
  }

  private onFrame(socket: ClientSocket, frame: Uint8Array): void {
    const connection = this.connections.get(socket.id)
    if (connection === undefined || connection.phase === 'closing') return
    const decoded = decodeClientMessage(frame)
    if (!decoded.ok) {
      if (decoded.xid !== undefined && connection.phase === 'open') {
        // A request we could read the xid of gets its error in its turn; the connection stays.
        connection.enqueue({ kind: 'answered', xid: decoded.xid, reply: { err: decoded.error.code, message: decoded.error.message } })
        this.pump(connection)
      } else {
        this.logger.debug({ connection: socket.id, reason: decoded.error.message }, 'refusing malformed frame')
        this.close(connection, CloseCode.PROTOCOL_ERROR, decoded.error.message)
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
        return this.onRequest(connection, message.xid, message.request)
      default: {
        const unreachable: never = message
        return unreachable
      }
    }
  }

  private onConnect(connection: ClientConnection, message: ConnectMessage): void {
    if (connection.phase !== 'handshake') {
      this.close(connection, CloseCode.BAD_HANDSHAKE, 'connect sent twice')
      return
    }
    if (message.protocolVersion !== PROTOCOL_VERSION) {
      return this.refuse(connection, ErrorCode.BAD_ARGUMENTS, `unsupported protocol version ${message.protocolVersion}; this server speaks ${PROTOCOL_VERSION}`)
    }
    if (message.lastZxidSeen > this.tree.appliedZxid) {
      return this.refuse(connection, ErrorCode.ZXID_AHEAD, `client has seen zxid ${formatZxid(message.lastZxidSeen)}, this server only ${formatZxid(this.tree.appliedZxid)}`)
    }
    if (message.sessionId === 0n) return this.createSession(connection, message)
    const session = this.sessions.get(message.sessionId)
    if (session === undefined || this.sessions.isClosing(message.sessionId)) {
      return this.refuse(connection, ErrorCode.SESSION_EXPIRED, `session 0x${message.sessionId.toString(16)} has expired`)
    }
    if (!this.sessions.passwordMatches(message.sessionId, message.password)) {
      return this.refuse(connection, ErrorCode.AUTH_FAILED, 'wrong session password')
    }
    this.bind(connection, message.sessionId)
    this.send(connection, {
      type: 'connected',
      sessionId: session.id,
      password: session.password,
      timeoutMs: session.timeoutMs,
      serverId: this.config.id,
      zxid: this.tree.appliedZxid,
      readOnly: false,
    })
  }

  private createSession(connection: ClientConnection, message: ConnectMessage): void {
    connection.phase = 'creating-session'
    const txn = this.prepareNext(0n, 0, (header) =>
      this.builder.prepareCreateSession(header, {
        sessionId: this.sessionIds.next(),
        timeoutMs: this.sessions.negotiateTimeoutMs(message.timeoutMs),
        password: randomBytes(16),
      }),
    )
    if (txn === null) return
    this.awaitingSession.set(txn.zxid, connection)
    this.replicator.propose(txn)
  }

  /** bind makes `connection` the owner of a session, closing any older connection that held it. */
  private bind(connection: ClientConnection, sessionId: SessionId): void {
    const previous = this.owners.get(sessionId)
    if (previous !== undefined && previous !== connection) {
      this.close(previous, CloseCode.SESSION_MOVED, 'session moved to another connection')
    }
    this.owners.set(sessionId, connection)
    connection.sessionId = sessionId
    connection.phase = 'open'
    this.sessions.touch(sessionId, this.tickCount)
  }

  private refuse(connection: ClientConnection, code: number, message: string): void {
    this.send(connection, { type: 'connectRefused', code, message })
    this.close(connection, CloseCode.SESSION_ENDED, `${errorCodeName(code) ?? code}: ${message}`)
  }

  private onPing(connection: ClientConnection): void {
    if (connection.phase !== 'open') return this.close(connection, CloseCode.BAD_HANDSHAKE, 'ping before connect')
    this.sessions.touch(connection.sessionId, this.tickCount)
    this.send(connection, { type: 'pong', zxid: this.tree.appliedZxid })
  }

  // ---------------------------------------------------------------- requests

  private onRequest(connection: ClientConnection, xid: number, request: Request): void {
    if (connection.phase !== 'open') return this.close(connection, CloseCode.BAD_HANDSHAKE, 'request before connect')
    const sessionId = connection.sessionId
    if (!this.sessions.has(sessionId) || this.sessions.isClosing(sessionId)) {
      connection.enqueue({ kind: 'answered', xid, reply: { err: ErrorCode.SESSION_EXPIRED, message: 'session has expired' } })
      return this.pump(connection)
    }
    this.sessions.touch(sessionId, this.tickCount)
    if (WRITE_OPS.has(request.op)) {
      const txn = this.prepareNext(sessionId, xid, (header) =>
        request.op === 'closeSession'
          ? this.builder.prepareCloseSession(header, sessionId)
          : this.builder.prepare(request as Parameters<TxnBuilder['prepare']>[0], header),
      )
      if (txn === null) return
      const entry = { kind: 'write' as const, xid, request, zxid: txn.zxid }
      connection.enqueue(entry)
      this.awaitingApply.set(txn.zxid, { connection, entry })
      this.replicator.propose(txn)
    } else if (request.op === 'sync' || (request.op === 'get' && request.linearizable === true)) {
      connection.enqueue({ kind: 'barrier', xid, request, zxid: this.replicator.lastProposedZxid })
      this.pump(connection)
    } else {
      connection.enqueue({ kind: 'read', xid, request })
      this.pump(connection)
    }
    this.applyBackpressure(connection)
  }

  /** applyBackpressure stops reading from a connection with too many requests in flight. */
  private applyBackpressure(connection: ClientConnection): void {
    if (!connection.paused && connection.pendingCount >= PENDING_REQUESTS_PER_SESSION_MAX) {
      connection.paused = true
      connection.socket.pause()
    } else if (connection.paused && connection.pendingCount < PENDING_REQUESTS_PER_SESSION_MAX / 2) {
      connection.paused = false
      connection.socket.resume()
    }
  }

  /** pump answers the connection's requests from the head while they are ready. */
  private pump(connection: ClientConnection): void {
    for (let entry = connection.peek(); entry !== undefined; entry = connection.peek()) {
      let reply: Reply
      let zxid = this.tree.appliedZxid
      if (entry.kind === 'answered') reply = entry.reply
      else if (entry.kind === 'read') reply = this.executeRead(connection, entry.request)
      else if (entry.kind === 'barrier') {
        if (this.tree.appliedZxid < entry.zxid) {
          this.awaitingBarrier.add(connection)
          break
        }
        reply = entry.request.op === 'sync' ? { err: 0, result: {} } : this.executeRead(connection, entry.request)
      } else {
        if (entry.reply === undefined) break
        reply = entry.reply
        zxid = entry.replyZxid ?? zxid
      }
      connection.shift()
      this.send(connection, { type: 'reply', xid: entry.xid, zxid, ...(reply as Omit<Reply, 'result'>), ...(reply.result === undefined ? {} : { result: reply.result as never }) })
      if (entry.kind === 'write' && entry.request.op === 'closeSession' && reply.err === 0) {
        this.close(connection, CloseCode.SESSION_ENDED, 'session closed')
        return
      }
    }
    this.applyBackpressure(connection)
  }

  /** executeRead answers a read and registers the watch it asked for, in one step. */
  private executeRead(connection: ClientConnection, request: Request): Reply {
    const watcher = connection.id
    switch (request.op) {
      case 'exists': {
        const reply = answerRead(this.tree, request, connection.sessionId)
        if (request.watch && reply.err === 0) {
          const stat = (reply.result as { stat: unknown }).stat
          if (stat === null) this.watches.addExistWatch(request.path, watcher)
          else this.watches.addDataWatch(request.path, watcher)
        }
        return reply
      }
      case 'get': {
        const reply = answerRead(this.tree, request, connection.sessionId)
        if (request.watch && reply.err === 0) this.watches.addDataWatch(request.path, watcher)
        return reply
      }
      case 'children': {
        const reply = answerRead(this.tree, request, connection.sessionId)
        if (request.watch && reply.err === 0) this.watches.addChildWatch(request.path, watcher)
        return reply
      }
      case 'getEphemerals':
      case 'childCount':
      case 'getAcl':
        return answerRead(this.tree, request, connection.sessionId)
      case 'addWatch':
        this.watches.addPersistentWatch(request.path, watcher, request.mode === 'persistentRecursive')
        return { err: 0, result: {} }
      case 'removeWatches':
        return this.watches.removeWatches(request.path, request.kind, watcher)
          ? { err: 0, result: {} }
          : { err: ErrorCode.NO_WATCHER, message: `no ${request.kind} watch on ${request.path}` }
      case 'setWatches': {
        const events = this.watches.setWatches(
          watcher,
          request,
          (path) => {
            const stat = this.tree.stat(path)
            return stat === null ? { exists: false, mzxid: 0n, pzxid: 0n } : { exists: true, mzxid: stat.mzxid, pzxid: stat.pzxid }
          },
          this.tree.appliedZxid,
        )
        for (const event of events) this.send(connection, event)
        return { err: 0, result: {} }
      }
      default:
        return { err: ErrorCode.UNIMPLEMENTED, message: `op '${request.op}' is not a read` }
    }
  }

  // ---------------------------------------------------------------- commit and apply

  /**
   * prepareNext builds the next txn with the next zxid and the clock's time. The zxid is
   * only used up when `build` returns a txn, so the sequence stays gapless.
   */
  private prepareNext(sessionId: SessionId, xid: number, build: (header: TxnHeader) => Txn | null): Txn | null {
    const header: TxnHeader = { zxid: makeZxid(this.epoch, this.counter + 1), timeMs: Date.now(), sessionId, xid }
    const txn = build(header)
    if (txn !== null) this.counter += 1
    return txn
  }

  /**
   * applyCommitted applies committed txns in order. After each txn it sends that txn's
   * watch events and then answers whatever became answerable, before the next txn is
   * applied: a read queued behind a session's write sees exactly the state after that
   * write, never the effect of a later write of the same session (per-session FIFO).
   */
  private applyCommitted(txns: Txn[]): void {
    for (const txn of txns) {
      const applied = this.tree.apply(txn)
      this.sessions.apply(txn)
      this.builder.onApplied(txn.zxid)
      for (const { watcher, event } of this.watches.trigger(applied.changes, txn.zxid)) {
        const target = this.connections.get(watcher)
        if (target !== undefined) this.send(target, event)
      }
      const waiting = this.awaitingApply.get(txn.zxid)
      if (waiting !== undefined) {
        this.awaitingApply.delete(txn.zxid)
        waiting.entry.reply = replyForWrite(waiting.entry.request, txn, applied)
        waiting.entry.replyZxid = txn.zxid
      }
      if (txn.op.type === 'createSession') this.finishSessionCreate(txn)
      if (txn.op.type === 'closeSession') this.endSession(txn.op.sessionId, waiting?.connection)
      if (waiting !== undefined && this.connections.has(waiting.connection.id)) this.pump(waiting.connection)
      if (this.awaitingBarrier.size > 0) {
        const barriers = [...this.awaitingBarrier]
        this.awaitingBarrier.clear()
        for (const connection of barriers) if (this.connections.has(connection.id)) this.pump(connection)
      }
    }
    this.maybeSnapshot()
  }

  private finishSessionCreate(txn: Txn): void {
    if (txn.op.type !== 'createSession') return
    const connection = this.awaitingSession.get(txn.zxid)
    if (connection === undefined) return
    this.awaitingSession.delete(txn.zxid)
    if (connection.phase !== 'creating-session') return
    this.bind(connection, txn.op.sessionId)
    this.logger.debug({ session: txn.op.sessionId.toString(16), timeoutMs: txn.op.timeoutMs }, 'session created')
    this.send(connection, {
      type: 'connected',
      sessionId: txn.op.sessionId,
      password: txn.op.password,
      timeoutMs: txn.op.timeoutMs,
      serverId: this.config.id,
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

  // ---------------------------------------------------------------- ticks

  private tick(): void {
    this.tickCount += 1
    for (const sessionId of this.sessions.expire(this.tickCount)) {
      this.logger.info({ session: sessionId.toString(16) }, 'session expired')
      const txn = this.prepareNext(sessionId, 0, (header) => this.builder.prepareCloseSession(header, sessionId))
      if (txn !== null) this.replicator.propose(txn)
    }
    if (this.tickCount % this.config.reapEveryTicks === 0) this.reap()
  }

  /** reap deletes empty containers and expired TTL nodes through ordinary delete txns. */
  private reap(): void {
    const nowMs = Date.now()
    for (const path of this.tree.reapable(nowMs, 1000)) {
      const txn = this.prepareNext(0n, 0, (header) => this.builder.prepareReap(header, path))
      if (txn === null) continue
      this.logger.debug({ path }, 'reaping')
      this.replicator.propose(txn)
    }
  }
}

function truncateReason(reason: string): string {
  const bytes = Buffer.from(reason)
  if (bytes.length <= CLOSE_REASON_BYTES_MAX) return reason
  return bytes.subarray(0, CLOSE_REASON_BYTES_MAX - 3).toString().replace(/\uFFFD$/, '') + '...'
}
