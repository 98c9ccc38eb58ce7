/**
 * A scripted Conclave server for SDK tests: a real `ws` WebSocketServer on port 0 that
 * speaks the wire protocol through protocol/codec.ts. By default it accepts connects
 * (opening or resuming sessions it knows, refusing unknown ones with SESSION_EXPIRED),
 * answers pings, and answers each request with a plausible result at once. Tests
 * replace `onConnect` / `onRequest`, hold replies, push events, send garbage, and drop
 * connections, then look at everything the client sent.
 */
import { WebSocketServer, type WebSocket } from 'ws'
import {
  ErrorCode,
  decodeClientMessage,
  encodeServerMessage,
  type ClientMessage,
  type ConnectMessage,
  type Request,
  type RequestMessage,
  type ServerMessage,
  type Stat,
  type WatchEventType,
} from '../../../protocol/index.js'
import { waitFor } from '../../helpers/wait.js'

/** stat builds a Stat with the given fields over zeros. */
export function stat(fields: Partial<Stat> = {}): Stat {
  return {
    czxid: 0n,
    mzxid: 0n,
    pzxid: 0n,
    ctime: 0,
    mtime: 0,
    version: 0,
    cversion: 0,
    aversion: 0,
    ephemeralOwner: 0n,
    dataLength: 0,
    numChildren: 0,
    ...fields,
  }
}

/** ConnectDecision is what `onConnect` may answer: accept, refuse, or say nothing (hang). */
export type ConnectDecision =
  | { accept: true; sessionId?: bigint; timeoutMs?: number }
  | { refuse: number; message?: string }
  | 'hang'

/** FakeConnection is one client connection as the fake server sees it. */
export class FakeConnection {
  /** received lists every decoded client message on this connection, in order. */
  readonly received: ClientMessage[] = []
  /** receivedAtMs holds the arrival time of each message in `received`. */
  readonly receivedAtMs: number[] = []
  /** closedAtMs is when the connection ended (either side), once it has. */
  closedAtMs: number | undefined
  /** sessionId is the session this connection serves once accepted. */
  sessionId = 0n
  closed = false

  constructor(
    readonly socket: WebSocket,
    private readonly server: FakeServer,
  ) {}

  /** requests lists the request messages received so far. */
  get requests(): RequestMessage[] {
    return this.received.filter((m): m is RequestMessage => m.type === 'request')
  }

  /** pings counts the pings received so far. */
  get pings(): number {
    return this.received.filter((m) => m.type === 'ping').length
  }

  /** send encodes and sends one server message. */
  send(message: ServerMessage): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(encodeServerMessage(message))
  }

  /** sendRaw sends bytes or text as they are (for malformed-frame tests). */
  sendRaw(data: Uint8Array | string): void {
    this.socket.send(data)
  }

  /** reply answers a request (err 0 unless given). */
  reply(
    xid: number,
    result: unknown = {},
    options: { err?: number; message?: string; zxid?: bigint } = {},
  ): void {
    const zxid = options.zxid ?? this.server.zxid
    const err = options.err ?? 0
    this.send({
      type: 'reply',
      xid,
      zxid,
      err,
      ...(err === 0
        ? { result: result as never }
        : {
            message: options.message ?? 'failed',
            ...(result === undefined ? {} : { result: result as never }),
          }),
    })
  }

  /** event pushes a watch event; without a zxid it is a new txn's (the server's zxid moves on, as a real one's would). */
  event(event: WatchEventType, path: string, zxid?: bigint, index = 0): void {
    if (zxid === undefined) zxid = this.server.zxid += 1n
    else if (zxid > this.server.zxid) this.server.zxid = zxid
    this.send({ type: 'event', event, path, zxid, index })
  }

  /** drop ends the connection abruptly (like a crash or a cut cable). */
  drop(): void {
    this.socket.terminate()
  }

  /** close ends the connection with a close frame. */
  close(code = 1000, reason = ''): void {
    this.socket.close(code, reason)
  }
}

/** FakeServer is the scripted server. */
export class FakeServer {
  /** connections lists every connection ever made, oldest first. */
  readonly connections: FakeConnection[] = []
  /** sessions maps the sessions this server considers alive to their passwords. */
  readonly sessions = new Map<bigint, Uint8Array>()
  /** zxid is the zxid put on replies and pongs unless a test says otherwise. */
  zxid = 0n
  /** grantTimeoutMs overrides the session timeout the client asked for. */
  grantTimeoutMs: number | undefined
  /** answerPings: false makes the server silent to pings (a hung server). */
  answerPings = true
  /** holdReplies: true keeps requests unanswered until `releaseHeld()`. */
  holdReplies = false
  /** serverId goes in `connected`. */
  serverId = 7
  private readonly held: Array<{ conn: FakeConnection; message: RequestMessage }> = []
  private nextSessionId = 0x100n

  /** onConnect decides a connect; default: accept known or new sessions, refuse unknown ones. */
  onConnect: (conn: FakeConnection, message: ConnectMessage) => ConnectDecision = (
    _conn,
    message,
  ) =>
    message.sessionId === 0n || this.sessions.has(message.sessionId)
      ? { accept: true }
      : { refuse: ErrorCode.SESSION_EXPIRED, message: 'session expired' }

  /** onRequest answers a request; default: `defaultReply`. */
  onRequest: (conn: FakeConnection, message: RequestMessage) => void = (conn, message) => {
    conn.reply(message.xid, defaultResult(message.request))
    if (message.request.op === 'closeSession') {
      // Like the real server: the session ends, then the connection (close code SESSION_ENDED).
      this.sessions.delete(conn.sessionId)
      conn.close(4001, 'session closed')
    }
  }

  private constructor(private readonly wss: WebSocketServer) {
    wss.on('connection', (socket) => this.accept(socket))
  }

  /** start listens on a free port. */
  static async start(): Promise<FakeServer> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve)
      wss.once('error', reject)
    })
    return new FakeServer(wss)
  }

  /** url is the ws:// address clients connect to. */
  get url(): string {
    const address = this.wss.address()
    if (typeof address === 'string' || address === null) throw new Error('not listening')
    return `ws://127.0.0.1:${address.port}`
  }

  /** last is the newest connection. */
  get last(): FakeConnection {
    const conn = this.connections.at(-1)
    if (conn === undefined) throw new Error('no connection yet')
    return conn
  }

  /** requests lists every request on every connection, in arrival order per connection. */
  get requests(): RequestMessage[] {
    return this.connections.flatMap((c) => c.requests)
  }

  /** waitForConnections resolves once `count` connections have been accepted (sent `connected`). */
  async waitForAccepted(count: number, timeoutMs = 5000): Promise<FakeConnection> {
    await waitFor(() => this.connections.filter((c) => c.sessionId !== 0n).length >= count, {
      timeoutMs,
      what: `${count} accepted connections`,
    })
    return this.connections.filter((c) => c.sessionId !== 0n)[count - 1]!
  }

  /** waitForRequests resolves with the requests once at least `count` arrived (optionally of one op). */
  async waitForRequests(
    count: number,
    op?: Request['op'],
    timeoutMs = 5000,
  ): Promise<RequestMessage[]> {
    const matching = () => this.requests.filter((r) => op === undefined || r.request.op === op)
    await waitFor(() => matching().length >= count, {
      timeoutMs,
      what: `${count} ${op ?? ''} requests`,
    })
    return matching()
  }

  /** releaseHeld answers every held request in arrival order, with `answer` or the default. */
  releaseHeld(answer?: (conn: FakeConnection, message: RequestMessage) => void): void {
    for (const { conn, message } of this.held.splice(0)) (answer ?? this.onRequest)(conn, message)
  }

  /** heldCount is the number of requests held unanswered. */
  get heldCount(): number {
    return this.held.length
  }

  /** expire forgets a session, so a resume is refused with SESSION_EXPIRED. */
  expire(sessionId: bigint): void {
    this.sessions.delete(sessionId)
  }

  /** dropAll terminates every open connection. */
  dropAll(): void {
    for (const conn of this.connections) if (!conn.closed) conn.drop()
  }

  /** stop closes every connection and stops listening. */
  async stop(): Promise<void> {
    this.dropAll()
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
  }

  private accept(socket: WebSocket): void {
    const conn = new FakeConnection(socket, this)
    this.connections.push(conn)
    socket.on('close', () => {
      conn.closed = true
      conn.closedAtMs = Date.now()
    })
    socket.on('message', (data: Buffer) => {
      const decoded = decodeClientMessage(new Uint8Array(data))
      if (!decoded.ok) throw new Error(`client sent a malformed frame: ${decoded.error.message}`)
      conn.received.push(decoded.message)
      conn.receivedAtMs.push(Date.now())
      this.handle(conn, decoded.message)
    })
  }

  private handle(conn: FakeConnection, message: ClientMessage): void {
    if (message.type === 'connect') return this.handshake(conn, message)
    if (message.type === 'ping') {
      if (this.answerPings) conn.send({ type: 'pong', zxid: this.zxid })
      return
    }
    if (this.holdReplies) this.held.push({ conn, message })
    else this.onRequest(conn, message)
  }

  private handshake(conn: FakeConnection, message: ConnectMessage): void {
    const decision = this.onConnect(conn, message)
    if (decision === 'hang') return
    if ('refuse' in decision) {
      conn.send({
        type: 'connectRefused',
        code: decision.refuse,
        message: decision.message ?? 'refused',
      })
      conn.close(1000, 'refused')
      return
    }
    const sessionId =
      decision.sessionId ?? (message.sessionId !== 0n ? message.sessionId : this.nextSessionId++)
    const password =
      this.sessions.get(sessionId) ?? new Uint8Array(16).fill(Number(sessionId % 251n))
    this.sessions.set(sessionId, password)
    conn.sessionId = sessionId
    const timeoutMs = decision.timeoutMs ?? this.grantTimeoutMs ?? message.timeoutMs
    conn.send({
      type: 'connected',
      sessionId,
      password,
      timeoutMs,
      serverId: this.serverId,
      zxid: this.zxid,
      readOnly: false,
    })
  }
}

/** defaultResult is a plausible success result for a request. */
export function defaultResult(request: Request): unknown {
  switch (request.op) {
    case 'create':
      return { path: request.path, stat: stat() }
    case 'get':
      return { data: new TextEncoder().encode(`data of ${request.path}`), stat: stat() }
    case 'exists':
      return { stat: stat() }
    case 'set':
      return { stat: stat({ version: 1 }) }
    case 'children':
      return request.withStat === true
        ? { children: ['a', 'b'], stat: stat({ numChildren: 2 }) }
        : { children: ['a', 'b'] }
    case 'multi':
      return {
        results: request.ops.map((o) => ({
          op: o.op,
          err: 0,
          ...(o.op === 'create' ? { path: o.path } : {}),
        })),
      }
    case 'getEphemerals':
      return { paths: [] }
    case 'childCount':
      return { count: 0 }
    case 'getAcl':
      return { acl: [], stat: stat() }
    case 'setAcl':
      return { stat: stat({ aversion: 1 }) }
    case 'delete':
    case 'auth':
    case 'sync':
    case 'addWatch':
    case 'removeWatches':
    case 'setWatches':
    case 'closeSession':
      return {}
  }
}
