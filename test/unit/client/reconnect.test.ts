/*
 * Goal: the client survives connection drops the way Curator and kazoo users expect,
 * and is honest about what it does not know. Method: a scripted server drops
 * connections, refuses resumes (NOT_SERVING while calls queue up, SESSION_EXPIRED to
 * end the session), hangs, or ends the session with close code 4001; the tests record
 * every state change and every frame the client sends after the drop, and check: calls
 * in flight fail with ConnectionLossError (`definite: false` for writes), queued calls
 * go out after reconnect behind setWatches (with the last zxid seen and every watched
 * path), and an expired or timed-out session leads to 'lost' and then a new session.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ErrorCode, type ConnectMessage, type SetWatchesRequest } from '../../../protocol/index.js'
import {
  Client,
  ConnectionLossError,
  SessionExpiredError,
  type ConnectionState,
  type WatchEvent,
} from '../../../client/index.js'
import { ManualClock } from '../../helpers/manual-clock.js'
import { waitFor } from '../../helpers/wait.js'
import { advanceUntil } from './clocked.js'
import { FakeServer, stat } from './fake-server.js'

let s: FakeServer
let client: Client
let states: ConnectionState[]

/** startClient connects a client (on `clock` if given) and records every state it goes through. */
async function startClient(sessionTimeoutMs = 5000, clock?: ManualClock): Promise<Client> {
  const c = new Client(
    { servers: [s.url], sessionTimeoutMs, connectTimeoutMs: 5000 },
    clock === undefined ? {} : { clock },
  )
  states = []
  c.on('state', (state) => states.push(state))
  await c.start()
  return c
}

/** refuseResumes makes the server answer NOT_SERVING until the returned function is called. */
function refuseResumes(): () => void {
  let serving = false
  const accept = s.onConnect
  s.onConnect = (conn, m) => (serving ? accept(conn, m) : { refuse: ErrorCode.NOT_SERVING })
  return () => {
    serving = true
  }
}

beforeEach(async () => {
  s = await FakeServer.start()
})

afterEach(async () => {
  s.holdReplies = false
  await client?.close()
  await s.stop()
})

describe('connection loss', () => {
  it('fails calls in flight with ConnectionLossError: definite false for writes, true for reads; both retryable', async () => {
    client = await startClient()
    s.holdReplies = true
    const write = client.create('/w', 'x').catch((e: unknown) => e)
    const read = client.get('/r').catch((e: unknown) => e)
    await waitFor(() => s.heldCount === 2)
    s.dropAll()
    const [writeError, readError] = await Promise.all([write, read])
    expect(writeError).toBeInstanceOf(ConnectionLossError)
    expect(writeError).toMatchObject({ code: 'CONNECTION_LOSS', definite: false, retryable: true })
    expect(readError).toBeInstanceOf(ConnectionLossError)
    expect(readError).toMatchObject({ definite: true, retryable: true })
  })

  it('goes connecting -> connected -> suspended -> connected and keeps the session', async () => {
    client = await startClient()
    const sessionId = client.sessionId
    s.dropAll()
    await s.waitForAccepted(2)
    await waitFor(() => client.state === 'connected')
    expect(states).toEqual(['connected', 'suspended', 'connected'])
    expect(client.sessionId).toBe(sessionId)
    const resume = s.last.received[0] as ConnectMessage
    expect(resume.sessionId).toBe(sessionId)
    expect(resume.password).toEqual(s.sessions.get(sessionId))
  })

  it('after a reconnect re-registers streams from their positions, then one-shot watches, then the queued calls in order', async () => {
    client = await startClient()
    s.onRequest = (conn, m) => {
      const r = m.request
      if (r.op === 'exists' && r.path === '/e') conn.reply(m.xid, { stat: null }, { zxid: 40n })
      else if (r.op === 'addWatch') conn.reply(m.xid, {}, { zxid: 41n })
      else
        conn.reply(
          m.xid,
          r.op === 'get'
            ? { data: new Uint8Array(), stat: stat() }
            : r.op === 'children'
              ? { children: [] }
              : { stat: stat() },
          { zxid: 42n },
        )
    }
    await client.exists('/e', { watch: () => {} })
    await client.children('/c', { watch: () => {} })
    const persistent = client.watch('/p')[Symbol.asyncIterator]()
    const recursive = client.watch('/r', { recursive: true })[Symbol.asyncIterator]()
    await s.waitForRequests(2, 'addWatch')
    await client.get('/d', { watch: () => {} })
    expect(client.lastZxid).toBe(42n)

    const serve = refuseResumes()
    s.dropAll()
    await waitFor(() => client.state === 'suspended')
    const queued = [client.get('/q1'), client.set('/q2', 'x'), client.exists('/q3')]
    serve()
    await Promise.all(queued)

    const resumed = s.last
    expect(resumed.received.map((m) => (m.type === 'request' ? m.request.op : m.type))).toEqual([
      'connect',
      'addWatch',
      'addWatch',
      'setWatches',
      'get',
      'set',
      'exists',
    ])
    expect((resumed.received[0] as ConnectMessage).lastZxidSeen).toBe(42n)
    // Both streams were confirmed at 41 and saw replies up to 42 on that connection.
    expect(resumed.requests.slice(0, 2).map((r) => r.request)).toEqual([
      { op: 'addWatch', path: '/p', mode: 'persistent', fromZxid: 42n },
      { op: 'addWatch', path: '/r', mode: 'persistentRecursive', fromZxid: 42n },
    ])
    const setWatches = resumed.requests[2]!.request as SetWatchesRequest
    expect(setWatches).toEqual({
      op: 'setWatches',
      relativeZxid: 42n,
      data: ['/d'],
      exist: ['/e'],
      child: ['/c'],
    })
    expect(resumed.requests.slice(3).map((r) => (r.request as { path: string }).path)).toEqual([
      '/q1',
      '/q2',
      '/q3',
    ])
    await persistent.return?.()
    await recursive.return?.()
  })

  it('sends no setWatches when nothing is watched', async () => {
    client = await startClient()
    s.dropAll()
    await s.waitForAccepted(2)
    await client.sync()
    expect(s.last.requests.map((r) => r.request.op)).toEqual(['sync'])
  })

  it('fires the events the server sends for changes missed while away', async () => {
    client = await startClient()
    const seen: WatchEvent[] = []
    await client.get('/d', { watch: (e) => seen.push(e) })
    s.dropAll()
    const conn = await s.waitForAccepted(2)
    await waitFor(() => conn.requests[0]?.request.op === 'setWatches')
    conn.event('dataChanged', '/d', 9n)
    await waitFor(() => seen.length === 1)
    expect(seen).toEqual([{ type: 'dataChanged', path: '/d', zxid: 9n }])
  })
})

describe('session loss', () => {
  it('goes suspended -> lost -> connected with a new session when the server says SESSION_EXPIRED', async () => {
    client = await startClient()
    const oldSession = client.sessionId
    const seen: WatchEvent[] = []
    await client.get('/d', { watch: (e) => seen.push(e) })
    const stream = client.watch('/p')[Symbol.asyncIterator]()
    await s.waitForRequests(1, 'addWatch')
    const next = stream.next().catch((e: unknown) => e)

    s.expire(oldSession)
    s.dropAll()
    await waitFor(() => client.state === 'connected' && client.sessionId !== oldSession, {
      what: 'a new session',
    })
    expect(states).toEqual(['connected', 'suspended', 'lost', 'connected'])
    expect(await next).toBeInstanceOf(SessionExpiredError)
    await expect(stream.next()).resolves.toEqual({ value: undefined, done: true })
    const fresh = s.last
    expect((fresh.received[0] as ConnectMessage).sessionId).toBe(0n)
    // The old session's watches are gone: nothing is re-registered, and events do not reach
    // them. The one-shot watcher was told once that its session was lost.
    await client.sync()
    expect(fresh.requests.map((r) => r.request.op)).toEqual(['sync'])
    fresh.event('dataChanged', '/d')
    await client.sync()
    expect(seen.map((e) => [e.type, e.path])).toEqual([['sessionLost', '/d']])
  })

  it('fails calls queued for the lost session with SessionExpiredError; calls made after the loss use the new session', async () => {
    client = await startClient()
    const oldSession = client.sessionId
    const serve = refuseResumes()
    s.dropAll()
    await waitFor(() => client.state === 'suspended')
    const queued = client.set('/q', 'x').catch((e: unknown) => e)
    s.expire(oldSession)
    serve()
    const error = await queued
    expect(error).toBeInstanceOf(SessionExpiredError)
    expect(error).toMatchObject({ definite: true })
    await waitFor(() => client.state === 'connected')
    await client.set('/after', 'y')
    expect(s.requests.map((r) => (r.request as { path?: string }).path)).toEqual(['/after'])
  })

  it('declares the session lost on its own after the session timeout without a server, then opens a new one', async () => {
    // The timeout the server granted counts, not the one asked for; time is logical (a hand-driven clock).
    const grantedMs = 600
    s.grantTimeoutMs = grantedMs
    const clock = new ManualClock()
    client = await startClient(10_000, clock)
    const oldSession = client.sessionId
    const accept = s.onConnect
    s.onConnect = () => 'hang'
    s.dropAll()
    await waitFor(() => client.state === 'suspended')
    // The clock has not moved since the drop; attempts meanwhile reach only a hanging server.
    clock.advance(grantedMs - 1)
    expect(client.state).toBe('suspended')
    clock.advance(1)
    expect(client.state).toBe('lost')
    s.onConnect = accept
    await advanceUntil(clock, () => client.state === 'connected', { what: 'a new session' })
    expect(client.sessionId).not.toBe(oldSession)
    expect((s.last.received[0] as ConnectMessage).sessionId).toBe(0n)
    expect(states).toEqual(['connected', 'suspended', 'lost', 'connected'])
  })

  it('reaches lost when every server is gone', async () => {
    s.grantTimeoutMs = 500
    client = await startClient(500)
    await s.stop()
    await waitFor(() => client.state === 'lost', { timeoutMs: 3000, what: 'lost' })
    expect(client.sessionId).toBe(0n)
    s = await FakeServer.start()
  })

  it('treats a resume refused with AUTH_FAILED as a lost session and opens a new one', async () => {
    client = await startClient()
    const oldSession = client.sessionId
    const accept = s.onConnect
    s.onConnect = (conn, m) =>
      m.sessionId === 0n
        ? accept(conn, m)
        : { refuse: ErrorCode.AUTH_FAILED, message: 'wrong password' }
    s.dropAll()
    await waitFor(() => client.state === 'connected' && client.sessionId !== oldSession)
    expect(states).toEqual(['connected', 'suspended', 'lost', 'connected'])
  })

  it('goes lost at once when the server ends the session (close code 4001)', async () => {
    client = await startClient(10_000)
    const oldSession = client.sessionId
    s.expire(oldSession)
    s.last.close(4001, 'session expired')
    await waitFor(() => client.state === 'connected' && client.sessionId !== oldSession)
    expect(states).toEqual(['connected', 'suspended', 'lost', 'connected'])
  })

  it('treats a resume answered with a different session as a lost session', async () => {
    client = await startClient()
    const oldSession = client.sessionId
    const accept = s.onConnect
    s.onConnect = (conn, m) =>
      m.sessionId === 0n ? accept(conn, m) : { accept: true, sessionId: 0x999n }
    s.dropAll()
    await waitFor(() => client.sessionId === 0x999n && client.state === 'connected')
    expect(oldSession).not.toBe(0x999n)
    expect(states).toEqual(['connected', 'suspended', 'lost', 'connected'])
  })
})
