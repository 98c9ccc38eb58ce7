/**
 * The admission token a dialing member sends in its upgrade request
 * (peer-admission-token.ts). What must hold: a token made with the ensemble's secret
 * for this acceptor vouches once for its dialer; a token with another secret, for
 * another acceptor, from a non-member or the wrong direction, outside the time window,
 * replayed, or malformed does not; and nothing throws on garbage.
 */
import { describe, expect, it } from 'vitest'
import {
  AdmissionTokens,
  TOKEN_WINDOW_MS,
  createAdmissionToken,
} from '../../../server/net/peer-admission-token.js'
import type { LocalIdentity } from '../../../server/net/peer-handshake.js'
import { ensembleFingerprint } from '../../../server/net/peer-members.js'
import { SECRET, membersOf } from './peer-test-kit.js'

const members = membersOf([1, 2, 3])
const identity = (selfId: number, ensembleId = ''): LocalIdentity => ({
  selfId,
  members,
  ensembleId,
  fingerprint: ensembleFingerprint(members),
})
const NOW = 1_800_000_000_000

describe('admission tokens', () => {
  it('vouch once for the member that made them with the secret', () => {
    const tokens = new AdmissionTokens(SECRET, identity(2))
    const token = createAdmissionToken(SECRET, identity(3), 2, NOW)
    expect(tokens.verify(token, NOW + 1000)).toEqual({ ok: true, dialerId: 3 })
    expect(tokens.verify(token, NOW + 2000)).toEqual({ ok: false, why: 'replayed' })
    expect(tokens.verify(createAdmissionToken(SECRET, identity(3), 2, NOW), NOW)).toEqual({
      ok: true,
      dialerId: 3,
    })
  })

  it('do not vouch with another secret, ensemble, target, direction or time', () => {
    const tokens = new AdmissionTokens(SECRET, identity(2))
    const other = new TextEncoder().encode('another-secret-of-32-bytes-xxxxx')
    expect(tokens.verify(createAdmissionToken(other, identity(3), 2, NOW), NOW)).toEqual({
      ok: false,
      why: 'bad mac',
    })
    expect(tokens.verify(createAdmissionToken(SECRET, identity(3, 'other'), 2, NOW), NOW)).toEqual({
      ok: false,
      why: 'bad mac',
    })
    expect(tokens.verify(createAdmissionToken(SECRET, identity(3), 1, NOW), NOW)).toEqual({
      ok: false,
      why: 'wrong ids',
    })
    expect(tokens.verify(createAdmissionToken(SECRET, identity(1), 2, NOW), NOW)).toEqual({
      ok: false,
      why: 'wrong ids',
    })
    expect(
      tokens.verify(createAdmissionToken(SECRET, { ...identity(3), selfId: 9 }, 2, NOW), NOW),
    ).toEqual({ ok: false, why: 'wrong ids' })
    expect(
      tokens.verify(createAdmissionToken(SECRET, identity(3), 2, NOW), NOW + TOKEN_WINDOW_MS + 1),
    ).toEqual({ ok: false, why: 'stale' })
    expect(
      tokens.verify(createAdmissionToken(SECRET, identity(3), 2, NOW + TOKEN_WINDOW_MS + 1), NOW),
    ).toEqual({ ok: false, why: 'stale' })
  })

  it('refuse garbage without throwing', () => {
    const tokens = new AdmissionTokens(SECRET, identity(2))
    const good = createAdmissionToken(SECRET, identity(3), 2, NOW)
    const flipped = good.slice(0, -1) + (good.endsWith('0') ? '1' : '0')
    expect(tokens.verify(undefined, NOW)).toEqual({ ok: false, why: 'missing' })
    for (const bad of [
      '',
      'x'.repeat(10_000),
      '3.2.1.zz.yy',
      ['a', 'b'],
      good.toUpperCase(),
      `${good}.1`,
    ]) {
      expect(tokens.verify(bad, NOW), String(bad).slice(0, 20)).toEqual({
        ok: false,
        why: 'malformed',
      })
    }
    expect(tokens.verify(flipped, NOW)).toEqual({ ok: false, why: 'bad mac' })
  })
})
