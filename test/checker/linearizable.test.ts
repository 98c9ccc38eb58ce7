/**
 * checkLinearizable on hand-made histories. Goal: each classic anomaly a replicated
 * store can show (stale read, lost acknowledged write, version skip, double create,
 * a value nobody wrote, a delete undone) is reported illegal on the right path with an
 * explanation naming the op that cannot be placed; legal histories with overlapping
 * ops and unknown outcomes pass; budgets turn into 'unknown', never 'ok'.
 * Method: small timelines written with HistoryBuilder, checked with exact expectations.
 */
import { describe, expect, it } from 'vitest'
import { HistoryBuilder, absent, create, del, fail, ok, read, saw, set } from './history-builder.js'
import { HistoryError, type History } from './history.js'
import { checkLinearizable } from './linearizable.js'

function expectIllegal(history: History, path: string, culpritId: number): void {
  const report = checkLinearizable(history)
  expect(report.result).toBe('illegal')
  expect(report.witness?.path).toBe(path)
  const culprit = report.witness?.candidates.find((c) => c.op.id === culpritId)
  expect(culprit, 'culprit among the candidates that could not be placed').toBeDefined()
  expect(culprit?.fits).toBe(false)
}

describe('illegal histories', () => {
  it('stale read after an acknowledged write', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0))
    h.add(1, [20, 30], set('/a', 'y'), ok(1))
    const stale = h.add(2, [40, 50], read('/a'), saw('x', 0))
    expectIllegal(h.history(), '/a', stale.id)
    const witness = checkLinearizable(h.history()).witness
    expect(witness?.prefix.map((op) => op.id)).toEqual([1, 2])
    expect(witness?.stateAfterPrefix).toEqual({ exists: true, value: 'y', version: 1 })
  })

  it('lost acknowledged write: a created node later reads as missing', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0))
    const lost = h.add(2, [20, 30], read('/a'), fail('NO_NODE'))
    expectIllegal(h.history(), '/a', lost.id)
  })

  it('lost acknowledged write: two acknowledged sets, the version shows only one', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0))
    h.add(1, [20, 30], set('/a', 'y'), ok(1))
    const second = h.add(2, [40, 50], set('/a', 'z'), ok(1))
    expectIllegal(h.history(), '/a', second.id)
  })

  it('version skip: a set after a create reports version 2', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0))
    const skip = h.add(1, [20, 30], set('/a', 'y'), ok(2))
    expectIllegal(h.history(), '/a', skip.id)
  })

  it('double successful create of the same node, even when concurrent', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0))
    h.add(2, [5, 15], create('/a', 'y'), ok(0))
    const report = checkLinearizable(h.history())
    expect(report.result).toBe('illegal')
    expect(report.witness?.candidates.some((c) => !c.fits && c.expected.ok === false)).toBe(true)
  })

  it('read of a value never written', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0))
    h.add(2, [5, 25], set('/a', 'y'), ok(1))
    const ghost = h.add(3, [0, 30], read('/a'), saw('ghost', 1))
    expectIllegal(h.history(), '/a', ghost.id)
  })

  it('delete seen, then the old value read again', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0))
    h.add(1, [20, 30], del('/a'), ok())
    h.add(2, [40, 50], read('/a'), absent())
    const undone = h.add(2, [60, 70], read('/a'), saw('x', 0))
    expectIllegal(h.history(), '/a', undone.id)
  })

  it('conditional write that should have failed: set on a stale version succeeds', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0))
    h.add(1, [20, 30], set('/a', 'y', 0), ok(1))
    const cas = h.add(2, [40, 50], set('/a', 'z', 0), ok(1))
    expectIllegal(h.history(), '/a', cas.id)
  })

  it('an unknown write cannot be seen before it was called', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0))
    const early = h.add(2, [20, 30], read('/a'), saw('y', 1))
    h.unknown(3, 40, set('/a', 'y'))
    expectIllegal(h.history(), '/a', early.id)
  })

  it('closed intervals: a read called strictly after a write returned must see it', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0))
    h.add(1, [10, 20], set('/a', 'y'), ok(1))
    h.add(2, [21, 30], read('/a'), saw('x', 0))
    expect(checkLinearizable(h.history()).result).toBe('illegal')
  })
})

describe('legal histories', () => {
  it('closed intervals: a read called at the instant a write returned may still see the old value', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0))
    h.add(1, [10, 20], set('/a', 'y'), ok(1))
    h.add(2, [20, 30], read('/a'), saw('x', 0))
    expect(checkLinearizable(h.history()).result).toBe('ok')
  })

  it('heavy concurrency: eight overlapping sets and reads that saw them in some order', () => {
    const h = new HistoryBuilder()
    h.add(0, [0, 5], create('/a', 'v0'), ok(0))
    // Sets 1..8 all overlap; their versions reveal the order 8, 7, ..., 1.
    for (let i = 1; i <= 8; i += 1) h.add(i, [10 + i, 100 - i], set('/a', `v${i}`), ok(9 - i))
    // Reads inside the window see intermediate states; one after it sees the last.
    h.add(20, [12, 95], read('/a'), saw('v8', 1))
    h.add(21, [12, 95], read('/a'), saw('v5', 4))
    h.add(22, [30, 96], read('/a'), saw('v2', 7))
    h.add(23, [101, 110], read('/a'), saw('v1', 8))
    h.add(24, [0, 200], del('/a', 8), ok())
    expect(checkLinearizable(h.history()).result).toBe('ok')
  })

  it('unknown outcomes: one write that happened, one that never did, one failed create', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0))
    h.unknown(2, 15, set('/a', 'happened'))
    h.unknown(3, 16, set('/a', 'never', 7))
    h.unknown(4, 17, create('/a', 'dup'))
    h.add(5, [40, 50], read('/a'), saw('happened', 1))
    h.add(5, [60, 70], set('/a', 'z', 1), ok(2))
    h.add(6, [80, 90], read('/a'), saw('z', 2))
    expect(checkLinearizable(h.history()).result).toBe('ok')
  })

  it('an unknown delete may take effect long after its call', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0))
    h.unknown(2, 20, del('/a'))
    h.add(3, [30, 40], read('/a'), saw('x', 0))
    h.add(3, [50, 60], read('/a'), saw('x', 0))
    h.add(3, [70, 80], read('/a'), absent())
    expect(checkLinearizable(h.history()).result).toBe('ok')
  })

  it('a missing node may be read as exists:false or as NO_NODE, and delete then create restarts at version 0', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 5], read('/a'), fail('NO_NODE'))
    h.add(1, [6, 10], read('/a'), absent())
    h.add(1, [11, 15], create('/a', 'x'), ok(0))
    h.add(1, [16, 20], set('/a', 'y'), ok(1))
    h.add(1, [21, 25], del('/a', 1), ok())
    h.add(1, [26, 30], create('/a', 'z'), ok(0))
    h.add(1, [31, 35], read('/a'), saw('z', 0))
    h.add(1, [36, 40], del('/a', 5), fail('BAD_VERSION'))
    h.add(1, [41, 45], set('/b', 'w'), fail('NO_NODE'))
    expect(checkLinearizable(h.history()).result).toBe('ok')
  })

  it('plain reads are left to the session checker, and unknown reads constrain nothing', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0))
    h.add(1, [20, 30], set('/a', 'y'), ok(1))
    h.plain(2, [40, 50], '/a', saw('x', 0), 5n)
    h.unknown(3, 45, { kind: 'read', path: '/a' })
    const report = checkLinearizable(h.history())
    expect(report.result).toBe('ok')
    expect(report.skippedOperationCount).toBe(2)
    expect(report.checkedOperationCount).toBe(2)
  })
})

describe('paths and budgets', () => {
  function twoPathsOneBad(): History {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/good', 'x'), ok(0))
    h.add(2, [20, 30], read('/good'), saw('x', 0))
    h.add(1, [0, 10], create('/bad', 'x'), ok(0))
    h.add(2, [20, 30], read('/bad'), absent())
    h.add(1, [0, 10], create('/later', 'x'), ok(0))
    return h.history()
  }

  it('checks each path on its own and names the illegal one', () => {
    const report = checkLinearizable(twoPathsOneBad())
    expect(report.result).toBe('illegal')
    expect(report.perPath.map((p) => [p.path, p.result])).toEqual([
      ['/bad', 'illegal'],
      ['/good', 'ok'],
      ['/later', 'ok'],
    ])
    expect(report.witness?.path).toBe('/bad')
  })

  it('stopAtFirstIllegal skips the remaining paths', () => {
    const report = checkLinearizable(twoPathsOneBad(), { stopAtFirstIllegal: true })
    expect(report.result).toBe('illegal')
    expect(report.perPath.filter((p) => p.unknownReason === 'skipped').map((p) => p.path)).toEqual([
      '/good',
      '/later',
    ])
  })

  function busyHistory(): History {
    const h = new HistoryBuilder()
    h.add(0, [0, 1], create('/a', 'v0'), ok(0))
    for (let i = 1; i <= 12; i += 1) h.add(i, [10, 100], set('/a', `v${i}`), ok(i))
    h.add(20, [101, 110], read('/a'), saw('v12', 12))
    return h.history()
  }

  it('an exhausted step budget gives unknown, not ok', () => {
    expect(checkLinearizable(busyHistory()).result).toBe('ok')
    const report = checkLinearizable(busyHistory(), { maxStepsPerPath: 5 })
    expect(report.result).toBe('unknown')
    expect(report.perPath[0]?.unknownReason).toBe('step-budget')
  })

  it('an exhausted time budget gives unknown, using only the clock it is given', () => {
    let fakeNowMs = 0
    const now = (): number => (fakeNowMs += 1)
    const report = checkLinearizable(busyHistory(), { timeBudgetMs: 0, now })
    expect(report.result).toBe('unknown')
    expect(report.perPath[0]?.unknownReason).toBe('time-budget')
  })

  it('an illegal path still makes the whole result illegal when another is unknown', () => {
    const h = new HistoryBuilder()
    for (const op of busyHistory())
      h.add(op.clientId, [op.callTime, op.returnTime as number], op.input, op.output!)
    h.add(1, [0, 10], create('/bad', 'x'), ok(0))
    h.add(2, [20, 30], read('/bad'), absent())
    const full = checkLinearizable(h.history())
    const badSteps = full.perPath.find((p) => p.path === '/bad')?.steps ?? 0
    const busySteps = full.perPath.find((p) => p.path === '/a')?.steps ?? 0
    expect(badSteps).toBeLessThan(busySteps)
    const report = checkLinearizable(h.history(), { maxStepsPerPath: badSteps })
    expect(report.perPath.map((p) => p.result)).toEqual(['unknown', 'illegal'])
    expect(report.result).toBe('illegal')
  })
})

describe('bad input', () => {
  function codeOf(fn: () => unknown): string | undefined {
    try {
      fn()
    } catch (err) {
      if (err instanceof HistoryError) return err.code
      throw err
    }
    return undefined
  }

  it('refuses malformed histories and options with typed errors', () => {
    const h = new HistoryBuilder()
    const op = h.add(1, [0, 10], create('/a', 'x'), ok(0))
    expect(codeOf(() => checkLinearizable([op, op]))).toBe('DUPLICATE_ID')
    expect(codeOf(() => checkLinearizable([{ ...op, returnTime: -1 }]))).toBe('BAD_TIME')
    expect(codeOf(() => checkLinearizable([{ ...op, returnTime: null }]))).toBe('BAD_TIME')
    expect(
      codeOf(() =>
        checkLinearizable([{ ...op, input: { kind: 'create', path: 'a', value: 'x' } }]),
      ),
    ).toBe('BAD_INPUT')
    expect(
      codeOf(() =>
        checkLinearizable([
          { ...op, input: { kind: 'set', path: '/a', value: 'x', expectedVersion: -2 } },
        ]),
      ),
    ).toBe('BAD_INPUT')
    expect(
      codeOf(() => checkLinearizable([{ ...op, input: read('/a'), output: { ok: true } }])),
    ).toBe('BAD_OUTPUT')
    expect(
      codeOf(() => checkLinearizable([{ ...op, input: read('/a'), output: fail('BAD_VERSION') }])),
    ).toBe('BAD_OUTPUT')
    expect(
      codeOf(() =>
        checkLinearizable([{ ...op, output: { ok: false, code: 'NOT_EMPTY' as 'NO_NODE' } }]),
      ),
    ).toBe('BAD_OUTPUT')
    expect(codeOf(() => checkLinearizable([op], { timeBudgetMs: 10 }))).toBe('BAD_OPTION')
    expect(codeOf(() => checkLinearizable([op], { maxStepsPerPath: 0 }))).toBe('BAD_OPTION')
  })
})
