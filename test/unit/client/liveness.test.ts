/*
 * Goal: an idle session stays alive and a dead connection is noticed in time to reach
 * another server before the session expires. Method: a scripted server grants a short
 * session timeout; the client runs on a hand-driven clock and every frame it sends or
 * receives is recorded with that clock's time. The tests check, in logical time, that
 * an idle client pings once a third of the timeout has passed since it last sent
 * anything, that a busy one does not need to, and that a server which stops answering
 * is dropped once two thirds of the timeout pass without a frame from it, and the
 * session resumed on a new connection. Nothing depends on how fast the machine is.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Client } from '../../../client/index.js'
import { ManualClock } from '../../helpers/manual-clock.js'
import { waitFor } from '../../helpers/wait.js'
import { closeClocked, passBackoff, startClocked } from './clocked.js'
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

  it('drops a silent server after two thirds of the timeout and resumes the session elsewhere', async () => {
    const timeoutMs = 600
    s.grantTimeoutMs = timeoutMs
    s.answerPings = false
    client = await startClocked(clock, { servers: [s.url] })
    const sessionId = client.sessionId
    const first = s.last
    const lastHeardMs = trace.received.at(-1)!.atMs
    expect(trace.received.map((frame) => frame.message.type)).toEqual(['connected'])

    // Silent for exactly two thirds of the timeout: not yet dead (it kept pinging meanwhile).
    clock.advance(lastHeardMs + (timeoutMs * 2) / 3 - clock.nowMs())
    expect(client.state).toBe('connected')
    expect(sentPingTimes().length).toBeGreaterThanOrEqual(1)
    // One liveness check later, it is: dropped on the client's own initiative.
    clock.advance(checkPeriodMs(timeoutMs))
    expect(client.state).toBe('suspended')
    await waitFor(() => first.closed, { what: 'the silent connection to close' })
    expect(receivedCount('pong')).toBe(0)

    s.answerPings = true
    await passBackoff(clock)
    await s.waitForAccepted(2)
    await waitFor(() => client!.state === 'connected', { what: 'the session to resume' })
    expect(client.sessionId).toBe(sessionId)
  })
})
