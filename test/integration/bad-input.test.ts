/**
 * Bad input is answered, not obeyed. A fast-check property sends more than 10,000
 * malformed frames (random bytes, truncated msgpack, wrong field types, unknown ops,
 * giant lengths, invalid paths, oversized frames, text frames) over raw WebSockets to
 * a real server process. Each must be answered with an error reply or a closed
 * connection; meanwhile a well-behaved SDK client keeps reading and writing, and the
 * server process never exits.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import fc from 'fast-check'
import WebSocket from 'ws'
import { Packr } from 'msgpackr'
import { connect, type Client } from '../../client/index.js'
import { decodeServerMessage, encodeClientMessage } from '../../protocol/index.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'
import { withDeadline } from '../helpers/wait.js'

let server: ServerProcess
let witness: Client
// largeBigIntToFloat: fast-check makes bigints beyond 64 bits; they still must not break the test's own packer.
const raw = new Packr({ useRecords: false, largeBigIntToFloat: true })

beforeAll(async () => {
  server = await startServer({ args: ['--max-data-bytes', '4096'] })
  witness = await connect({ servers: [server.url], sessionTimeoutMs: 30_000 })
})
afterAll(async () => {
  await witness?.close()
  await server?.stop()
})

/** A connection that completed the handshake, for sending requests that need a session. */
async function openSession(): Promise<WebSocket> {
  const ws = new WebSocket(server.url)
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
          timeoutMs: 30_000,
          readOnly: false,
        }),
      )
      ws.once('message', () => resolve())
    })
  })
  return ws
}

type Outcome = 'reply' | 'closed'

/** send one frame and wait until the server answers it or closes the connection. */
function exchange(ws: WebSocket, frame: Uint8Array | string): Promise<Outcome> {
  return withDeadline(
    new Promise<Outcome>((resolve) => {
      const onMessage = (data: Buffer) => {
        const decoded = decodeServerMessage(new Uint8Array(data))
        // A ping with extra fields is still a ping: its pong is its answer.
        if (decoded.ok && (decoded.message.type === 'reply' || decoded.message.type === 'pong')) {
          cleanup()
          resolve('reply')
        }
      }
      const onClose = () => {
        cleanup()
        resolve('closed')
      }
      const cleanup = () => {
        ws.off('message', onMessage)
        ws.off('close', onClose)
      }
      ws.on('message', onMessage)
      ws.on('close', onClose)
      if (ws.readyState !== WebSocket.OPEN) return onClose()
      ws.send(frame)
    }),
    5000,
    'server answer to a malformed frame',
  )
}

const anyValue = fc.anything({
  withBigInt: true,
  withTypedArray: true,
  withNullPrototype: false,
  maxDepth: 3,
})
const badPath = fc.oneof(
  fc.constantFrom('', 'a', '/a/', '//', '/a/../b', '/./x', '/\u0000', '/x\u0007', '/\ud800x'),
  fc.string().filter((s) => !s.startsWith('/')),
  fc.integer(),
)
const ops = [
  'create',
  'delete',
  'exists',
  'get',
  'set',
  'children',
  'multi',
  'sync',
  'getEphemerals',
  'childCount',
  'getAcl',
  'addWatch',
  'removeWatches',
  'setWatches',
]

const malformedRequest = fc.oneof(
  // unknown op
  fc.record({
    type: fc.constant('request'),
    xid: fc.nat(1000),
    request: fc.record({
      op: fc.string({ maxLength: 20 }).filter((s) => !ops.includes(s) && s !== 'closeSession'),
    }),
  }),
  // a known op with random fields
  fc.record({
    type: fc.constant('request'),
    xid: fc.nat(1000),
    request: fc.record({
      op: fc.constantFrom(...ops),
      path: anyValue,
      data: anyValue,
      version: anyValue,
      ops: anyValue,
      mode: anyValue,
    }),
  }),
  // a known op with an invalid path
  fc.record({
    type: fc.constant('request'),
    xid: fc.nat(1000),
    request: fc.record({
      op: fc.constantFrom('get', 'exists', 'children', 'delete', 'set'),
      path: badPath,
      data: fc.constant(new Uint8Array(1)),
      version: fc.constant(-1),
    }),
  }),
  // data over the limit
  fc.record({
    type: fc.constant('request'),
    xid: fc.nat(1000),
    request: fc.record({
      op: fc.constant('set'),
      path: fc.constant('/fuzz'),
      data: fc.constant(new Uint8Array(5000)),
      version: fc.constant(-1),
    }),
  }),
)

const malformedFrame = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 64 }),
  fc.tuple(anyValue, fc.nat()).map(([v, cut]) => {
    const bytes = raw.pack(v)
    return bytes.subarray(0, bytes.length > 1 ? cut % bytes.length : 0)
  }),
  anyValue.map((v) => raw.pack(v)),
  // a declared length far beyond the frame: str32 / bin32 / array32 / map32 headers
  fc
    .constantFrom(0xdb, 0xc6, 0xdd, 0xdf)
    .map((tag) => new Uint8Array([tag, 0x7f, 0xff, 0xff, 0xff, 0x00])),
  fc
    .record({ type: fc.constantFrom('ping', 'connect', 'nope'), junk: anyValue })
    .map((v) => raw.pack(v)),
)

it('answers 10,000 malformed frames and keeps serving', async () => {
  await witness.create('/fuzz', 'steady')
  let session = await openSession()
  let replies = 0
  let closes = 0
  let witnessOps = 0
  const check = async (frame: Uint8Array | string) => {
    if (session.readyState !== WebSocket.OPEN) session = await openSession()
    const outcome = await exchange(session, frame)
    if (outcome === 'reply') replies++
    else closes++
    if ((replies + closes) % 250 === 0) {
      // the well-behaved client keeps working throughout
      const stat = await witness.set('/fuzz', `n${replies + closes}`)
      expect(stat.version).toBeGreaterThan(0)
      witnessOps++
    }
  }
  await fc.assert(
    fc.asyncProperty(malformedRequest, async (message) => check(raw.pack(message))),
    { numRuns: 6000 },
  )
  await fc.assert(
    fc.asyncProperty(malformedFrame, async (frame) => check(frame)),
    { numRuns: 4000 },
  )
  await check('text frames are refused')
  await check(new Uint8Array(4096 + 64 * 1024 + 1)) // over the frame limit: closed with 1009

  expect(replies + closes).toBeGreaterThanOrEqual(10_000)
  expect(replies).toBeGreaterThan(1000)
  expect(closes).toBeGreaterThan(100)
  expect(witnessOps).toBeGreaterThan(30)
  expect(server.child.exitCode).toBeNull()
  expect(new TextDecoder().decode((await witness.get('/fuzz')).data)).toMatch(/^n\d+$/)
  session.close()
}, 300_000)

it('closes oversized frames with 1009 and a clear reason', async () => {
  const ws = await openSession()
  const closed = new Promise<[number, string]>((resolve) =>
    ws.once('close', (code, reason) => resolve([code, reason.toString()])),
  )
  ws.send(new Uint8Array(4096 + 64 * 1024 + 1))
  const [code, reason] = await withDeadline(closed, 5000, 'close')
  expect(code).toBe(1009)
  expect(reason).toMatch(/exceeds the limit/)
})
