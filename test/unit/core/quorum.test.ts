/**
 * Quorum math: majority sizes, quorum membership with duplicates and non-voters,
 * and the "highest zxid held by a quorum" used for commits, checked on examples and
 * against a brute-force definition with fast-check.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { QuorumSpec } from '../../../server/core/index.js'
import { ConfigError } from '../../../server/core/index.js'

describe('QuorumSpec', () => {
  test('a quorum is a strict majority of voters', () => {
    expect(
      [1, 2, 3, 4, 5, 6, 7].map(
        (n) => new QuorumSpec(Array.from({ length: n }, (_, i) => i + 1)).size,
      ),
    ).toEqual([1, 2, 2, 3, 3, 4, 4])
  })

  test('isQuorum counts distinct voters only', () => {
    const q = new QuorumSpec([1, 2, 3, 4, 5])
    expect(q.isQuorum([1, 2])).toBe(false)
    expect(q.isQuorum([1, 2, 2, 2])).toBe(false)
    expect(q.isQuorum([1, 2, 9, 10])).toBe(false)
    expect(q.isQuorum([5, 3, 1])).toBe(true)
  })

  test('an empty or duplicated voter list is refused', () => {
    expect(() => new QuorumSpec([])).toThrow(ConfigError)
    expect(() => new QuorumSpec([1, 1, 2])).toThrow(/duplicate/)
  })

  test('quorumZxid is the highest zxid a quorum has reached (missing voters count as zero)', () => {
    const q = new QuorumSpec([1, 2, 3])
    expect(q.quorumZxid(new Map([[1, 10n]]))).toBe(0n)
    expect(
      q.quorumZxid(
        new Map([
          [1, 10n],
          [2, 7n],
        ]),
      ),
    ).toBe(7n)
    expect(
      q.quorumZxid(
        new Map([
          [1, 10n],
          [2, 7n],
          [3, 9n],
        ]),
      ),
    ).toBe(9n)
    expect(
      q.quorumZxid(
        new Map([
          [1, 10n],
          [2, 7n],
          [3, 9n],
          [99, 50n],
        ]),
      ),
    ).toBe(9n)
  })

  test('quorumZxid matches its definition on random positions', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.array(fc.bigInt({ min: 0n, max: 20n }), { minLength: 7, maxLength: 7 }),
        (n, values) => {
          const voters = Array.from({ length: n }, (_, i) => i + 1)
          const q = new QuorumSpec(voters)
          const positions = new Map(voters.map((id, i) => [id, values[i] as bigint]))
          const got = q.quorumZxid(positions)
          const holding = (z: bigint) =>
            voters.filter((id) => (positions.get(id) ?? 0n) >= z).length
          expect(holding(got)).toBeGreaterThanOrEqual(q.size)
          expect(holding(got + 1n)).toBeLessThan(q.size)
        },
      ),
    )
  })

  test('quorumMinimum is the highest count a quorum reports', () => {
    const q = new QuorumSpec([1, 2, 3, 4, 5])
    expect(
      q.quorumMinimum(
        new Map([
          [1, 9],
          [2, 8],
          [3, 1],
        ]),
        0,
      ),
    ).toBe(1)
    expect(
      q.quorumMinimum(
        new Map([
          [1, 9],
          [2, 8],
          [3, 7],
          [4, 2],
        ]),
        0,
      ),
    ).toBe(7)
  })
})
