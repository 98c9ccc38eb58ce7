/**
 * equalBytesConstantTime: the reconnect password check. Correctness is checked against
 * Node's Buffer comparison on random pairs (equal, equal length with differences, and
 * different lengths); the constant-time part is a property of the code (no early exit
 * on equal lengths), which a timing test on a shared machine could not prove reliably.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { equalBytesConstantTime } from '../../../server/sessions/index.js'

describe('equalBytesConstantTime', () => {
  it('agrees with Buffer.equals on random byte strings', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 32 }), fc.uint8Array({ maxLength: 32 }), (a, b) => {
        expect(equalBytesConstantTime(a, b)).toBe(Buffer.from(a).equals(Buffer.from(b)))
      }),
    )
  })

  it('finds a single flipped bit anywhere in equal-length strings', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (a, index, bit) => {
          const b = a.slice()
          const i = index % b.length
          b[i] = b[i]! ^ (1 << bit)
          expect(equalBytesConstantTime(a, b)).toBe(false)
          expect(equalBytesConstantTime(a, a.slice())).toBe(true)
        },
      ),
    )
  })

  it('treats two empty strings as equal and a prefix as different', () => {
    expect(equalBytesConstantTime(new Uint8Array(0), new Uint8Array(0))).toBe(true)
    expect(equalBytesConstantTime(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBe(false)
  })
})
