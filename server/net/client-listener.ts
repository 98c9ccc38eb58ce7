/**
 * ClientListener: the client port. One HTTP server carries both the WebSocket
 * endpoint for clients (binary msgpack frames, one message each) and a small HTTP
 * surface: `GET /health` and `GET /status`.
 *
 * The listener knows nothing about sessions or requests: it hands frames to its
 * handlers and carries out sends and closes. A frame over `frameBytesMax` closes the
 * connection with 1009 and a reason naming the limit.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket, type RawData } from 'ws'
import type { Logger } from 'pino'
import { CloseCode } from '../../protocol/index.js'
import { toJson } from './json.js'

/** ClientSocket is one client connection as the runtime sees it. */
export interface ClientSocket {
  readonly id: number
  readonly remoteAddress: string
  /** send queues one frame; frames go out in the order sent. Sending on a closed socket is a no-op. */
  send(frame: Uint8Array): void
  /** close ends the connection with a WebSocket close code and a short reason. */
  close(code: number, reason: string): void
  /** pause stops reading frames from this client (backpressure); resume starts again. */
  pause(): void
  resume(): void
}

/** HttpReply is what an HTTP endpoint answers. */
export interface HttpReply {
  status: number
  body: unknown
}

/** ClientListenerHandlers receive connection events and answer the HTTP endpoints. */
export interface ClientListenerHandlers {
  onOpen(socket: ClientSocket): void
  onFrame(socket: ClientSocket, frame: Uint8Array): void
  onClose(socket: ClientSocket, code: number, reason: string): void
  health(): HttpReply
  status(): HttpReply
}

/** ClientListenerOptions: where to listen and the largest frame accepted. */
export interface ClientListenerOptions {
  host: string
  port: number
  frameBytesMax: number
}

/** ClientListener owns the client port. Create it with `ClientListener.listen`. */
export class ClientListener {
  private nextSocketId = 1
  private readonly sockets = new Set<WebSocket>()

  private constructor(
    private readonly httpServer: http.Server,
    private readonly wsServer: WebSocketServer,
    private readonly handlers: ClientListenerHandlers,
    private readonly logger: Logger,
    private readonly frameBytesMax: number,
  ) {}

  /** listen opens the client port and resolves once it accepts connections. */
  static async listen(options: ClientListenerOptions, handlers: ClientListenerHandlers, logger: Logger): Promise<ClientListener> {
    const httpServer = http.createServer()
    // ws cuts frames over its maxPayload with 1009 and no reason; frames up to twice the
    // limit reach onWebSocket, which closes them with 1009 and a reason naming the limit.
    const wsServer = new WebSocketServer({ noServer: true, maxPayload: 2 * options.frameBytesMax, perMessageDeflate: false })
    const listener = new ClientListener(httpServer, wsServer, handlers, logger, options.frameBytesMax)
    httpServer.on('request', (req, res) => listener.onHttpRequest(req, res))
    httpServer.on('upgrade', (req, socket, head) => {
      socket.on('error', () => socket.destroy())
      wsServer.handleUpgrade(req, socket, head, (ws) => listener.onWebSocket(ws, req.socket.remoteAddress ?? ''))
    })
    httpServer.on('clientError', (_err, socket) => socket.destroy())
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject)
      httpServer.listen(options.port, options.host, () => {
        httpServer.off('error', reject)
        resolve()
      })
    })
    return listener
  }

  /** port is the TCP port actually bound (useful with port 0). */
  get port(): number {
    return (this.httpServer.address() as AddressInfo).port
  }

  /** connectionCount is the number of open client WebSockets. */
  get connectionCount(): number {
    return this.sockets.size
  }

  /** close stops accepting, closes every client with 1001, and resolves when the port is released. */
  async close(): Promise<void> {
    for (const ws of this.sockets) ws.close(CloseCode.SERVER_SHUTDOWN, 'server shutting down')
    const closed = new Promise<void>((resolve) => this.httpServer.close(() => resolve()))
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
    const path = (req.url ?? '/').split('?')[0]
    let reply: HttpReply
    if (req.method !== 'GET') reply = { status: 405, body: { error: 'only GET is supported' } }
    else if (path === '/health') reply = this.handlers.health()
    else if (path === '/status') reply = this.handlers.status()
    else reply = { status: 404, body: { error: `no such endpoint: ${path}`, endpoints: ['/health', '/status'] } }
    res.writeHead(reply.status, { 'content-type': 'application/json' })
    res.end(toJson(reply.body, 2) + '\n')
  }

  private onWebSocket(ws: WebSocket, remoteAddress: string): void {
    this.sockets.add(ws)
    const socket: ClientSocket = {
      id: this.nextSocketId++,
      remoteAddress,
      send: (frame) => {
        if (ws.readyState === ws.OPEN) ws.send(frame)
      },
      close: (code, reason) => ws.close(code, reason),
      pause: () => ws.pause(),
      resume: () => ws.resume(),
    }
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        ws.close(CloseCode.PROTOCOL_ERROR, 'binary msgpack frames only')
        return
      }
      const frame = toBytes(data)
      if (frame.length > this.frameBytesMax) {
        ws.close(CloseCode.FRAME_TOO_LARGE, `frame of ${frame.length} bytes exceeds the limit of ${this.frameBytesMax}`)
        return
      }
      this.handlers.onFrame(socket, frame)
    })
    ws.on('error', (err) => this.logger.debug({ socket: socket.id, err: err.message }, 'client socket error'))
    ws.on('close', (code, reason) => {
      this.sockets.delete(ws)
      this.handlers.onClose(socket, code, reason.toString())
    })
    this.handlers.onOpen(socket)
  }
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data)
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return data
}
