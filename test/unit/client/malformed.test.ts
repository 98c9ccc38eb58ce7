/*
 * Goal: nothing a server sends can crash the client. Method: a scripted server sends
 * frames that do not decode (random bytes, a text frame, valid msgpack of the wrong
 * shape, an unknown message type, a second `connected`), while a call is in flight;
 * the tests check that the client treats each as a lost connection (the call fails
 * with ConnectionLossError), reconnects and resumes its session, and keeps working.
 * fast-check adds random byte strings.
 */
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { encodeMessage } from '../../../protocol/index.js'
import { ConnectionLossError, connect, type Client } from '../../../client/index.js'
import { waitFor } from '../../helpers/wait.js'
import { FakeServer, type FakeConnection } from './fake-server.js'

let s: FakeServer
let client: Client

beforeEach(async () => {
  s = await FakeServer.start()
  client = await connect({ servers: [s.url] })
})

afterEach(async () => {
  s.holdReplies = false
  await client.close()
  await s.stop()
})

/** survives sends `poison` while a read is in flight and checks the client recovers. */
async function survives(poison: (conn: FakeConnection) => void): Promise<void> {
  const sessionId = client.sessionId
  const connections = s.connections.length
  s.holdReplies = true
  const read = client.get('/a').catch((e: unknown) => e)
  await waitFor(() => s.heldCount === 1)
  s.releaseHeld(() => {})
  poison(s.last)
  expect(await read).toBeInstanceOf(ConnectionLossError)
  s.holdReplies = false
  await waitFor(() => s.connections.length > connections && client.state === 'connected', {
    what: 'a reconnect',
  })
  expect(client.sessionId).toBe(sessionId)
  await expect(client.get('/b')).resolves.toBeDefined()
}

describe('malformed server frames', () => {
  it.each([
    ['random bytes', (c: FakeConnection) => c.sendRaw(new Uint8Array([0xc1, 0xff, 0x00, 0x13]))],
    ['a text frame', (c: FakeConnection) => c.sendRaw('{"type":"reply"}')],
    [
      'msgpack of the wrong shape',
      (c: FakeConnection) => c.sendRaw(encodeMessage({ type: 'reply', xid: 'one' })),
    ],
    [
      'an unknown message type',
      (c: FakeConnection) => c.sendRaw(encodeMessage({ type: 'surprise' })),
    ],
    [
      'a second connected',
      (c: FakeConnection) =>
        c.sendRaw(
          encodeMessage({
            type: 'connected',
            sessionId: 1n,
            password: new Uint8Array(16),
            timeoutMs: 1000,
            serverId: 1,
            zxid: 0n,
            readOnly: false,
          }),
        ),
    ],
    ['an empty frame', (c: FakeConnection) => c.sendRaw(new Uint8Array(0))],
  ])('drops the connection on %s and recovers', async (_what, poison) => {
    await survives(poison)
  })

  it('survives random byte frames', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 64 }), async (bytes) => {
        const old = s.last
        old.sendRaw(bytes)
        // No random frame is a message the client accepts at this point, so each one costs the connection.
        await waitFor(
          () =>
            old.closed && s.last !== old && s.last.sessionId !== 0n && client.state === 'connected',
          { what: 'a reconnect' },
        )
        await client.sync()
      }),
      { numRuns: 25 },
    )
  })
})
