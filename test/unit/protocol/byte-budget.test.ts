/**
 * batchesWithin cuts every byte-bounded peer message (proposal batches, DIFF parts,
 * SNAP chunks): the batches together are the items in order, each within the budget
 * and the count unless a single item is larger alone, and none closes early.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { batchesWithin } from '../../../protocol/index.js'

describe('batchesWithin', () => {
  test('property: in order, never empty, within bytes and count (an oversized item alone), closed only when the next would not fit', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 120 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 200 }),
        fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
        (sizes, bytesMax, countMax) => {
          const items = sizes.map((size, index) => ({ index, size }))
          const batches = [...batchesWithin(items, (item) => item.size, { bytesMax, countMax })]
          expect(batches.flat()).toEqual(items)
          batches.forEach((batch, i) => {
            const bytes = batch.reduce((n, item) => n + item.size, 0)
            expect(batch.length).toBeGreaterThan(0)
            if (batch.length > 1) expect(bytes).toBeLessThanOrEqual(bytesMax)
            if (countMax !== undefined) expect(batch.length).toBeLessThanOrEqual(countMax)
            const next = batches[i + 1]?.[0]
            if (next !== undefined && (countMax === undefined || batch.length < countMax))
              expect(bytes + next.size).toBeGreaterThan(bytesMax)
          })
        },
      ),
      { numRuns: 500 },
    )
  })

  test('is lazy: an iterator is walked only as far as the batches taken', () => {
    let pulled = 0
    function* endless() {
      for (;;) yield ++pulled
    }
    const first = batchesWithin(endless(), () => 10, { bytesMax: 30 }).next().value
    expect(first).toEqual([1, 2, 3])
    expect(pulled).toBe(4)
  })
})
