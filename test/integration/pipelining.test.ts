/**
 * Per-session FIFO on the wire, without the SDK: one raw WebSocket pipelines a burst
 * of interleaved writes and reads without waiting for replies. Replies must come back
 * in request order, every read must see exactly the session's writes sent before it
 * (never a later one), and failed writes are answered in their turn too.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import WebSocket from 'ws'
import {
  decodeServerMessage,
  encodeClientMessage,
  ErrorCode,
  type ReplyMessage,
  type Request,
  type ServerMessage,
} from '../../protocol/index.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'
import { withDeadline } from '../helpers/wait.js'

let server: ServerProcess
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

const te = new TextEncoder()
const td = new TextDecoder()

async function session(): Promise<{ ws: WebSocket; messages: ServerMessage[] }> {
  const ws = new WebSocket(server.url)
  const messages: ServerMessage[] = []
  ws.on('message', (data: Buffer) => {
    const decoded = decodeServerMessage(new Uint8Array(data))
    if (decoded.ok) messages.push(decoded.message)
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject)
    ws.once('open', () => {
      ws.send(
        encodeClientMessage({
          type: 'connect',
          protocolVersion: 1,
          sessionId: 0n,
          password: new Uint8Array(),
          lastZxidSeen: 0n,
          timeoutMs: 10_000,
          readOnly: false,
        }),
      )
      const check = () =>
        messages.some((m) => m.type === 'connected') ? resolve() : setTimeout(check, 5)
      check()
    })
  })
  return { ws, messages }
}

it('answers a pipelined burst in order, each read seeing exactly the writes before it', async () => {
  const { ws, messages } = await session()
  const requests: Request[] = [
    { op: 'create', path: '/fifo', data: te.encode('0'), mode: 'persistent' },
  ]
  for (let i = 1; i <= 200; i++) {
    requests.push({ op: 'set', path: '/fifo', data: te.encode(String(i)), version: i - 1 })
    requests.push({ op: 'get', path: '/fifo', watch: false })
    if (i % 50 === 0)
      requests.push({ op: 'set', path: '/fifo', data: te.encode('stale'), version: 0 }) // fails in its turn
    if (i % 40 === 0) requests.push({ op: 'sync', path: '/' })
  }
  requests.forEach((request, i) =>
    ws.send(encodeClientMessage({ type: 'request', xid: i + 1, request })),
  )

  const replies = await withDeadline(
    (async () => {
      for (;;) {
        const got = messages.filter((m): m is ReplyMessage => m.type === 'reply')
        if (got.length === requests.length) return got
        await new Promise((r) => setTimeout(r, 10))
      }
    })(),
    15_000,
    'all replies',
  )
  expect(replies.map((r) => r.xid)).toEqual(requests.map((_, i) => i + 1))
  let lastWritten = '0'
  let lastZxid = 0n
  replies.forEach((reply, i) => {
    const request = requests[i]!
    expect(reply.zxid >= lastZxid).toBe(true) // zxids seen by a session never go back
    lastZxid = reply.zxid
    if (request.op === 'set' && td.decode(request.data) === 'stale') {
      expect(reply.err).toBe(ErrorCode.BAD_VERSION)
    } else if (request.op === 'set') {
      expect(reply.err).toBe(0)
      lastWritten = td.decode(request.data)
    } else if (request.op === 'get') {
      expect(td.decode((reply.result as { data: Uint8Array }).data)).toBe(lastWritten)
    } else {
      expect(reply.err).toBe(0)
    }
  })
  ws.close()
})
