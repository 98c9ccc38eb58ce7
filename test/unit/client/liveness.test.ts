/*
 * Goal: an idle session stays alive, and a server that stops answering is noticed
 * within a ping deadline (client/liveness.ts), in time to reach another member long
 * before the session expires, while a server that keeps answering is never dropped.
 * Method: a scripted server grants a session timeout; the client runs on a hand-driven
 * clock and every frame it sends or receives is recorded with that clock's time. The
 * tests check, in logical time, that an idle client pings once a third of the timeout
 * has passed since it last sent anything, that a busy one does not need to, that a
 * silent server is dropped exactly when a ping has gone pingTimeoutMs without an answer
 * (idle, or while requests keep going out, which the old "ping only when idle" rule
 * missed), and that a server holding a reply but answering pings, or sending other data,
 * is kept. Nothing depends on how fast the machine is.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConnectionLossError, type Client } from '../../../client/index.js'
import { livenessSettings } from '../../../client/liveness.js'
import { ManualClock } from '../../helpers/manual-clock.js'
import { waitFor } from '../../helpers/wait.js'
import { advanceUntil, closeClocked, passBackoff, startClocked } from './clocked.js'
import { FakeServer } from './fake-server.js'
import { installFrameTrace, type FrameTrace } from './frame-trace.js'

/** The SDK checks liveness at least every timeout/15: how late after its due time a ping or a drop may come. */
const checkPeriodMs = (timeoutMs: number) => Math.max(5, Math.floor(timeoutMs / 15))

let s: FakeServer
let clock: ManualClock
let client: Client | undefined
// Installed before any client connects: the SDK keeps the WebSocket class it first finds.
const trace: FrameTrace = installFrameTrace(() => clock.nowMs())

beforeEach(async () => {
  s = await FakeServer.start()
  clock = new ManualClock()
  trace.sent.length = 0
  trace.received.length = 0
})

afterEach(async () => {
  if (client !== undefined) await closeClocked(client, clock)
  client = undefined
  await s.stop()
})

afterAll(() => trace.uninstall())

/** sentPingTimes lists the logical times at which the client sent a ping. */
function sentPingTimes(): number[] {
  return trace.sent.flatMap((frame) => (frame.message.type === 'ping' ? [frame.atMs] : []))
}

/** receivedCount counts frames of one type the client has received. */
function receivedCount(type: string): number {
  return trace.received.filter((frame) => frame.message.type === type).length
}

describe('liveness', () => {
  it('pings an idle session once a third of the negotiated timeout has passed since it last sent', async () => {
    const timeoutMs = 900
    s.grantTimeoutMs = timeoutMs
    client = await startClocked(clock, { servers: [s.url], sessionTimeoutMs: 30_000 })
    expect(trace.sent.map((frame) => frame.message.type)).toEqual(['connect'])
    const pingTimesMs: number[] = []
    while (pingTimesMs.length < 4) {
      clock.advance(10)
      expect(clock.nowMs(), 'four pings within 2 timeouts').toBeLessThanOrEqual(2 * timeoutMs)
      const sent = sentPingTimes()
      if (sent.length === pingTimesMs.length) continue
      pingTimesMs.push(...sent.slice(pingTimesMs.length))
      // Let the pong in before time moves on: an unanswered ping is the next test's business.
      await waitFor(() => receivedCount('pong') === sent.length, { what: 'the pong' })
    }
    // Idle means nothing sent since `connect` at 0: each ping is due a third of the timeout after the previous send.
    const previousSendMs = [0, ...pingTimesMs.slice(0, -1)]
    const gapsMs = pingTimesMs.map((atMs, i) => atMs - previousSendMs[i]!)
    for (const gapMs of gapsMs) {
      expect(gapMs).toBeGreaterThanOrEqual(timeoutMs / 3)
      expect(gapMs).toBeLessThanOrEqual(timeoutMs / 3 + checkPeriodMs(timeoutMs))
    }
    expect(client.state).toBe('connected')
  })

  it('does not ping while requests keep the connection busy', async () => {
    const timeoutMs = 1500
    s.grantTimeoutMs = timeoutMs
    client = await startClocked(clock, { servers: [s.url] })
    // A request every 50 ms for two timeouts: each one counts as traffic.
    for (let elapsedMs = 0; elapsedMs < 2 * timeoutMs; elapsedMs += 50) {
      await client.sync()
      clock.advance(50)
    }
    expect(sentPingTimes()).toEqual([])
    // And the same client does ping once it falls idle, so the silence above was not an accident.
    const lastRequestMs = trace.sent.at(-1)!.atMs
    clock.advance(timeoutMs / 3 + checkPeriodMs(timeoutMs))
    expect(sentPingTimes()).toHaveLength(1)
    expect(sentPingTimes()[0]! - lastRequestMs).toBeGreaterThanOrEqual(timeoutMs / 3)
  })

  it('drops an idle server that leaves its keepalive ping unanswered for pingTimeoutMs, and resumes the session', async () => {
    const timeoutMs = 9000
    const rules = livenessSettings(timeoutMs)
    s.grantTimeoutMs = timeoutMs
    s.answerPings = false
    client = await startClocked(clock, { servers: [s.url] })
    const sessionId = client.sessionId
    const first = s.last
    expect(trace.received.map((frame) => frame.message.type)).toEqual(['connected'])

    // The keepalive ping goes out a third of the timeout after the connect; its deadline runs from there.
    clock.advance(rules.keepaliveMs)
    expect(sentPingTimes()).toEqual([rules.keepaliveMs])
    clock.advance(rules.pingTimeoutMs - 1)
    expect(client.state).toBe('connected')
    clock.advance(1)
    // Dropped well before two thirds of the timeout without a frame (the old rule).
    expect(clock.nowMs()).toBeLessThan(rules.silentMaxMs)
    expect(client.state).toBe('suspended')
    await waitFor(() => first.closed, { what: 'the silent connection to close' })
    expect(receivedCount('pong')).toBe(0)

    s.answerPings = true
    await passBackoff(clock)
    await s.waitForAccepted(2)
    await waitFor(() => client!.state === 'connected', { what: 'the session to resume' })
    expect(client.sessionId).toBe(sessionId)
  })

  it('drops a server that stops answering after the ping deadline, even while requests keep going out', async () => {
    const timeoutMs = 9000
    const rules = livenessSettings(timeoutMs)
    s.grantTimeoutMs = timeoutMs
    client = await startClocked(clock, { servers: [s.url], requestTimeoutMs: 60_000 })
    const sessionId = client.sessionId
    const first = s.last
    // The server stops, like a SIGSTOPped process whose socket still takes frames: no reply, no pong.
    s.holdReplies = true
    s.answerPings = false
    const calls: Promise<unknown>[] = []
    const startMs = clock.nowMs()
    const deadAtMs = startMs + rules.pingIntervalMs + rules.pingTimeoutMs
    // A request every 50 ms: the client never stops sending, so only a ping with a deadline can tell.
    while (clock.nowMs() < deadAtMs) {
      const sent = trace.sent.length
      calls.push(client.set('/busy', 'x').catch((err: unknown) => err))
      await waitFor(() => trace.sent.length > sent, { what: 'the request to go out' })
      expect(client.state, `state ${clock.nowMs() - startMs} ms after the stop`).toBe('connected')
      clock.advance(Math.min(50, deadAtMs - clock.nowMs()))
    }
    // One ping, pingIntervalMs after the first unanswered request; dropped pingTimeoutMs after it.
    expect(sentPingTimes()).toEqual([startMs + rules.pingIntervalMs])
    expect(client.state).toBe('suspended')
    expect(clock.nowMs() - startMs).toBeLessThan(rules.silentMaxMs)
    await waitFor(() => first.closed, { what: 'the stopped connection to close' })
    const failures = await Promise.all(calls)
    expect(failures.every((err) => err instanceof ConnectionLossError)).toBe(true)

    s.holdReplies = false
    s.answerPings = true
    await advanceUntil(clock, () => client!.state === 'connected', {
      what: 'the session to resume',
    })
    expect(client.sessionId).toBe(sessionId)
    expect(s.connections).toHaveLength(2)
  })

  it('reads what arrived before giving a server up when its own event loop was held up past the ping deadline', async () => {
    const timeoutMs = 9000
    const rules = livenessSettings(timeoutMs)
    s.grantTimeoutMs = timeoutMs
    client = await startClocked(clock, { servers: [s.url], requestTimeoutMs: 60_000 })
    s.holdReplies = true
    const call = client.set('/slow', 'x')
    call.catch(() => {}) // awaited below; a failure before then must not be unhandled
    await s.waitForRequests(1, 'set')
    clock.advance(rules.pingIntervalMs)
    expect(sentPingTimes()).toHaveLength(1)
    // The client's loop is held up (a long synchronous task) past the ping's deadline;
    // the pong reaches its socket meanwhile but is not read until the loop runs again.
    clock.stall(2 * rules.pingTimeoutMs)
    clock.advance(0)
    expect(client.state, 'not given up by a check that ran late').toBe('connected')
    await waitFor(() => receivedCount('pong') === 1, { what: 'the pong read' })
    clock.advance(1)
    expect(client.state).toBe('connected')
    expect(s.connections).toHaveLength(1)
    s.releaseHeld()
    await expect(call).resolves.toBeDefined()
  })

  it('keeps a server that answers pings while it holds a reply, probing it every pingIntervalMs', async () => {
    const timeoutMs = 9000
    const rules = livenessSettings(timeoutMs)
    s.grantTimeoutMs = timeoutMs
    client = await startClocked(clock, { servers: [s.url], requestTimeoutMs: 60_000 })
    // A live server with a slow call (a write waiting on a busy leader): the reply is held, pongs are not.
    s.holdReplies = true
    const call = client.set('/slow', 'x')
    call.catch(() => {}) // awaited below; a failure before then must not be unhandled
    await s.waitForRequests(1, 'set')
    const startMs = clock.nowMs()
    while (clock.nowMs() - startMs < 2 * timeoutMs) {
      clock.advance(50)
      const pings = sentPingTimes().length
      await waitFor(() => receivedCount('pong') === pings, { what: 'every pong' })
      expect(client.state, `state ${clock.nowMs() - startMs} ms into the wait`).toBe('connected')
    }
    // Probed all along: each ping pingIntervalMs after the previous pong (which came at the ping's time).
    const pings = sentPingTimes()
    expect(pings.length).toBeGreaterThanOrEqual(
      Math.floor((2 * timeoutMs) / rules.pingIntervalMs) - 1,
    )
    for (let i = 1; i < pings.length; i++)
      expect(pings[i]! - pings[i - 1]!).toBe(rules.pingIntervalMs)
    s.releaseHeld()
    await expect(call).resolves.toBeDefined()
    expect(s.connections).toHaveLength(1)
  })

  it('keeps a server that sends data (events) however long a reply takes, with no pong at all', async () => {
    const timeoutMs = 9000
    const rules = livenessSettings(timeoutMs)
    s.grantTimeoutMs = timeoutMs
    client = await startClocked(clock, { servers: [s.url], requestTimeoutMs: 60_000 })
    s.holdReplies = true
    s.answerPings = false
    const call = client.set('/slow', 'x')
    call.catch(() => {}) // awaited below; a failure before then must not be unhandled
    await s.waitForRequests(1, 'set')
    const startMs = clock.nowMs()
    // A frame every pingTimeoutMs - 1 ms: each one answers any ping that is out.
    const everyMs = rules.pingTimeoutMs - 1
    let events = 0
    while (clock.nowMs() - startMs < 2 * timeoutMs) {
      s.last.event('dataChanged', '/elsewhere')
      events++
      await waitFor(() => receivedCount('event') === events, { what: 'the event' })
      clock.advance(everyMs)
      expect(client.state, `state ${clock.nowMs() - startMs} ms into the wait`).toBe('connected')
    }
    s.releaseHeld()
    await expect(call).resolves.toBeDefined()
    expect(s.connections).toHaveLength(1)
  })
})
