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

type SocketConstructor = new (url: string) => SocketLike

let cached: SocketConstructor | undefined

/** socketConstructor returns the WebSocket implementation for this runtime. */
async function socketConstructor(): Promise<SocketConstructor> {
  if (cached !== undefined) return cached
  const global = (globalThis as { WebSocket?: SocketConstructor }).WebSocket
  if (global !== undefined) return (cached = global)
  const ws = (await import('ws')) as unknown as { default: SocketConstructor }
  return (cached = ws.default)
}

/** OPEN is WebSocket.OPEN. */
export const OPEN = 1

/** openSocket starts a WebSocket with binary frames as ArrayBuffers. */
export async function openSocket(url: string): Promise<SocketLike> {
  const Socket = await socketConstructor()
  const socket = new Socket(url)
  socket.binaryType = 'arraybuffer'
  return socket
}

/** frameBytes turns a received message into bytes, or null for a text frame. */
export function frameBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (data instanceof Uint8Array) return data
  return null
}
