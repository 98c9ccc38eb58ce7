/*
 * Goal: connect() opens a session the way the protocol says and copes with servers that
 * cannot serve it. Method: scripted in-process servers (fake-server.ts) record the
 * handshake the client sends and answer it (accept, refuse with each code, or hang);
 * the tests check the handshake fields, what the client reports afterwards, that a
 * refusing server is skipped for the next one, and that a hung or aborted connect
 * rejects with a typed error within its deadline (on a hand-driven clock) and leaves
 * the client closed.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode, PROTOCOL_VERSION, type ConnectMessage } from '../../../protocol/index.js'
import {
  AbortedError,
  BadArgumentsError,
  Client,
  OperationTimeoutError,
  connect,
} from '../../../client/index.js'
import { flushPromises, ManualClock } from '../../helpers/manual-clock.js'
import { waitFor } from '../../helpers/wait.js'
import { FakeServer } from './fake-server.js'

const servers: FakeServer[] = []
const clients: Client[] = []

async function server(): Promise<FakeServer> {
  const s = await FakeServer.start()
  servers.push(s)
  return s
}

async function open(options: Parameters<typeof connect>[0]): Promise<Client> {
  const client = await connect(options)
  clients.push(client)
  return client
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await Promise.all(servers.splice(0).map((s) => s.stop()))
})

describe('connect', () => {
  it('sends a connect for a new session and reports what the server granted', async () => {
    const s = await server()
    s.grantTimeoutMs = 4000
    s.serverId = 3
    const client = await open({ servers: [s.url], sessionTimeoutMs: 6000 })

    const hello = s.last.received[0] as ConnectMessage
    expect(hello).toEqual({
      type: 'connect',
      protocolVersion: PROTOCOL_VERSION,
      sessionId: 0n,
      password: new Uint8Array(0),
      lastZxidSeen: 0n,
      timeoutMs: 6000,
      readOnly: false,
    })
    expect(client.state).toBe('connected')
    expect(client.sessionId).toBe(s.last.sessionId)
    expect(client.sessionId).not.toBe(0n)
    expect(client.sessionTimeoutMs).toBe(4000)
    expect(client.serverId).toBe(3)
  })

  it('does not take the connected zxid as seen (a reconnect would skip events)', async () => {
    const s = await server()
    s.zxid = 500n
    const client = await open({ servers: [s.url] })
    expect(client.lastZxid).toBe(0n)
  })

  it.each([
    ['NOT_SERVING', ErrorCode.NOT_SERVING],
    ['ZXID_AHEAD', ErrorCode.ZXID_AHEAD],
  ])('skips a server that refuses with %s and connects to the next', async (_name, code) => {
    const refusing = await server()
    const good = await server()
    refusing.onConnect = () => ({ refuse: code, message: 'not now' })
    const client = await open({ servers: [refusing.url, good.url], connectTimeoutMs: 5000 })
    expect(client.state).toBe('connected')
    expect(client.sessionId).toBe(good.last.sessionId)
  })

  it('keeps trying while no server accepts, and connects once one does', async () => {
    const s = await server()
    let refusals = 0
    s.onConnect = () => (++refusals <= 3 ? { refuse: ErrorCode.NOT_SERVING } : { accept: true })
    const client = await open({ servers: [s.url], connectTimeoutMs: 5000 })
    expect(refusals).toBe(4)
    expect(client.state).toBe('connected')
  })

  it('moves past a server that is not listening', async () => {
    const dead = await server()
    const deadUrl = dead.url
    await dead.stop()
    servers.splice(servers.indexOf(dead), 1)
    const good = await server()
    const client = await open({ servers: [deadUrl, good.url], connectTimeoutMs: 5000 })
    expect(client.state).toBe('connected')
  })

  it('rejects with OperationTimeoutError when no server answers in time, and is closed', async () => {
    const s = await server()
    s.onConnect = () => 'hang'
    // On a hand-driven clock, so "in time" is checked in logical ms, not against the machine's speed.
    const clock = new ManualClock()
    const client = new Client(
      { servers: [s.url], connectTimeoutMs: 300, sessionTimeoutMs: 2000 },
      { clock },
    )
    let outcome: unknown
    void client.start().then(
      () => (outcome = 'connected'),
      (e: unknown) => (outcome = e),
    )
    await waitFor(() => s.connections[0]?.received.length === 1, { what: 'the connect message' })
    clock.advance(299)
    await flushPromises()
    expect(outcome, 'connect() settled before its deadline').toBeUndefined()
    clock.advance(1)
    await flushPromises()
    expect(outcome).toBeInstanceOf(OperationTimeoutError)
    expect(client.state).toBe('closed')
  })

  it('rejects with AbortedError when its signal aborts, and is closed', async () => {
    const s = await server()
    s.onConnect = () => 'hang'
    const controller = new AbortController()
    const pending = connect({
      servers: [s.url],
      signal: controller.signal,
      connectTimeoutMs: 10_000,
    })
    await waitFor(() => s.connections[0]?.received.length === 1, { what: 'the connect message' })
    controller.abort()
    await expect(pending).rejects.toBeInstanceOf(AbortedError)
  })

  it('rejects at once with an already aborted signal, without opening a socket', async () => {
    const s = await server()
    const controller = new AbortController()
    controller.abort()
    await expect(connect({ servers: [s.url], signal: controller.signal })).rejects.toBeInstanceOf(
      AbortedError,
    )
    expect(s.connections).toHaveLength(0)
  })

  it.each([
    ['no servers', { servers: [] }],
    ['a server that is not a ws URL', { servers: ['http://127.0.0.1:1'] }],
    ['a negative session timeout', { servers: ['ws://127.0.0.1:1'], sessionTimeoutMs: -5 }],
    ['a chroot that is not a path', { servers: ['ws://127.0.0.1:1'], chroot: 'app' }],
    ['a chroot with a trailing slash', { servers: ['ws://127.0.0.1:1'], chroot: '/app/' }],
  ])('refuses %s with BadArgumentsError', async (_what, options) => {
    await expect(connect(options as Parameters<typeof connect>[0])).rejects.toBeInstanceOf(
      BadArgumentsError,
    )
  })
})
