/**
 * The rules of the peer port's handshake slots (HandshakeSlots) and of the rate limit
 * on the log lines strangers can cause (LogLimiter), without sockets or timers.
 *
 * What must hold: one address holds at most its bound; strangers together hold at most
 * theirs; a newcomer at a full bound displaces the oldest silent connection, else the
 * oldest that only sent a hello, and is refused only when every one is vouched for by
 * an admission token; a member address's slots are never taken or displaced by a
 * stranger from another address, however full the strangers' pool; released slots are
 * reusable. The log limiter writes at most its
 * lines per window and says afterwards how many it suppressed.
 */
import { describe, expect, it } from 'vitest'
import pino from 'pino'
import { LogLimiter } from '../../../server/net/log-limiter.js'
import {
  HandshakeSlots,
  normalizeAddress,
  type Admission,
  type PendingHandshake,
} from '../../../server/net/peer-admission.js'

const MEMBER = '10.0.0.1'
const slotsWith = (
  limits: Partial<{
    perAddressMax: number
    memberPerAddressMax: number
    strangersMax: number
  }> = {},
) =>
  new HandshakeSlots(
    { perAddressMax: 2, memberPerAddressMax: 3, strangersMax: 3, ...limits },
    (a) => a === MEMBER,
  )

function admitted(admission: Admission): PendingHandshake {
  if (!admission.admitted) throw new Error(`refused (${admission.limit})`)
  return admission.slot
}

describe('the bound per address', () => {
  it('lets a newcomer displace the oldest silent connection of its address', () => {
    const slots = slotsWith()
    const first = admitted(slots.admit('192.0.2.7'))
    const second = admitted(slots.admit('192.0.2.7'))
    const third = slots.admit('192.0.2.7')
    expect(third).toMatchObject({ admitted: true, evicted: first, limit: 'perAddress' })
    expect(slots.counts()).toEqual({ pending: 2, strangers: 2, addresses: 1 })
    // The next displaces the second: the oldest still silent.
    expect(slots.admit('192.0.2.7')).toMatchObject({ admitted: true, evicted: second })
  })

  it('displaces the oldest hello-only connection when none is silent, and refuses only when all are vouched', () => {
    const slots = slotsWith()
    const first = admitted(slots.admit('192.0.2.7'))
    const second = admitted(slots.admit('192.0.2.7'))
    slots.helloAccepted(first)
    slots.helloAccepted(second)
    expect(slots.admit('192.0.2.7')).toMatchObject({ admitted: true, evicted: first })
    const vouched = [second, ...[0, 1].map(() => admitted(slots.admit('192.0.2.7')))]
    expect(slots.counts().pending).toBe(2)
    for (const slot of vouched) slots.vouch(slot)
    expect(slots.admit('192.0.2.7')).toEqual({ admitted: false, limit: 'perAddress' })
    // Another address is not affected by this one's bound.
    expect(slots.admit('192.0.2.8').admitted).toBe(true)
  })

  it('displaces silent connections before those that sent a hello', () => {
    const slots = slotsWith()
    const helloed = admitted(slots.admit('192.0.2.7'))
    slots.helloAccepted(helloed)
    const silent = admitted(slots.admit('192.0.2.7'))
    expect(slots.admit('192.0.2.7')).toMatchObject({ admitted: true, evicted: silent })
  })

  it('frees a slot on release, once', () => {
    const slots = slotsWith()
    const a = admitted(slots.admit('192.0.2.7'))
    slots.vouch(a)
    slots.vouch(admitted(slots.admit('192.0.2.7')))
    slots.release(a)
    slots.release(a)
    expect(slots.counts()).toEqual({ pending: 1, strangers: 1, addresses: 1 })
    slots.vouch(admitted(slots.admit('192.0.2.7')))
    expect(slots.admit('192.0.2.7')).toEqual({ admitted: false, limit: 'perAddress' })
  })
})

describe("the strangers' pool", () => {
  it('bounds all non-member addresses together, displacing the oldest silent stranger', () => {
    const slots = slotsWith({ strangersMax: 3 })
    const oldest = admitted(slots.admit('192.0.2.1'))
    admitted(slots.admit('192.0.2.2'))
    admitted(slots.admit('192.0.2.3'))
    expect(slots.admit('192.0.2.4')).toMatchObject({
      admitted: true,
      evicted: oldest,
      limit: 'strangers',
    })
    expect(slots.counts().strangers).toBe(3)
  })

  it('refuses strangers once every stranger slot is vouched', () => {
    const slots = slotsWith({ strangersMax: 2 })
    slots.vouch(admitted(slots.admit('192.0.2.1')))
    slots.vouch(admitted(slots.admit('192.0.2.2')))
    expect(slots.admit('192.0.2.3')).toEqual({ admitted: false, limit: 'strangers' })
  })
})

describe("the members' reserve", () => {
  it('admits a member address whatever the strangers hold, and strangers never displace its slots', () => {
    const slots = slotsWith({ strangersMax: 2, memberPerAddressMax: 2 })
    const memberSlot = admitted(slots.admit(MEMBER)) // silent so far: displaceable, but only from its own address
    admitted(slots.admit('192.0.2.1'))
    slots.helloAccepted(admitted(slots.admit('192.0.2.2')))
    for (let i = 0; i < 10; i++) {
      const admission = slots.admit(`192.0.2.${10 + i}`)
      expect(admission).toMatchObject({ admitted: true, limit: 'strangers' })
      expect(admission.admitted && admission.evicted?.fromMemberAddress).toBe(false)
    }
    expect(slots.admit(MEMBER)).toEqual({ admitted: true, slot: expect.anything() })
    expect(slots.counts()).toEqual({ pending: 4, strangers: 2, addresses: 3 })
    // Only a newcomer from the member's own address can displace its silent slot.
    expect(slots.admit(MEMBER)).toMatchObject({ admitted: true, evicted: memberSlot })
  })
})

describe('normalizeAddress', () => {
  it('unwraps IPv4-mapped IPv6 and lower-cases IPv6', () => {
    expect(normalizeAddress('::ffff:127.0.0.1')).toBe('127.0.0.1')
    expect(normalizeAddress('FE80::1')).toBe('fe80::1')
    expect(normalizeAddress('10.1.2.3')).toBe('10.1.2.3')
    expect(normalizeAddress(undefined)).toBe('?')
  })
})

describe('LogLimiter', () => {
  it('writes at most linesMax lines per window and then says how many it suppressed', () => {
    const lines: Record<string, unknown>[] = []
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    )
    let now = 0
    const limiter = new LogLimiter(logger, { linesMax: 3, windowMs: 1000 }, () => now)
    const written = Array.from({ length: 10 }, (_, i) => limiter.warn({ i }, 'refused'))
    expect(written).toEqual([true, true, true, false, false, false, false, false, false, false])
    expect(lines.map((l) => l.i)).toEqual([0, 1, 2])
    now = 999
    expect(limiter.warn({ i: 10 }, 'refused')).toBe(false)
    now = 1000
    expect(limiter.warn({ i: 11 }, 'refused')).toBe(true)
    expect(lines.at(-1)).toMatchObject({ i: 11, suppressedBefore: 8, msg: 'refused' })
    expect(limiter.warn({ i: 12 }, 'refused')).toBe(true)
    expect(lines.at(-1)).not.toHaveProperty('suppressedBefore')
  })
})
