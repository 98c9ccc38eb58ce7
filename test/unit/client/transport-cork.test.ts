/**
 * holdWritesThisTick: the SDK's frames sent in one tick leave in one writev (Node.js,
 * the `ws` socket), so a pipelining caller pays one syscall, not one per call. The
 * load generator of `npm run bench` spent 41% of its CPU in those syscalls before.
 */
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { afterEach, expect, test } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { holdWritesThisTick, type SocketLike } from '../../../client/transport.js'

const servers: WebSocketServer[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) {
    for (const client of server.clients) client.terminate()
    await new Promise((resolve) => server.close(resolve))
  }
})

/** openPair opens a ws client on a local server and spies on the client stream's write calls. */
async function openPair() {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  servers.push(server)
  await once(server, 'listening')
  const received: Buffer[] = []
  server.on('connection', (ws) => ws.on('message', (data) => received.push(data as Buffer)))
  const { port } = server.address() as AddressInfo
  const client = new WebSocket(`ws://127.0.0.1:${port}`)
  await once(client, 'open')
  type WriteFn = (...args: unknown[]) => unknown
  const stream = (client as unknown as { _socket: { _write: WriteFn; _writev: WriteFn } })._socket
  const calls = { write: 0, writev: 0 }
  const write = stream._write.bind(stream)
  const writev = stream._writev.bind(stream)
  stream._write = (...args: unknown[]) => {
    calls.write++
    return write(...args)
  }
  stream._writev = (...args: unknown[]) => {
    calls.writev++
    return writev(...args)
  }
  return { client, calls, received }
}

test('frames sent in one tick leave in one writev, in order', async () => {
  const { client, calls, received } = await openPair()
  for (let i = 0; i < 10; i++) {
    holdWritesThisTick(client as unknown as SocketLike)
    client.send(new Uint8Array([i]))
  }
  expect(calls).toEqual({ write: 0, writev: 0 })
  await new Promise((resolve) => process.nextTick(resolve))
  expect(calls).toEqual({ write: 0, writev: 1 })
  await expect.poll(() => received.length).toBe(10)
  expect(received.map((b) => b[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
})

test('without it each frame is its own write (what the test above rules out)', async () => {
  const { client, calls } = await openPair()
  for (let i = 0; i < 10; i++) client.send(new Uint8Array([i]))
  expect(calls.write).toBe(10)
})

test('a socket without a Node stream (a browser WebSocket) is left alone', () => {
  const socket = { binaryType: 'arraybuffer', readyState: 1 } as unknown as SocketLike
  expect(() => holdWritesThisTick(socket)).not.toThrow()
})
