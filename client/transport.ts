/**
 * The WebSocket used by the SDK: the global one in browsers (and any runtime that has
 * it), the `ws` package in Node.js, loaded only when needed so browser bundles never
 * pull it in.
 */

/** SocketLike is the part of the WebSocket API the SDK uses. */
export interface SocketLike {
  binaryType: string
  readonly readyState: number
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number; reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
}

/**
 * TlsOptions are what a Node.js client needs for wss:// beyond the system's trust store:
 * the CA that signed the servers' certificates, and its own certificate and key when
 * the servers ask for one (`x509` identities). PEM text or bytes. Browsers use their
 * own trust store and certificates, so these options need Node.js (the `ws` package).
 */
export interface TlsOptions {
  ca?: string | Uint8Array
  cert?: string | Uint8Array
  key?: string | Uint8Array
}

type SocketConstructor = new (url: string, options?: object) => SocketLike

let cached: SocketConstructor | undefined
let cachedWs: SocketConstructor | undefined

/** socketConstructor returns the WebSocket implementation for this runtime. */
async function socketConstructor(): Promise<SocketConstructor> {
  if (cached !== undefined) return cached
  const global = (globalThis as { WebSocket?: SocketConstructor }).WebSocket
  if (global !== undefined) return (cached = global)
  return (cached = await wsConstructor())
}

/** wsConstructor loads the `ws` package (Node.js), which takes TLS options. */
async function wsConstructor(): Promise<SocketConstructor> {
  if (cachedWs !== undefined) return cachedWs
  const ws = (await import('ws')) as unknown as { default: SocketConstructor }
  return (cachedWs = ws.default)
}

/** isNode tells whether this runtime is Node.js (where `ws` and TLS options are available). */
function isNode(): boolean {
  const process = (globalThis as { process?: { versions?: { node?: unknown } } }).process
  return typeof process?.versions?.node === 'string'
}

/** OPEN is WebSocket.OPEN. */
export const OPEN = 1

/** openSocket starts a WebSocket with binary frames as ArrayBuffers; `tls` applies to wss:// URLs. */
export async function openSocket(url: string, tls?: TlsOptions): Promise<SocketLike> {
  // Browsers have their own trust store and no `ws`: there the options are ignored.
  const withTls = tls !== undefined && url.startsWith('wss:') && isNode()
  // The global WebSocket (browsers, newer Node.js) takes no TLS options.
  const Socket = withTls ? await wsConstructor() : await socketConstructor()
  const socket = withTls ? new Socket(url, { ...tls, rejectUnauthorized: true }) : new Socket(url)
  socket.binaryType = 'arraybuffer'
  return socket
}

/** CorkableStream is the part of a Node.js socket that holds writes back. */
interface CorkableStream {
  cork(): void
  uncork(): void
}

/** corked holds the streams corked until the end of the current tick. */
const corked = new WeakSet<CorkableStream>()

/**
 * holdWritesThisTick has the frames sent on `socket` until the end of the current tick
 * leave together, in one writev instead of one syscall each: a caller that pipelines
 * (several calls issued in one go, or as the replies of one read come in) pays one
 * write. Only the `ws` package's socket (Node.js) exposes its stream; elsewhere, and if
 * `ws` ever stops exposing it, frames simply go out one by one.
 */
export function holdWritesThisTick(socket: SocketLike): void {
  const stream = (socket as { _socket?: Partial<CorkableStream> | null })._socket
  if (typeof stream?.cork !== 'function' || typeof stream.uncork !== 'function') return
  const corkable = stream as CorkableStream
  if (corked.has(corkable)) return
  const nextTick = (globalThis as { process?: { nextTick?: (fn: () => void) => void } }).process
    ?.nextTick
  if (nextTick === undefined) return
  corked.add(corkable)
  corkable.cork()
  nextTick(() => {
    corked.delete(corkable)
    corkable.uncork()
  })
}

/** frameBytes turns a received message into bytes, or null for a text frame. */
export function frameBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (data instanceof Uint8Array) return data
  return null
}
