/**
 * Building a Peer: defaults, refusal of bad configuration with a ConfigError naming
 * the field, refusal of a restored state no correct server could have written, and
 * the seeded jitter staying within its documented range.
 */
import { describe, expect, test } from 'vitest'
import { makeZxid, type Txn, type Zxid } from '../../../protocol/index.js'
import {
  CONFIG_DEFAULTS,
  ConfigError,
  Peer,
  RestoreError,
  resolveConfig,
} from '../../../server/core/index.js'
import { jitterTicks } from '../../../server/core/config.js'

const base = {
  id: 1,
  members: [1, 2, 3],
  random: () => 0.5,
  snapshotSource: () => ({ zxid: 0n, data: null }),
}
const empty = { acceptedEpoch: 0, currentEpoch: 0, snapshotZxid: 0n, log: [] }
const txn = (zxid: Zxid): Txn => ({
  zxid,
  timeMs: 0,
  sessionId: 0n,
  xid: 0,
  op: { type: 'error', code: 0 },
})

describe('config', () => {
  test('defaults fill every tunable', () => {
    const c = resolveConfig(base)
    expect(c).toMatchObject(CONFIG_DEFAULTS)
    expect(c.members).toEqual([1, 2, 3])
    expect(c.bug).toBeUndefined()
  })

  test.each([
    [{ members: [] }, /members/],
    [{ members: [2, 3] }, /not a member/],
    [{ members: [1, 1, 2] }, /duplicate/],
    [{ members: [1, 256] }, /server ids/],
    [{ leaderTimeoutTicks: 0 }, /leaderTimeoutTicks/],
    [{ initTimeoutTicks: 5, leaderTimeoutTicks: 10 }, /initTimeoutTicks/],
    [{ diffLimitTxns: 1.5 }, /diffLimitTxns/],
    [{ bug: 'typo' }, /bug/],
    [{ random: 'no' }, /random/],
  ])('refuses case %#', (override, message) => {
    expect(() => resolveConfig({ ...base, ...(override as object) })).toThrow(ConfigError)
    expect(() => resolveConfig({ ...base, ...(override as object) })).toThrow(message)
  })

  test('jitter stays in [base, 2 × base) and ignores a broken generator', () => {
    expect(jitterTicks(4, () => 0)).toBe(4)
    expect(jitterTicks(4, () => 0.999)).toBe(7)
    expect(jitterTicks(4, () => Number.NaN)).toBe(4)
    expect(jitterTicks(4, () => 7)).toBe(4)
  })
})

describe('restored state', () => {
  test.each([
    [{ currentEpoch: 2, acceptedEpoch: 1 }, /currentEpoch 2 is above acceptedEpoch 1/],
    [{ acceptedEpoch: -1 }, /acceptedEpoch/],
    [{ acceptedEpoch: 1, log: [txn(makeZxid(1, 2)), txn(makeZxid(1, 1))] }, /does not follow/],
    [
      { acceptedEpoch: 1, snapshotZxid: makeZxid(1, 5), log: [txn(makeZxid(1, 5))] },
      /does not follow/,
    ],
    [{ acceptedEpoch: 1, log: [txn(makeZxid(2, 1))] }, /never accepted/],
  ])('refuses case %#', (override, message) => {
    expect(() => new Peer(base, { ...empty, ...override })).toThrow(RestoreError)
    expect(() => new Peer(base, { ...empty, ...override })).toThrow(message)
  })

  test('a restart keeps epochs and log; the commit point is the snapshot', () => {
    const log = [txn(makeZxid(2, 1)), txn(makeZxid(2, 2))]
    const peer = new Peer(base, {
      acceptedEpoch: 3,
      currentEpoch: 2,
      snapshotZxid: makeZxid(1, 9),
      log,
    })
    const s = peer.status()
    expect(s).toMatchObject({
      role: 'looking',
      acceptedEpoch: 3,
      currentEpoch: 2,
      lastLoggedZxid: makeZxid(2, 2),
    })
    expect(s.lastCommittedZxid).toBe(makeZxid(1, 9))
    expect(s.durableZxid).toBe(makeZxid(2, 2))
    expect(peer.logTxns()).toEqual(log)
  })
})
