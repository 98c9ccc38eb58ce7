/*
 * Goal: the line decisions of the recipes are right on their own: who holds, and which
 * nodes a waiter watches (never the whole line). Method: decisions on hand-made lines,
 * including the semaphore's cases where releases come out of order, checked against a
 * brute-force rule ("holds iff fewer than maxLeases are ahead").
 */
import { describe, expect, it } from 'vitest'
import { firstInLine } from '../../../client/recipes/line.js'
import { readerDecision } from '../../../client/recipes/lock.js'
import {
  newProtectionId,
  parseContender,
  protectedPrefix,
  sortedContenders,
} from '../../../client/recipes/names.js'
import { semaphoreDecision } from '../../../client/recipes/semaphore.js'

const name = (kind: string, sequence: number) =>
  `${protectedPrefix('0'.repeat(32), kind)}${String(sequence).padStart(10, '0')}`

describe('contender names', () => {
  it('parse protected and plain sequential names and order by sequence, not by name', () => {
    const id = newProtectionId()
    expect(id).toMatch(/^[0-9a-f]{32}$/)
    expect(parseContender(`${protectedPrefix(id, 'lock')}0000000042`)).toEqual({
      name: `_c_${id}-lock-0000000042`,
      sequence: 42,
      kind: 'lock',
      protectionId: id,
    })
    expect(parseContender('job-0000000007')).toMatchObject({
      sequence: 7,
      kind: '',
      protectionId: '',
    })
    expect(parseContender('ready')).toBeNull()
    const names = [
      `_c_${'f'.repeat(32)}-n-0000000003`,
      'ready',
      `_c_${'0'.repeat(32)}-n-0000000010`,
      `_c_${'a'.repeat(32)}-n-0000000001`,
    ]
    expect(sortedContenders(names).map((c) => c.sequence)).toEqual([1, 3, 10])
  })
})

describe('line decisions', () => {
  const line = (kinds: string[]) => sortedContenders(kinds.map((kind, i) => name(kind, i)))

  it('first in line holds; the others watch only the one just ahead', () => {
    const l = line(['n', 'n', 'n'])
    expect(firstInLine(l, 0)).toEqual({ holds: true })
    expect(firstInLine(l, 2)).toEqual({ holds: false, waitOn: [{ name: l[1]!.name }] })
  })

  it('a reader holds with only readers ahead and otherwise watches the last writer ahead', () => {
    const l = line(['read', 'write', 'read', 'read', 'write', 'read'])
    expect(readerDecision(l, 0)).toEqual({ holds: true })
    expect(readerDecision(l, 3)).toEqual({ holds: false, waitOn: [{ name: l[1]!.name }] })
    expect(readerDecision(l, 5)).toEqual({ holds: false, waitOn: [{ name: l[4]!.name }] })
    expect(readerDecision(line(['read', 'read', 'read']), 2)).toEqual({ holds: true })
  })

  it('the semaphore grants exactly the first maxLeases and never asks a waiter to watch more than maxLeases nodes', () => {
    for (let maxLeases = 1; maxLeases <= 4; maxLeases++) {
      for (let size = 1; size <= 9; size++) {
        const l = line(Array.from({ length: size }, () => 'lease'))
        for (let index = 0; index < size; index++) {
          const decision = semaphoreDecision(l, index, maxLeases)
          expect(decision.holds).toBe(index < maxLeases)
          if (decision.holds) continue
          expect(decision.waitOn.length).toBeLessThanOrEqual(maxLeases)
          // Every watched node is ahead of the waiter.
          for (const target of decision.waitOn)
            expect(l.findIndex((c) => c.name === target.name)).toBeLessThan(index)
          if (index === maxLeases)
            expect(decision.waitOn.map((t) => t.name)).toEqual(
              l.slice(0, maxLeases).map((c) => c.name),
            )
          else
            expect(decision.waitOn).toEqual([
              { name: l[index - 1]!.name, lookNow: expect.any(Function) },
            ])
        }
      }
    }
  })

  it('a semaphore waiter looks again at once when the one ahead already has a lease (its baton is in)', () => {
    const l = line(['lease', 'lease', 'lease', 'lease'])
    const decision = semaphoreDecision(l, 3, 2)
    if (decision.holds) throw new Error('expected a wait')
    const lookNow = decision.waitOn[0]!.lookNow!
    expect(lookNow({ version: 0 } as never)).toBe(false)
    expect(lookNow({ version: 1 } as never)).toBe(true)
  })
})
