/**
 * Sessions across connection loss. The client reaches the server through a TCP proxy
 * the test can cut and block:
 * - a drop shorter than the session timeout keeps the session, its ephemerals and its
 *   watches, and the client gets the events for changes made while it was away;
 * - staying away past the timeout expires the session: its ephemerals go, another
 *   client watching them gets `deleted`, and the first client sees `lost` and then a
 *   new session;
 * - a reconnect with the wrong password is refused.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { connect, type Client, type ConnectionState, type WatchEvent } from '../../client/index.js'
import {
  decodeServerMessage,
  encodeClientMessage,
  ErrorCode,
  type ServerMessage,
} from '../../protocol/index.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { waitFor } from '../helpers/wait.js'

let server: ServerProcess
let proxy: TcpProxy
const clients: Client[] = []

beforeAll(async () => {
  server = await startServer({ args: ['--tick-ms', '50', '--min-session-timeout-ms', '500'] })
})
afterAll(async () => {
  await server?.stop()
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await proxy?.close()
})

async function open(url: string, sessionTimeoutMs: number): Promise<Client> {
  const client = await connect({ servers: [url], sessionTimeoutMs })
  clients.push(client)
  return client
}

function recordStates(client: Client): ConnectionState[] {
  const states: ConnectionState[] = []
  client.on('state', (s) => states.push(s))
  return states
}

describe('a short disconnect', () => {
  it('keeps the session, ephemerals and watches, and delivers what changed meanwhile', async () => {
    proxy = await startProxy(server.port)
    const flaky = await open(proxy.url, 4000)
    const other = await open(server.url, 4000)
    const sessionId = flaky.sessionId
    const states = recordStates(flaky)

    await flaky.create('/short', '')
    await flaky.create('/short/me', 'alive', { mode: 'ephemeral' })
    await other.create('/short/watched', 'v0')
    const events: WatchEvent[] = []
    await flaky.get('/short/watched', { watch: (e) => events.push(e) })
    await flaky.children('/short', { watch: (e) => events.push(e) })

    proxy.block()
    proxy.cut()
    await waitFor(() => flaky.state === 'suspended', { what: 'suspended' })
    await other.set('/short/watched', 'v1') // changes while the client is away
    await other.create('/short/new', '')
    proxy.unblock()

    await waitFor(() => flaky.state === 'connected', { what: 'reconnected' })
    expect(flaky.sessionId).toBe(sessionId)
    await waitFor(() => events.length === 2, { what: 'missed events' })
    expect(events.map((e) => `${e.type} ${e.path}`).sort()).toEqual([
      'childrenChanged /short',
      'dataChanged /short/watched',
    ])
    expect((await other.exists('/short/me'))?.ephemeralOwner).toBe(sessionId)
    expect(states).toEqual(['suspended', 'connected'])
  })
})

describe('a disconnect longer than the session timeout', () => {
  it('expires the session, deletes its ephemerals and tells watchers', async () => {
    proxy = await startProxy(server.port)
    const flaky = await open(proxy.url, 1000)
    const watcher = await open(server.url, 4000)
    const oldSession = flaky.sessionId
    const states = recordStates(flaky)
    await flaky.create('/long-eph', '', { mode: 'ephemeral' })
    const events: WatchEvent[] = []
    expect(await watcher.exists('/long-eph', { watch: (e) => events.push(e) })).not.toBeNull()

    proxy.block()
    proxy.cut()
    await waitFor(() => events.length > 0, {
      what: 'ephemeral deleted on expiry',
      timeoutMs: 10_000,
    })
    expect(events[0]).toMatchObject({ type: 'deleted', path: '/long-eph' })
    expect(await watcher.exists('/long-eph')).toBeNull()

    proxy.unblock()
    await waitFor(() => states.includes('lost'), { what: 'client reports the session lost' })
    await waitFor(() => flaky.state === 'connected', {
      what: 'client connected with a new session',
    })
    expect(flaky.sessionId).not.toBe(oldSession)
  })
})

describe('reconnect credentials', () => {
  function rawConnect(sessionId: bigint, password: Uint8Array): Promise<ServerMessage> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(server.url)
      ws.on('open', () =>
        ws.send(
          encodeClientMessage({
            type: 'connect',
            protocolVersion: 1,
            sessionId,
            password,
            lastZxidSeen: 0n,
            timeoutMs: 4000,
            readOnly: false,
          }),
        ),
      )
      ws.on('message', (data: Buffer) => {
        const decoded = decodeServerMessage(new Uint8Array(data))
        ws.close()
        if (decoded.ok) resolve(decoded.message)
        else reject(decoded.error)
      })
      ws.on('error', reject)
    })
  }

  it('refuses a reconnect with a wrong password and accepts the right one', async () => {
    const first = await rawConnect(0n, new Uint8Array())
    if (first.type !== 'connected') throw new Error(`expected connected, got ${first.type}`)
    const wrong = new Uint8Array(first.password)
    wrong[0] = wrong[0]! ^ 0xff
    expect(await rawConnect(first.sessionId, wrong)).toMatchObject({
      type: 'connectRefused',
      code: ErrorCode.AUTH_FAILED,
    })
    expect(await rawConnect(first.sessionId, first.password)).toMatchObject({
      type: 'connected',
      sessionId: first.sessionId,
    })
    expect(await rawConnect(0xdead_beefn, first.password)).toMatchObject({
      type: 'connectRefused',
      code: ErrorCode.SESSION_EXPIRED,
    })
  })

  it('refuses a client that has seen a newer zxid than the server', async () => {
    const reply = await new Promise<ServerMessage>((resolve, reject) => {
      const ws = new WebSocket(server.url)
      ws.on('open', () =>
        ws.send(
          encodeClientMessage({
            type: 'connect',
            protocolVersion: 1,
            sessionId: 0n,
            password: new Uint8Array(),
            lastZxidSeen: 1n << 60n,
            timeoutMs: 4000,
            readOnly: false,
          }),
        ),
      )
      ws.on('message', (data: Buffer) => {
        const decoded = decodeServerMessage(new Uint8Array(data))
        ws.close()
        if (decoded.ok) resolve(decoded.message)
        else reject(decoded.error)
      })
    })
    expect(reply).toMatchObject({ type: 'connectRefused', code: ErrorCode.ZXID_AHEAD })
  })
})
