/**
 * Vote order: (currentEpoch, last logged zxid, server id), a total order, and the
 * deliberate `vote-ignores-zxid` bug that drops the middle key. Examples pin the
 * order; fast-check checks it is antisymmetric and transitive.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { compareVotes, isAhead, type Vote } from '../../../server/core/index.js'

const vote = fc.record({
  leader: fc.integer({ min: 1, max: 5 }),
  epoch: fc.integer({ min: 0, max: 3 }),
  zxid: fc.bigInt({ min: 0n, max: 5n }),
})

describe('vote order', () => {
  test('epoch first, then zxid, then server id', () => {
    const a: Vote = { leader: 1, epoch: 2, zxid: 1n }
    expect(compareVotes(a, { leader: 9, epoch: 1, zxid: 99n })).toBeGreaterThan(0)
    expect(compareVotes(a, { leader: 9, epoch: 2, zxid: 0n })).toBeGreaterThan(0)
    expect(compareVotes(a, { leader: 9, epoch: 2, zxid: 1n })).toBeLessThan(0)
    expect(compareVotes(a, { ...a })).toBe(0)
  })

  test('with vote-ignores-zxid the id decides where the zxid should have', () => {
    const longLog: Vote = { leader: 1, epoch: 2, zxid: 10n }
    const shortLog: Vote = { leader: 2, epoch: 2, zxid: 1n }
    expect(compareVotes(longLog, shortLog)).toBeGreaterThan(0)
    expect(compareVotes(longLog, shortLog, 'vote-ignores-zxid')).toBeLessThan(0)
    expect(isAhead({ epoch: 2, zxid: 10n }, { epoch: 2, zxid: 1n })).toBe(true)
    expect(isAhead({ epoch: 2, zxid: 10n }, { epoch: 2, zxid: 1n }, 'vote-ignores-zxid')).toBe(
      false,
    )
  })

  test('the order is total: antisymmetric and transitive', () => {
    fc.assert(
      fc.property(vote, vote, vote, (a, b, c) => {
        expect(Math.sign(compareVotes(a, b)) + Math.sign(compareVotes(b, a))).toBe(0)
        if (compareVotes(a, b) >= 0 && compareVotes(b, c) >= 0)
          expect(compareVotes(a, c)).toBeGreaterThanOrEqual(0)
        if (compareVotes(a, b) === 0) expect(a).toEqual(b)
      }),
    )
  })
})
