/*
 * Goal: a client whose server stops (SIGSTOP: the socket stays open, nothing answers)
 * while the other member is still electing moves its session there as soon as it can,
 * without spending a handshake timeout per round on the stopped server. Method: two
 * scripted servers and a client on a hand-driven clock. The client's server stops
 * answering (replies, pongs and new handshakes alike); the other refuses with
 * NOT_SERVING, as a member in an election does, until it is told to serve. The test
 * checks, in logical time, that the stopped server is given up on at the ping deadline,
 * that it is not tried again while the other is (within serverSuspectMs), and that the
 * session resumes on the other server with the same id once it serves.
 */
import { afterEach, beforeEach, expect, it } from 'vitest'
import { ErrorCode } from '../../../protocol/index.js'
import { Client } from '../../../client/index.js'
import { livenessSettings } from '../../../client/liveness.js'
import { ManualClock } from '../../helpers/manual-clock.js'
import { advanceUntil, closeClocked } from './clocked.js'
import { FakeServer } from './fake-server.js'

let servers: FakeServer[]
let clock: ManualClock
let client: Client | undefined

beforeEach(async () => {
  servers = await Promise.all([FakeServer.start(), FakeServer.start()])
  servers.forEach((s, i) => (s.serverId = i + 1))
  clock = new ManualClock()
})

afterEach(async () => {
  if (client !== undefined) await closeClocked(client, clock)
  client = undefined
  await Promise.all(servers.map((s) => s.stop()))
})

it('gives a stopped server up at the ping deadline and resumes the session on the other once it serves, without retrying the stopped one meanwhile', async () => {
  const timeoutMs = 9000
  const rules = livenessSettings(timeoutMs)
  const suspectMs = timeoutMs / 3 // serverSuspectMs for this session timeout (client/options.ts)
  const c = (client = new Client(
    { servers: servers.map((s) => s.url), sessionTimeoutMs: timeoutMs, requestTimeoutMs: 60_000 },
    { clock },
  ))
  await c.start()
  const sessionId = c.sessionId
  const stopped = servers[c.serverId - 1]!
  const other = servers.find((s) => s !== stopped)!
  expect(stopped.connections).toHaveLength(1)

  // The client's server stops; the other is electing (NOT_SERVING) until told otherwise.
  stopped.holdReplies = true
  stopped.answerPings = false
  stopped.onConnect = () => 'hang'
  let serving = false
  other.onConnect = (_conn, message) =>
    serving
      ? { accept: true, sessionId: message.sessionId }
      : { refuse: ErrorCode.NOT_SERVING, message: 'electing' }
  const startMs = clock.nowMs()
  const write = c.set('/w', 'x').catch((err: unknown) => err)
  await stopped.waitForRequests(1, 'set')

  await advanceUntil(clock, () => c.state === 'suspended', {
    stepMs: 50,
    what: 'the stopped server dropped',
  })
  const droppedMs = clock.nowMs()
  expect(droppedMs - startMs).toBeLessThanOrEqual(rules.pingIntervalMs + rules.pingTimeoutMs)
  expect(await write).toBeInstanceOf(Error)

  // Several rounds on the other server, none on the stopped one, all within its suspect time.
  await advanceUntil(clock, () => other.connections.length >= 4, {
    what: 'rounds refused by the electing server',
  })
  expect(clock.nowMs() - droppedMs).toBeLessThan(suspectMs)
  expect(stopped.connections).toHaveLength(1)

  serving = true
  await advanceUntil(clock, () => c.state === 'connected', { what: 'the session to resume' })
  expect(clock.nowMs() - droppedMs).toBeLessThan(suspectMs)
  expect(c.sessionId).toBe(sessionId)
  expect(c.serverId).toBe(other.serverId)
  expect(stopped.connections).toHaveLength(1)
  await expect(c.set('/w', 'y')).resolves.toBeDefined()
})
