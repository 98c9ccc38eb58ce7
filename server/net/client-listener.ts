/**
 * ClientListener: the client port. One HTTP server carries both the WebSocket
 * endpoint for clients (binary msgpack frames, one message each) and a small HTTP
 * surface: `GET /health`, `GET /status`, `GET /metrics` (Prometheus text; /status and
 * /metrics follow the admin gate) and the web console under `GET /ui/` (static files;
 * with `adminAccess: loopback` it answers this host only, as /status does).
 *
 * The listener knows nothing about sessions or requests: it hands frames to its
 * handlers and carries out sends and closes. A frame over `frameBytesMax` closes the
 * connection with 1009 and a reason naming the limit. It bounds connections, in total
 * and per client address: one over either limit is closed at once with 1013 and a
 * reason naming the limit. It hands over at most one frame per connection per
 * event-loop turn, so a client pipelining thousands of small requests cannot hold the
 * loop (heartbeats, other clients) for the length of a whole socket read.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import net, { type AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { WebSocketServer, type WebSocket, type RawData } from 'ws'
import type { Logger } from 'pino'
import { CloseCode } from '../../protocol/index.js'
import { CONSOLE_HEADERS, type ConsoleAssets } from './console-assets.js'
import { toJson } from './json.js'
import type { TlsMaterial, TlsPem } from './tls-material.js'

/** ClientSocket is one client connection as the runtime sees it. */
export interface ClientSocket {
  readonly id: number
  readonly remoteAddress: string
  /**
   * certificate is the client certificate verified against the client CA when the
   * client port speaks TLS and the client sent one (clientCertAuth 'request' or
   * 'require'); undefined otherwise. The ACL layer maps it to an `x509` identity.
   */
  readonly certificate?: VerifiedClientCertificate
  /** send queues one frame; frames go out in the order sent. Sending on a closed socket is a no-op. */
  send(frame: Uint8Array): void
  /** close ends the connection with a WebSocket close code and a short reason. */
  close(code: number, reason: string): void
  /** pause stops reading frames from this client (backpressure); resume starts again. */
  pause(): void
  resume(): void
  /** bufferedBytes is how many bytes sent to this client have not reached the kernel yet. */
  bufferedBytes(): number
  /** onDrained calls `callback` once, when bufferedBytes is at most `bytes` (replacing any earlier wait). */
  onDrained(bytes: number, callback: () => void): void
}

/** VerifiedClientCertificate is what a verified client certificate says about its holder. */
export interface VerifiedClientCertificate {
  /** commonName is the subject's CN ('' if it has none): the `x509` identity, as etcd and ZooKeeper use it. */
  commonName: string
  /** subject is the whole subject as `CN=...,O=...` (attributes in certificate order). */
  subject: string
  /** fingerprint256 is the certificate's SHA-256 fingerprint (colon-separated hex). */
  fingerprint256: string
}

/** ClientTlsOptions make the client port speak TLS only. */
export interface ClientTlsOptions {
  material: TlsMaterial
  /** clientCertAuth: 'none' asks for no certificate, 'request' verifies one if sent, 'require' refuses a client without one. */
  clientCertAuth: 'none' | 'request' | 'require'
}

/** AdminGate restricts the admin endpoints: 'loopback' to this host, 'token' to requests with `authorization: Bearer <token>`. */
export interface AdminGate {
  access: 'open' | 'loopback' | 'token'
  /** token is the admin token ('token' access). */
  token?: Uint8Array
}

/** HttpReply is what an HTTP endpoint answers. */
export interface HttpReply {
  status: number
  body: unknown
}

/** TextReply is what a text endpoint answers (GET /metrics). */
export interface TextReply {
  contentType: string
  text: string
}

/** ListenerRefusal names a limit the listener itself enforces: connections (1013) or the frame size (1009). */
export type ListenerRefusal = 'connections' | 'frame_too_large'

/** ClientListenerHandlers receive connection events and answer the HTTP endpoints. */
export interface ClientListenerHandlers {
  onOpen(socket: ClientSocket): void
  onFrame(socket: ClientSocket, frame: Uint8Array): void
  onClose(socket: ClientSocket, code: number, reason: string): void
  health(): HttpReply
  status(): HttpReply
  /** metrics answers GET /metrics; without it the endpoint does not exist (404). */
  metrics?(): Promise<TextReply>
  /** onRefused hears of each connection refused or closed over a listener limit. */
  onRefused?(kind: ListenerRefusal): void
}

/** ClientListenerOptions: where to listen, the largest frame accepted and the connection limits. */
export interface ClientListenerOptions {
  host: string
  port: number
  frameBytesMax: number
  /** maxConnections bounds open client connections in total. */
  maxConnections: number
  /** maxConnectionsPerAddress bounds open client connections from one IP address. */
  maxConnectionsPerAddress: number
  /** requestDeadlineMs bounds the time from a TCP accept to a complete HTTP request (default REQUEST_DEADLINE_MS). */
  requestDeadlineMs?: number
  /** admin says who may read /status (default: anyone); /health is always open. */
  admin?: AdminGate
  /** tls, when set, makes the port wss:// and https:// only; plain-text requests get a 400 naming the problem. */
  tls?: ClientTlsOptions
  /** console is the web console's files, served under /ui/; undefined answers /ui/ with a 404 saying it is not built. */
  console?: ConsoleAssets
  /**
   * memberOrigins are the web origins (`http://host:clientPort`) of the ensemble's
   * members: a console page loaded from one of them may read this member's /status and
   * /health (CORS), so it can show the whole ensemble. Other origins get no CORS headers.
   */
  memberOrigins?: readonly string[]
}

/** REFUSED_CLOSE_GRACE_MS is how long a refused connection gets to answer its close before it is cut. */
const REFUSED_CLOSE_GRACE_MS = 1000

/**
 * REQUEST_DEADLINE_MS is how long a TCP connection to the client port may stay without
 * a complete HTTP request (a WebSocket upgrade or a GET): Node's HTTP server leaves a
 * silent or trickling socket open for ever, and those are not WebSockets the connection
 * limits count.
 */
export const REQUEST_DEADLINE_MS = 10_000

/** TCP_CONNECTIONS_HEADROOM is how many TCP connections beyond maxConnections the port takes (HTTP /status, refusals in progress). */
const TCP_CONNECTIONS_HEADROOM = 64

/** ClientListener owns the client port. Create it with `ClientListener.listen`. */
export class ClientListener {
  private nextSocketId = 1
  private readonly sockets = new Set<WebSocket>()
  /** Open connections per client address. */
  private readonly perAddress = new Map<string, number>()

  private constructor(
    /** listening is the server bound to the port: httpServer itself, or the TLS sniffer in front of it. */
    private readonly listening: net.Server,
    private readonly httpServer: http.Server,
    private readonly wsServer: WebSocketServer,
    private readonly handlers: ClientListenerHandlers,
    private readonly logger: Logger,
    private readonly options: ClientListenerOptions,
  ) {}

  /** listen opens the client port and resolves once it accepts connections. */
  static async listen(
    options: ClientListenerOptions,
    handlers: ClientListenerHandlers,
    logger: Logger,
  ): Promise<ClientListener> {
    const tlsOptions = options.tls
    const httpServer: http.Server =
      tlsOptions === undefined
        ? http.createServer()
        : https.createServer({
            ...secureOptions(tlsOptions.material.current, tlsOptions.clientCertAuth),
            handshakeTimeout: options.requestDeadlineMs ?? REQUEST_DEADLINE_MS,
          })
    const listening =
      tlsOptions === undefined
        ? httpServer
        : plainTextRefuser(
            httpServer as https.Server,
            options.requestDeadlineMs ?? REQUEST_DEADLINE_MS,
          )
    if (tlsOptions !== undefined) {
      const server = httpServer as https.Server
      tlsOptions.material.onChange((pem) =>
        server.setSecureContext(secureOptions(pem, tlsOptions.clientCertAuth)),
      )
      server.on('tlsClientError', (err) =>
        logger.debug({ err: err.message }, 'TLS handshake with a client failed'),
      )
    }
    // allowSynchronousEvents: false makes ws hand over one message per turn instead of
    // every message of a socket read (up to 32 reads of 64 KiB in one libuv callback,
    // ~50k pipelined requests held the loop for a second). Handing over a socket's
    // share per turn and pausing it was tried (it halves the write syscalls of a
    // pipelining client) but doubled the loop lag the hostile-client tests measure.
    const wsServer = new WebSocketServer({
      noServer: true,
      maxPayload: options.frameBytesMax,
      perMessageDeflate: false,
      allowSynchronousEvents: false,
    })
    const listener = new ClientListener(listening, httpServer, wsServer, handlers, logger, options)
    // Raw TCP is bounded too: beyond this the kernel-accepted socket is closed at once.
    listening.maxConnections = options.maxConnections + TCP_CONNECTIONS_HEADROOM
    const deadlines = new WeakMap<object, NodeJS.Timeout>()
    // With TLS the request arrives on the TLS socket, made once the handshake is done.
    httpServer.on(
      tlsOptions === undefined ? 'connection' : 'secureConnection',
      (socket: net.Socket) => {
        const deadline = setTimeout(
          () => socket.destroy(),
          options.requestDeadlineMs ?? REQUEST_DEADLINE_MS,
        )
        deadline.unref()
        deadlines.set(socket, deadline)
        socket.once('close', () => clearTimeout(deadline))
      },
    )
    const requestArrived = (socket: object) => clearTimeout(deadlines.get(socket))
    httpServer.on('request', (req, res) => {
      requestArrived(req.socket)
      listener.onHttpRequest(req, res)
    })
    httpServer.on('upgrade', (req, socket, head) => {
      requestArrived(socket)
      socket.on('error', () => socket.destroy())
      const address = normalizeAddress(req.socket.remoteAddress ?? '')
      const refusal = listener.refusalFor(address)
      const certificate = verifiedCertificate(req.socket)
      if (tlsOptions !== undefined && certificate === undefined && sentBadCertificate(req.socket))
        return void socket.destroy()
      wsServer.handleUpgrade(req, socket, head, (ws) =>
        refusal === undefined
          ? listener.onWebSocket(ws, socket, address, certificate)
          : listener.refuse(ws, refusal),
      )
    })
    httpServer.on('clientError', (_err, socket) => socket.destroy())
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject)
      listening.listen(options.port, options.host, () => {
        listening.off('error', reject)
        resolve()
      })
    })
    return listener
  }

  /** port is the TCP port actually bound (useful with port 0). */
  get port(): number {
    return (this.listening.address() as AddressInfo).port
  }

  /** connectionCount is the number of open client WebSockets. */
  get connectionCount(): number {
    return this.sockets.size
  }

  /** close stops accepting, closes every client with 1001, and resolves when the port is released. */
  async close(): Promise<void> {
    for (const ws of this.sockets) ws.close(CloseCode.SERVER_SHUTDOWN, 'server shutting down')
    const closed = new Promise<void>((resolve) => this.listening.close(() => resolve()))
    if (this.listening !== this.httpServer) this.httpServer.close()
    // Give polite closes a moment, then cut whatever is left so shutdown is bounded.
    const cut = setTimeout(() => {
      for (const ws of this.sockets) ws.terminate()
      this.httpServer.closeAllConnections()
    }, 500)
    await closed
    clearTimeout(cut)
    this.wsServer.close()
  }

  private onHttpRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const metrics = this.handlers.metrics?.bind(this.handlers)
    const cors = this.corsHeaders(req, path)
    if (req.method === 'OPTIONS' && cors !== undefined) {
      // A console page on another member asking whether it may send the admin token.
      res.writeHead(204, {
        ...cors,
        'access-control-allow-methods': 'GET',
        'access-control-allow-headers': 'authorization',
        'access-control-max-age': '600',
      })
      return void res.end()
    }
    let reply: HttpReply
    if (req.method !== 'GET') reply = { status: 405, body: { error: 'only GET is supported' } }
    else if (path === '/ui' || path.startsWith('/ui/'))
      return void this.serveConsole(req, res, path)
    else if (path === '/health') reply = this.handlers.health()
    else if (path === '/status') reply = this.adminRefusal(req) ?? this.handlers.status()
    else if (path === '/metrics' && metrics !== undefined) {
      const refusal = this.adminRefusal(req)
      if (refusal === undefined) return void this.answerText(res, metrics)
      reply = refusal
    } else
      reply = {
        status: 404,
        body: {
          error: `no such endpoint: ${path}`,
          endpoints: ['/health', '/status', ...(metrics === undefined ? [] : ['/metrics']), '/ui/'],
        },
      }
    answerJson(res, reply, cors)
  }

  /**
   * corsHeaders lets a console page served by another member of the ensemble read
   * /status and /health: only those two paths, only for the members' own origins.
   */
  private corsHeaders(req: http.IncomingMessage, path: string): Record<string, string> | undefined {
    const origin = req.headers.origin
    if (origin === undefined || (path !== '/status' && path !== '/health')) return undefined
    if (!(this.options.memberOrigins ?? []).includes(origin)) return undefined
    return { 'access-control-allow-origin': origin, vary: 'origin' }
  }

  /**
   * serveConsole answers the web console's files. They hold no data (the page reads
   * /status and the tree itself, each under its own rule), so they are open to anyone
   * who may reach the port, except with `adminAccess: loopback`, where the console is
   * for this host only, like /status. (With `token` a browser cannot send the token when
   * it loads a page: the page asks for it and sends it with its /status requests.)
   */
  private serveConsole(req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
    if (path === '/ui') {
      res.writeHead(301, { location: '/ui/' })
      return void res.end()
    }
    const refusal = this.options.admin?.access === 'loopback' ? this.adminRefusal(req) : undefined
    if (refusal !== undefined) return void answerJson(res, refusal)
    const assets = this.options.console
    if (assets === undefined) {
      return void answerJson(res, {
        status: 404,
        body: { error: 'the web console is not built here: run npm run build (dist/ui/)' },
      })
    }
    const asset = assets.get(path.slice('/ui/'.length))
    if (asset === undefined)
      return void answerJson(res, { status: 404, body: { error: `no such console file: ${path}` } })
    res.writeHead(200, { 'content-type': asset.contentType, ...CONSOLE_HEADERS })
    res.end(asset.body)
  }

  /** answerText answers with a text endpoint's reply, or a 500 naming the failure. */
  private answerText(res: http.ServerResponse, handler: () => Promise<TextReply>): void {
    handler().then(
      (reply) => {
        res.writeHead(200, { 'content-type': reply.contentType })
        res.end(reply.text)
      },
      (err: unknown) => {
        this.logger.error({ err }, 'GET /metrics failed')
        res.writeHead(500, { 'content-type': 'application/json' })
        res.end(toJson({ error: 'metrics could not be collected' }, 2) + '\n')
      },
    )
  }

  /** adminRefusal is the reply refusing an admin request, or undefined to serve it. */
  private adminRefusal(req: http.IncomingMessage): HttpReply | undefined {
    const gate = this.options.admin
    if (gate === undefined || gate.access === 'open') return undefined
    if (gate.access === 'loopback') {
      return isLoopback(normalizeAddress(req.socket.remoteAddress ?? ''))
        ? undefined
        : {
            status: 403,
            body: { error: 'admin endpoints answer this host only (adminAccess: loopback)' },
          }
    }
    return bearerMatches(req.headers.authorization, gate.token)
      ? undefined
      : {
          status: 401,
          body: {
            error:
              'admin endpoints need the admin token: authorization: Bearer <token> (adminAccess: token)',
          },
        }
  }

  /** refusalFor is the close reason for a new connection from `address` over a limit, or undefined to accept it. */
  refusalFor(address: string): string | undefined {
    const { maxConnections, maxConnectionsPerAddress } = this.options
    if (this.sockets.size >= maxConnections)
      return `too many connections: this member holds ${maxConnections} (maxConnections)`
    if ((this.perAddress.get(address) ?? 0) >= maxConnectionsPerAddress) {
      return `too many connections from your address: at most ${maxConnectionsPerAddress} (maxConnectionsPerAddress)`
    }
    return undefined
  }

  /** refuse closes a connection over a limit at once, and cuts it if its client does not answer the close. */
  refuse(ws: WebSocket, reason: string): void {
    this.handlers.onRefused?.('connections')
    ws.on('error', () => undefined)
    ws.close(CloseCode.TRY_AGAIN_LATER, reason)
    setTimeout(() => ws.terminate(), REFUSED_CLOSE_GRACE_MS).unref()
  }

  private onWebSocket(
    ws: WebSocket,
    stream: Duplex,
    remoteAddress: string,
    certificate: VerifiedClientCertificate | undefined,
  ): void {
    this.sockets.add(ws)
    this.perAddress.set(remoteAddress, (this.perAddress.get(remoteAddress) ?? 0) + 1)
    nameFrameLimitOnClose(ws, this.options.frameBytesMax, () =>
      this.handlers.onRefused?.('frame_too_large'),
    )
    let drained: { bytes: number; callback: () => void } | undefined
    // Called as each frame reaches the kernel: that is when bufferedAmount shrinks.
    const checkDrained = () => {
      if (drained !== undefined && ws.bufferedAmount <= drained.bytes) {
        const { callback } = drained
        drained = undefined
        callback()
      }
    }
    const socket: ClientSocket = {
      id: this.nextSocketId++,
      remoteAddress,
      certificate,
      send: (frame) => {
        if (ws.readyState !== ws.OPEN) return
        corkUntilNextTick(stream)
        ws.send(frame, checkDrained)
      },
      close: (code, reason) => ws.close(code, reason),
      pause: () => ws.pause(),
      resume: () => ws.resume(),
      bufferedBytes: () => ws.bufferedAmount,
      onDrained: (bytes, callback) => {
        drained = { bytes, callback }
        if (ws.bufferedAmount <= bytes) setImmediate(checkDrained)
      },
    }
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        ws.close(CloseCode.PROTOCOL_ERROR, 'binary msgpack frames only')
        return
      }
      this.handlers.onFrame(socket, toBytes(data))
    })
    ws.on('error', (err) =>
      this.logger.debug({ socket: socket.id, err: err.message }, 'client socket error'),
    )
    ws.on('close', (code, reason) => {
      drained = undefined
      this.sockets.delete(ws)
      const left = (this.perAddress.get(remoteAddress) ?? 1) - 1
      if (left > 0) this.perAddress.set(remoteAddress, left)
      else this.perAddress.delete(remoteAddress)
      this.handlers.onClose(socket, code, reason.toString())
    })
    this.handlers.onOpen(socket)
  }
}

/**
 * nameFrameLimitOnClose makes ws's own 1009 close (a frame over maxPayload, cut while it
 * is still arriving so it is never buffered whole) carry a reason naming the limit: ws
 * closes with the code alone, through the instance's `close`. `onLimit` hears of each.
 */
function nameFrameLimitOnClose(ws: WebSocket, frameBytesMax: number, onLimit: () => void): void {
  const close = ws.close.bind(ws)
  ws.close = (code?: number, reason?: string | Buffer) => {
    if (code === CloseCode.FRAME_TOO_LARGE) onLimit()
    return close(
      code,
      code === CloseCode.FRAME_TOO_LARGE && (reason === undefined || reason.length === 0)
        ? `frame exceeds the limit of ${frameBytesMax} bytes`
        : reason,
    )
  }
}

/** answerJson writes an endpoint's reply as JSON, with any extra headers. */
function answerJson(
  res: http.ServerResponse,
  reply: HttpReply,
  headers: Record<string, string> = {},
): void {
  res.writeHead(reply.status, { 'content-type': 'application/json', ...headers })
  res.end(toJson(reply.body, 2) + '\n')
}

/** TLS_RECORD_HANDSHAKE is the first byte of a TLS ClientHello record. */
const TLS_RECORD_HANDSHAKE = 0x16

/** PLAIN_TEXT_REFUSAL answers an HTTP or ws:// request sent to the TLS port, so the caller sees why. */
const PLAIN_TEXT_REFUSAL =
  'HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: text/plain\r\n\r\n' +
  'this conclave client port speaks TLS only: use wss:// (SDK) or https:// (HTTP)\n'

/**
 * plainTextRefuser is the TCP server in front of a TLS client port: it looks at a
 * connection's first byte and hands a TLS handshake to `tlsServer`; anything else
 * (plain HTTP, ws://) gets a 400 naming the problem instead of a bare reset. A socket
 * that sends nothing is cut after `silenceMs`.
 */
function plainTextRefuser(tlsServer: https.Server, silenceMs: number): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => socket.destroy())
    const silence = setTimeout(() => socket.destroy(), silenceMs)
    silence.unref()
    socket.once('close', () => clearTimeout(silence))
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(silence)
      socket.pause()
      socket.unshift(chunk)
      if (chunk[0] === TLS_RECORD_HANDSHAKE) tlsServer.emit('connection', socket)
      else socket.end(PLAIN_TEXT_REFUSAL)
    })
  })
}

/** secureOptions are the TLS server options for the client port from the current PEM. */
function secureOptions(pem: TlsPem, clientCertAuth: ClientTlsOptions['clientCertAuth']) {
  return {
    cert: pem.cert,
    key: pem.key,
    ca: pem.clientCa,
    requestCert: clientCertAuth !== 'none',
    // 'request' lets a client without a certificate in; one whose certificate does not
    // verify is still cut at the upgrade (sentBadCertificate).
    rejectUnauthorized: clientCertAuth === 'require',
  }
}

/** sentBadCertificate tells whether a TLS client sent a certificate that did not verify. */
function sentBadCertificate(socket: net.Socket): boolean {
  const tlsSocket = socket as TLSSocket
  if (tlsSocket.encrypted !== true || tlsSocket.authorized) return false
  const cert = tlsSocket.getPeerCertificate()
  return cert !== null && Object.keys(cert).length > 0
}

/** verifiedCertificate is the client certificate of a TLS socket, if one was sent and verified. */
function verifiedCertificate(socket: net.Socket): VerifiedClientCertificate | undefined {
  const tlsSocket = socket as TLSSocket
  if (tlsSocket.encrypted !== true || !tlsSocket.authorized) return undefined
  const cert = tlsSocket.getPeerCertificate()
  if (cert === null || Object.keys(cert).length === 0) return undefined
  const subject = cert.subject as unknown as Record<string, string | string[]> | undefined
  const parts = Object.entries(subject ?? {}).map(
    ([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : value}`,
  )
  const cn = subject?.CN
  return {
    commonName: Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? ''),
    subject: parts.join(','),
    fingerprint256: cert.fingerprint256,
  }
}

/** isLoopback tells whether a (normalized) client address is this host's loopback. */
export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.')
}

/** bearerMatches compares an Authorization header with the token in constant time. */
function bearerMatches(header: string | undefined, token: Uint8Array | undefined): boolean {
  if (token === undefined || header === undefined) return false
  const match = /^Bearer (.+)$/.exec(header.trim())
  if (match === null) return false
  const given = createHash('sha256').update(match[1]!).digest()
  const wanted = createHash('sha256').update(token).digest()
  return timingSafeEqual(given, wanted)
}

/** normalizeAddress folds IPv4-mapped IPv6 addresses into IPv4, so one client counts once. */
function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.')
    ? address.slice('::ffff:'.length)
    : address
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data)
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return data
}

/** corked marks the streams held corked until the end of the current tick. */
const corked = new WeakSet<Duplex>()

/**
 * corkUntilNextTick holds `stream`'s writes until the current tick ends, so the frames
 * sent to one client in one go (the replies a committed write releases behind it, a
 * txn's watch events, a replay) leave in one writev instead of one syscall each. ws
 * corks around a frame's header and payload too; corks nest.
 */
function corkUntilNextTick(stream: Duplex): void {
  if (corked.has(stream)) return
  corked.add(stream)
  stream.cork()
  process.nextTick(() => {
    corked.delete(stream)
    stream.uncork()
  })
}
