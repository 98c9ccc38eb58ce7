/*
 * Goal: close() ends the session cleanly and leaves nothing hanging, however it is
 * reached. Method: a scripted server answers (or ignores) closeSession; the tests check
 * that closeSession is sent and awaited, that every pending call rejects with
 * ClientClosedError, that close is idempotent and quick when no server is connected,
 * that `await using` closes the client, and that the state stream ends with 'closed'.
 * How long close() waits is checked on a hand-driven clock (logical time), so a slow
 * machine cannot make it look late.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ClientClosedError, connect, Client, type ConnectionState } from '../../../client/index.js'
import { flushPromises, ManualClock } from '../../helpers/manual-clock.js'
import { waitFor } from '../../helpers/wait.js'
import { passBackoff, startClocked } from './clocked.js'
import { FakeServer } from './fake-server.js'

let s: FakeServer

beforeEach(async () => {
  s = await FakeServer.start()
})

afterEach(async () => {
  await s.stop()
})

describe('close', () => {
  it('sends closeSession, waits for its reply, then closes the socket; state closed', async () => {
    const client = await connect({ servers: [s.url] })
    const states: ConnectionState[] = []
    client.on('state', (state) => states.push(state))
    const conn = s.last
    await client.close()
    expect(conn.requests.map((r) => r.request)).toEqual([{ op: 'closeSession' }])
    expect(s.sessions.has(conn.sessionId)).toBe(false)
    expect(client.state).toBe('closed')
    expect(states).toEqual(['closed'])
    await waitFor(() => conn.closed, { what: 'the socket to close' })
  })

  it('rejects every pending call with ClientClosedError, and later calls too', async () => {
    const clock = new ManualClock()
    const client = await startClocked(clock, { servers: [s.url], requestTimeoutMs: 300 })
    s.holdReplies = true
    const inFlight = client.get('/a', { timeoutMs: 10_000 }).catch((e: unknown) => e)
    await waitFor(() => s.heldCount === 1)
    // closeSession is held too: close() gives up waiting after its bound (here the request timeout).
    let closed = false
    const closing = client.close().then(() => (closed = true))
    await waitFor(() => s.heldCount === 2, { what: 'closeSession to arrive' })
    clock.advance(299)
    await flushPromises()
    expect(closed, 'close() finished before its bound').toBe(false)
    clock.advance(1)
    await flushPromises()
    expect(closed, 'close() finished when its bound ran out').toBe(true)
    await closing
    expect(await inFlight).toBeInstanceOf(ClientClosedError)
    await expect(client.get('/b')).rejects.toBeInstanceOf(ClientClosedError)
    await expect(client.create('/c')).rejects.toMatchObject({
      code: 'CLIENT_CLOSED',
      definite: true,
    })
  })

  it('a write in flight at close may have been applied: its ClientClosedError is not definite', async () => {
    const client = await connect({ servers: [s.url], requestTimeoutMs: 300 })
    s.holdReplies = true
    const write = client.create('/w', 'x', { timeoutMs: 10_000 }).catch((e: unknown) => e)
    const read = client.get('/r', { timeoutMs: 10_000 }).catch((e: unknown) => e)
    await waitFor(() => s.heldCount === 2)
    await client.close()
    expect(await write).toMatchObject({ code: 'CLIENT_CLOSED', definite: false })
    expect(await read).toMatchObject({ code: 'CLIENT_CLOSED', definite: true })
  })

  it('is idempotent: concurrent and repeated calls share one close', async () => {
    const client = await connect({ servers: [s.url] })
    const conn = s.last
    await Promise.all([client.close(), client.close()])
    await client.close()
    expect(conn.requests.filter((r) => r.request.op === 'closeSession')).toHaveLength(1)
  })

  it('closes at once while suspended, failing queued calls, without waiting for a server', async () => {
    const clock = new ManualClock()
    const client = await startClocked(clock, { servers: [s.url], sessionTimeoutMs: 10_000 })
    s.onConnect = () => 'hang'
    s.dropAll()
    await waitFor(() => client.state === 'suspended')
    // Let the reconnect attempt reach the hanging server, so close() has a live attempt to end.
    await passBackoff(clock)
    await waitFor(() => s.connections[1]?.received.length === 1, { what: 'the reconnect attempt' })
    const queued = client.get('/q').catch((e: unknown) => e)
    // "At once": with the clock standing still, close() completes and leaves no timer behind.
    let closed = false
    void client.close().then(() => (closed = true))
    await flushPromises()
    expect(closed, 'close() finished without time passing').toBe(true)
    expect(clock.pendingTimers, 'timers left running after close()').toBe(0)
    expect(await queued).toBeInstanceOf(ClientClosedError)
    expect(client.state).toBe('closed')
  })

  it('closes a client whose first connect is still under way', async () => {
    s.onConnect = () => 'hang'
    const client = new Client({ servers: [s.url], connectTimeoutMs: 10_000 })
    const starting = client.start().catch((e: unknown) => e)
    await waitFor(() => s.connections[0]?.received.length === 1)
    await client.close()
    await waitFor(() => s.connections[0]!.closed, { what: 'the attempt to be closed' })
    expect(await starting).toBeInstanceOf(ClientClosedError)
    expect(client.state).toBe('closed')
  })

  it('closes with `await using` at the end of the scope', async () => {
    let outside: Client | undefined
    {
      await using client = await connect({ servers: [s.url] })
      outside = client
      await client.sync()
    }
    expect(outside.state).toBe('closed')
    expect(s.requests.map((r) => r.request.op)).toEqual(['sync', 'closeSession'])
  })

  it('ends the state stream after closed', async () => {
    const client = await connect({ servers: [s.url] })
    const seen: ConnectionState[] = []
    const reading = (async () => {
      for await (const state of client.states()) seen.push(state)
    })()
    s.dropAll()
    await waitFor(() => seen.includes('connected'), { what: 'the reconnect' })
    await client.close()
    await reading
    expect(seen).toEqual(['suspended', 'connected', 'closed'])
  })
})
