/*
 * Goal: an idle session stays alive and a dead connection is noticed in time to reach
 * another server before the session expires. Method: a scripted server grants a short
 * session timeout and records when each frame arrives; the tests check that an idle
 * client pings about every third of the timeout, that a busy one does not need to,
 * and that a server which stops answering is dropped after two thirds of the timeout
 * and the session resumed on a new connection.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { connect, type Client } from '../../../client/index.js'
import { waitFor } from '../../helpers/wait.js'
import { FakeServer } from './fake-server.js'

let s: FakeServer
let client: Client

beforeEach(async () => {
  s = await FakeServer.start()
})

afterEach(async () => {
  await client.close()
  await s.stop()
})

describe('liveness', () => {
  it('pings an idle session about every third of the negotiated timeout', async () => {
    s.grantTimeoutMs = 900
    client = await connect({ servers: [s.url], sessionTimeoutMs: 30_000 })
    const conn = s.last
    await waitFor(() => conn.pings >= 4, { timeoutMs: 5000, what: '4 pings' })
    const pingTimes = conn.received.flatMap((m, i) => (m.type === 'ping' ? [conn.receivedAtMs[i]!] : []))
    const gaps = pingTimes.slice(1).map((t, i) => t - pingTimes[i]!)
    for (const gapMs of gaps) {
      expect(gapMs).toBeGreaterThanOrEqual(280)
      expect(gapMs).toBeLessThan(600)
    }
    expect(client.state).toBe('connected')
  })

  it('does not ping while requests keep the connection busy', async () => {
    s.grantTimeoutMs = 1500
    client = await connect({ servers: [s.url] })
    const until = Date.now() + 1000
    while (Date.now() < until) {
      await client.sync()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(s.last.pings).toBe(0)
  })

  it('drops a silent server after two thirds of the timeout and resumes the session elsewhere', async () => {
    s.grantTimeoutMs = 600
    s.answerPings = false
    client = await connect({ servers: [s.url] })
    const sessionId = client.sessionId
    const first = s.last
    const acceptedAtMs = first.receivedAtMs[0]!
    await waitFor(() => first.closed, { timeoutMs: 3000, what: 'the client to drop the silent connection' })
    const silentMs = first.closedAtMs! - acceptedAtMs
    expect(silentMs).toBeGreaterThanOrEqual(380)
    expect(silentMs).toBeLessThan(1000)
    expect(first.pings).toBeGreaterThanOrEqual(1)
    s.answerPings = true
    await s.waitForAccepted(2)
    await waitFor(() => client.state === 'connected')
    expect(client.sessionId).toBe(sessionId)
  })
})
