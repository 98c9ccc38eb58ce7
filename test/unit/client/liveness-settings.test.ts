/*
 * Goal: the ping rules' durations follow the session timeout as documented (docs/api.md)
 * and a user's overrides are checked and kept within the session's bounds. Method: the
 * pure settings functions, for the default session timeout and a short one.
 */
import { describe, expect, it } from 'vitest'
import { BadArgumentsError } from '../../../client/index.js'
import { livenessSettings } from '../../../client/liveness.js'
import { clientSettings } from '../../../client/options.js'

describe('livenessSettings', () => {
  it('with the default 10 s session: keepalive 3.3 s, probe after 0.5 s, ping deadline 1 s', () => {
    expect(livenessSettings(10_000)).toEqual({
      keepaliveMs: 10_000 / 3,
      pingIntervalMs: 500,
      pingTimeoutMs: 1000,
      silentMaxMs: 20_000 / 3,
    })
  })

  it('with a short session every duration is a third of it, so a stall is noticed well inside it', () => {
    const rules = livenessSettings(900)
    expect(rules).toEqual({
      keepaliveMs: 300,
      pingIntervalMs: 300,
      pingTimeoutMs: 300,
      silentMaxMs: 600,
    })
    expect(rules.pingIntervalMs + rules.pingTimeoutMs).toBeLessThanOrEqual(rules.silentMaxMs)
  })

  it("keeps a user's overrides, the ping deadline no longer than two thirds of the session", () => {
    expect(livenessSettings(10_000, { pingIntervalMs: 200, pingTimeoutMs: 3000 })).toMatchObject({
      pingIntervalMs: 200,
      pingTimeoutMs: 3000,
    })
    expect(livenessSettings(3000, { pingTimeoutMs: 5000 }).pingTimeoutMs).toBe(2000)
  })
})

describe('clientSettings ping and handshake options', () => {
  it('gives a first handshake the ping deadline and keeps the per-server bound for retries', () => {
    const settings = clientSettings({ servers: ['ws://a:1', 'ws://b:2', 'ws://c:3'] })
    expect(settings).toMatchObject({
      firstHandshakeTimeoutMs: 1000,
      minHandshakeTimeoutMs: 250,
      handshakeTimeoutMs: 10_000 / 3,
      serverSuspectMs: 10_000 / 3,
      liveness: {},
    })
    expect(
      clientSettings({ servers: ['ws://a:1'], pingIntervalMs: 100, pingTimeoutMs: 400 }),
    ).toMatchObject({
      liveness: { pingIntervalMs: 100, pingTimeoutMs: 400 },
      firstHandshakeTimeoutMs: 400,
    })
  })

  it('refuses ping durations that are not positive', () => {
    expect(() => clientSettings({ servers: ['ws://a:1'], pingIntervalMs: 0 })).toThrow(
      BadArgumentsError,
    )
    expect(() => clientSettings({ servers: ['ws://a:1'], pingTimeoutMs: -5 })).toThrow(
      BadArgumentsError,
    )
  })
})
