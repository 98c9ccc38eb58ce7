/*
 * Goal: a member that stops answering costs the reconnect loop one short handshake, not
 * one per round, and a member that is merely slow is still reached. Method: ServerList
 * on a hand-driven clock, fed connection ends as the loop would feed them; the tests
 * check which servers each round offers and how long each handshake may take.
 */
import { describe, expect, it } from 'vitest'
import { LocalClose, type ConnectionEnd } from '../../../client/connection.js'
import { ServerList } from '../../../client/server-list.js'
import { ManualClock } from '../../helpers/manual-clock.js'

const SERVERS = ['ws://a:1', 'ws://b:2', 'ws://c:3']
const MIN_MS = 250
const FIRST_MS = 1000
const MAX_MS = 3333
const SUSPECT_MS = 3000

function list(clock: ManualClock): ServerList {
  return new ServerList({
    servers: SERVERS,
    minHandshakeTimeoutMs: MIN_MS,
    firstHandshakeTimeoutMs: FIRST_MS,
    handshakeTimeoutMs: MAX_MS,
    serverSuspectMs: SUSPECT_MS,
    clock,
  })
}

const handshakeTimedOut: ConnectionEnd = {
  wasConnected: false,
  answeredAfterMs: undefined,
  code: LocalClose.TIMEOUT,
  reason: 'handshake timed out',
  local: true,
}
const pingsUnanswered: ConnectionEnd = {
  ...handshakeTimedOut,
  wasConnected: true,
  answeredAfterMs: 5,
}
const refused: ConnectionEnd = {
  wasConnected: false,
  answeredAfterMs: 5,
  code: LocalClose.NORMAL,
  reason: 'refused',
  local: true,
}
const socketFailed: ConnectionEnd = {
  wasConnected: false,
  answeredAfterMs: undefined,
  code: LocalClose.PROTOCOL_ERROR,
  reason: 'cannot open socket',
  local: true,
}

describe('ServerList', () => {
  it('offers every server, in some order, while none has timed out', () => {
    const servers = list(new ManualClock())
    expect([...servers.round()].sort()).toEqual(SERVERS)
    for (const url of SERVERS) expect(servers.handshakeTimeoutMs(url)).toBe(FIRST_MS)
  })

  it('leaves a server that stopped answering out of rounds for serverSuspectMs, then offers it again', () => {
    const clock = new ManualClock()
    const servers = list(clock)
    servers.onEnd('ws://b:2', pingsUnanswered)
    expect([...servers.round()].sort()).toEqual(['ws://a:1', 'ws://c:3'])
    clock.advance(SUSPECT_MS - 1)
    expect(servers.round()).not.toContain('ws://b:2')
    clock.advance(1)
    expect(servers.round()).toContain('ws://b:2')
    // Its handshake had been quick: it keeps the short handshake time learned from it.
    expect(servers.handshakeTimeoutMs('ws://b:2')).toBe(MIN_MS)
  })

  it('offers every server when all are suspects, and doubles the time of each that timed out its handshake', () => {
    const servers = list(new ManualClock())
    for (const url of SERVERS) servers.onEnd(url, handshakeTimedOut)
    expect([...servers.round()].sort()).toEqual(SERVERS)
    expect(servers.handshakeTimeoutMs('ws://a:1')).toBe(2 * FIRST_MS)
    servers.onEnd('ws://a:1', handshakeTimedOut)
    // Capped by the old per-server bound (session timeout / servers).
    expect(servers.handshakeTimeoutMs('ws://a:1')).toBe(MAX_MS)
  })

  it('gives servers a few times the slowest handshake answer seen, within its bounds', () => {
    const servers = list(new ManualClock())
    const answeredAfter = (ms: number): ConnectionEnd => ({ ...refused, answeredAfterMs: ms })
    servers.onEnd('ws://a:1', answeredAfter(10))
    expect(servers.handshakeTimeoutMs('ws://b:2')).toBe(MIN_MS)
    servers.onEnd('ws://b:2', answeredAfter(150))
    expect(servers.handshakeTimeoutMs('ws://c:3')).toBe(600)
    // A quicker answer later does not shrink it: the link has been seen that slow.
    servers.onEnd('ws://b:2', answeredAfter(10))
    expect(servers.handshakeTimeoutMs('ws://c:3')).toBe(600)
    servers.onEnd('ws://c:3', answeredAfter(400))
    expect(servers.handshakeTimeoutMs('ws://c:3')).toBe(FIRST_MS)
  })

  it('clears a server once it answers (even with a refusal), not when its socket merely failed', () => {
    const servers = list(new ManualClock())
    servers.onEnd('ws://a:1', handshakeTimedOut)
    servers.onEnd('ws://a:1', socketFailed)
    expect(servers.round()).not.toContain('ws://a:1')
    expect(servers.handshakeTimeoutMs('ws://a:1')).toBe(2 * FIRST_MS)
    servers.onEnd('ws://a:1', refused)
    expect(servers.round()).toContain('ws://a:1')
    expect(servers.handshakeTimeoutMs('ws://a:1')).toBe(MIN_MS)
  })
})
