/*
 * Goal: the client port bounds connections in total and per client address (refused
 * ones closed at once with 1013 and a reason naming the limit, accepted ones
 * untouched), and a frame over the limit, however large, is closed with 1009 and a
 * reason naming the limit; each refusal is reported to `onRefused` (for /metrics). Method: a real ClientListener on a free port and real ws
 * clients, some bound to other loopback addresses (127.0.0.2, ...).
 */
import net from 'node:net'
import pino from 'pino'
import WebSocket from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { CloseCode } from '../../../protocol/index.js'
import {
  ClientListener,
  type ClientSocket,
  type ListenerRefusal,
} from '../../../server/net/client-listener.js'
import { withDeadline } from '../../helpers/wait.js'

let listener: ClientListener | undefined
const clients: WebSocket[] = []

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate()
  await listener?.close()
  listener = undefined
})

interface Opened {
  ws: WebSocket
  closed: Promise<{ code: number; reason: string }>
}

async function start(
  options: {
    maxConnections: number
    maxConnectionsPerAddress: number
    frameBytesMax?: number
    requestDeadlineMs?: number
  },
  onFrame: (frame: Uint8Array) => void = () => undefined,
): Promise<{ frames: Uint8Array[]; open: ClientSocket[]; refusals: ListenerRefusal[] }> {
  const frames: Uint8Array[] = []
  const open: ClientSocket[] = []
  const refusals: ListenerRefusal[] = []
  listener = await ClientListener.listen(
    { host: '127.0.0.1', port: 0, frameBytesMax: options.frameBytesMax ?? 1024, ...options },
    {
      onOpen: (socket) => open.push(socket),
      onFrame: (_socket, frame) => {
        frames.push(frame)
        onFrame(frame)
      },
      onClose: (socket) => open.splice(open.indexOf(socket), 1),
      health: () => ({ status: 200, body: {} }),
      status: () => ({ status: 200, body: {} }),
      onRefused: (kind) => refusals.push(kind),
    },
    pino({ level: 'silent' }),
  )
  return { frames, open, refusals }
}

async function connect(localAddress = '127.0.0.1'): Promise<Opened> {
  const ws = new WebSocket(`ws://127.0.0.1:${listener!.port}`, { localAddress })
  clients.push(ws)
  ws.on('error', () => undefined)
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  )
  await withDeadline(
    new Promise<void>(
      (resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)),
    ),
    10_000,
    'open',
  )
  return { ws, closed }
}

describe('ClientListener connection limits', () => {
  it('closes connections past maxConnectionsPerAddress with 1013 and keeps the others', async () => {
    const { open, refusals } = await start({ maxConnections: 100, maxConnectionsPerAddress: 3 })
    const accepted = [await connect(), await connect(), await connect()]
    const refused = await connect()
    expect(await withDeadline(refused.closed, 10_000, 'refused close')).toEqual({
      code: CloseCode.TRY_AGAIN_LATER,
      reason: 'too many connections from your address: at most 3 (maxConnectionsPerAddress)',
    })
    expect(refusals).toEqual(['connections'])
    // Another address is counted on its own.
    const elsewhere = await connect('127.0.0.2')
    expect(open.length).toBe(4)
    for (const { ws } of [...accepted, elsewhere]) expect(ws.readyState).toBe(WebSocket.OPEN)
    // A closed connection frees its slot.
    accepted[0]!.ws.close()
    await withDeadline(accepted[0]!.closed, 10_000, 'close')
    await withDeadline(
      (async () => {
        while (open.length !== 3) await new Promise((resolve) => setImmediate(resolve))
      })(),
      10_000,
      'server saw the close',
    )
    const again = await connect()
    expect(again.ws.readyState).toBe(WebSocket.OPEN)
    expect(open.length).toBe(4)
  })

  it('closes connections past maxConnections with 1013, whatever their address', async () => {
    const { open, refusals } = await start({ maxConnections: 3, maxConnectionsPerAddress: 100 })
    await connect('127.0.0.1')
    await connect('127.0.0.2')
    await connect('127.0.0.3')
    const refused = await connect('127.0.0.4')
    expect(await withDeadline(refused.closed, 10_000, 'refused close')).toEqual({
      code: CloseCode.TRY_AGAIN_LATER,
      reason: 'too many connections: this member holds 3 (maxConnections)',
    })
    expect(open.length).toBe(3)
    expect(refusals).toEqual(['connections'])
  })
})

describe('ClientListener raw TCP', () => {
  /** rawSocket opens a plain TCP connection and resolves with it and a promise of its close time. */
  const rawSocket = async (): Promise<{ socket: net.Socket; closed: Promise<number> }> => {
    const socket = net.connect(listener!.port, '127.0.0.1')
    socket.on('error', () => undefined)
    const closed = new Promise<number>((resolve) =>
      socket.once('close', () => resolve(performance.now())),
    )
    await withDeadline(
      new Promise<void>((resolve) => socket.once('connect', () => resolve())),
      10_000,
      'tcp connect',
    )
    return { socket, closed }
  }

  it('cuts a TCP connection that sends nothing, or never finishes its request, at the request deadline; a WebSocket stays', async () => {
    await start({ maxConnections: 100, maxConnectionsPerAddress: 100, requestDeadlineMs: 300 })
    const startedMs = performance.now()
    const silent = await rawSocket()
    const trickling = await rawSocket()
    trickling.socket.write('GET /status HTTP/1.1\r\nHost: x\r\n')
    const upgraded = await connect()
    for (const { closed } of [silent, trickling]) {
      const closedAtMs = await withDeadline(closed, 5000, 'cut at the deadline')
      expect(closedAtMs - startedMs).toBeGreaterThanOrEqual(250)
    }
    // A silent socket opened after the WebSocket is cut at its own deadline, by then past
    // the WebSocket's: waiting for that cut shows the WebSocket outlived its deadline.
    const later = await rawSocket()
    await withDeadline(later.closed, 5000, 'a later silent socket cut')
    expect(upgraded.ws.readyState).toBe(WebSocket.OPEN)
    // An HTTP request in time is answered.
    const res = await fetch(`http://127.0.0.1:${listener!.port}/health`)
    expect(res.status).toBe(200)
  })

  it('closes TCP connections beyond maxConnections plus a small headroom at once', async () => {
    await start({ maxConnections: 2, maxConnectionsPerAddress: 100, requestDeadlineMs: 60_000 })
    const sockets = []
    for (let i = 0; i < 70; i++) sockets.push(await rawSocket())
    // The first 66 (2 + 64 headroom) are held; the rest are closed by the server.
    for (const { closed } of sockets.slice(66))
      await withDeadline(closed, 5000, 'closed beyond the cap')
    for (const { socket } of sockets.slice(0, 66)) expect(socket.destroyed).toBe(false)
    for (const { socket } of sockets) socket.destroy()
  })
})

describe('ClientListener frame limit', () => {
  for (const times of [1.5, 3]) {
    it(`closes a frame of ${times}x the limit with 1009 and a reason naming the limit, and hands nothing over`, async () => {
      const { frames, refusals } = await start({
        maxConnections: 10,
        maxConnectionsPerAddress: 10,
        frameBytesMax: 1024,
      })
      const client = await connect()
      client.ws.send(new Uint8Array(1024)) // at the limit: delivered
      client.ws.send(new Uint8Array(Math.floor(1024 * times)))
      expect(await withDeadline(client.closed, 10_000, 'close')).toEqual({
        code: CloseCode.FRAME_TOO_LARGE,
        reason: 'frame exceeds the limit of 1024 bytes',
      })
      expect(frames.map((f) => f.length)).toEqual([1024])
      expect(refusals).toEqual(['frame_too_large'])
    })
  }
})

describe('ClientListener work per turn', () => {
  it('hands over one frame per connection per event-loop turn, even when one socket read brings hundreds', async () => {
    // When the first frame is handed over, schedule a check for the next turn: it sees how
    // many frames were handed over in the same turn as the first one.
    let sameTurn: number | undefined
    const { frames } = await start({ maxConnections: 10, maxConnectionsPerAddress: 10 }, () => {
      if (frames.length === 1) setImmediate(() => (sameTurn = frames.length))
    })
    const client = await connect()
    // One TCP write carrying 500 small frames, so the member reads them all at once.
    const socket = (client.ws as unknown as { _socket: import('node:net').Socket })._socket
    socket.cork()
    for (let i = 0; i < 500; i++) client.ws.send(new Uint8Array([i & 0xff]))
    socket.uncork()
    await withDeadline(
      (async () => {
        while (frames.length < 500) await new Promise((resolve) => setTimeout(resolve, 5))
      })(),
      10_000,
      '500 frames',
    )
    expect(sameTurn).toBeDefined()
    expect(sameTurn).toBeLessThanOrEqual(2)
    expect(frames.map((f) => f[0])).toEqual(Array.from({ length: 500 }, (_, i) => i & 0xff))
  })
})
