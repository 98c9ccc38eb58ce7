/**
 * SessionIdGenerator: ids follow ZooKeeper's layout (server id in the top byte, start
 * time in ms next, a counter in the low bits), so ids handed out by different servers,
 * or by one server across restarts, never collide. The tests check the layout bit by
 * bit, generate large batches and compare them as sets, and use fast-check to try many
 * server/start-time pairs.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  SessionArgumentError,
  SessionIdGenerator,
  serverIdOfSession,
} from '../../../server/sessions/index.js'

function take(generator: SessionIdGenerator, count: number): bigint[] {
  return Array.from({ length: count }, () => generator.next())
}

describe('SessionIdGenerator layout', () => {
  it('puts the server id in the top byte, 40 bits of start time next and a counter last', () => {
    const startMs = 1_700_000_123_456
    const [first, second] = take(new SessionIdGenerator(200, startMs), 2)
    expect(serverIdOfSession(first!)).toBe(200)
    expect((first! >> 16n) & ((1n << 40n) - 1n)).toBe(BigInt(startMs) & ((1n << 40n) - 1n))
    expect(first! & 0xffffn).toBe(0n)
    expect(second! - first!).toBe(1n)
  })

  it('uses server id 255 without overflowing 64 bits', () => {
    const id = new SessionIdGenerator(255, Date.UTC(2030, 0, 1)).next()
    expect(serverIdOfSession(id)).toBe(255)
    expect(id).toBeLessThan(1n << 64n)
  })

  it('never hands out 0n, which means "no session"', () => {
    const ids = take(new SessionIdGenerator(0, 0), 3)
    expect(ids).not.toContain(0n)
    expect(ids[0]).toBe(1n)
  })

  it('keeps the server byte when the counter carries past 16 bits', () => {
    const ids = take(new SessionIdGenerator(3, 1000), 70_000)
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids.every((id) => serverIdOfSession(id) === 3)).toBe(true)
  })
})

describe('SessionIdGenerator uniqueness', () => {
  it('gives disjoint ids to servers that start in the same millisecond', () => {
    const startMs = 1_700_000_000_000
    const all = [1, 2, 3].flatMap((serverId) =>
      take(new SessionIdGenerator(serverId, startMs), 20_000),
    )
    expect(new Set(all).size).toBe(all.length)
  })

  it('gives disjoint ids to restarts of one server a millisecond or more apart', () => {
    const before = take(new SessionIdGenerator(1, 1_700_000_000_000), 60_000)
    const after = take(new SessionIdGenerator(1, 1_700_000_000_001), 60_000)
    const all = new Set([...before, ...after])
    expect(all.size).toBe(before.length + after.length)
  })

  it('never collides across servers or restarts (property)', () => {
    const run = fc.record({
      serverId: fc.integer({ min: 0, max: 255 }),
      startMs: fc.integer({ min: 0, max: 2 ** 41 }),
    })
    fc.assert(
      fc.property(run, run, fc.integer({ min: 1, max: 500 }), (a, b, count) => {
        fc.pre(a.serverId !== b.serverId || Math.abs(a.startMs - b.startMs) >= 1)
        // Restarts within 40-bit wraparound only: 2^40 ms is ~35 years.
        fc.pre(a.serverId !== b.serverId || Math.abs(a.startMs - b.startMs) < 2 ** 40 - 1)
        const ids = [
          ...take(new SessionIdGenerator(a.serverId, a.startMs), count),
          ...take(new SessionIdGenerator(b.serverId, b.startMs), count),
        ]
        expect(new Set(ids).size).toBe(ids.length)
      }),
      { numRuns: 500 },
    )
  })
})

describe('SessionIdGenerator validation', () => {
  it.each([-1, 256, 1.5, Number.NaN])('refuses server id %s with a RangeError', (serverId) => {
    expect(() => new SessionIdGenerator(serverId, 0)).toThrow(RangeError)
    try {
      new SessionIdGenerator(serverId, 0)
    } catch (error) {
      expect((error as SessionArgumentError).code).toBe('BAD_SERVER_ID')
    }
  })

  it.each([-1, 0.5, Number.POSITIVE_INFINITY])('refuses start time %s', (startMs) => {
    expect(() => new SessionIdGenerator(1, startMs)).toThrow(SessionArgumentError)
  })
})
