/**
 * Text and JSON forms of histories and verdicts. Goal: a saved history loads back
 * equal (bigints included) so a failing run's artifact can be re-checked, malformed
 * artifacts are refused with typed errors, and a failure report names the path, the
 * prefix and the op that could not be placed. Method: round trips and substring checks
 * on small hand-made histories.
 */
import { describe, expect, it } from 'vitest'
import {
  loadHistory,
  renderHistory,
  renderLinearizabilityReport,
  renderOperation,
  renderSessionReport,
  saveHistory,
} from './format.js'
import { HistoryBuilder, absent, create, del, fail, ok, read, saw, set } from './history-builder.js'
import { HistoryError } from './history.js'
import { checkLinearizable } from './linearizable.js'
import { checkSessionGuarantees } from './session-guarantees.js'
import { seededRandom } from './seeded-random.js'
import { simulateHistory } from './simulated-history.js'

function sample(): HistoryBuilder {
  const h = new HistoryBuilder()
  h.add(1, [0, 10], create('/a', 'x'), ok(0, (1n << 32n) + 1n), 0x1000_0000_0000_0001n)
  h.add(1, [20, 30], set('/a', 'y', 0), ok(1, (1n << 32n) + 2n))
  h.add(2, [25, 35], del('/a', 7), fail('BAD_VERSION'))
  h.unknown(3, 40, set('/a', 'z'))
  h.plain(
    2,
    [50, 60],
    '/a',
    saw('y', 1, { zxid: (1n << 32n) + 2n, mzxid: (1n << 32n) + 2n }),
    (1n << 32n) + 2n,
  )
  h.add(4, [70, 80], read('/b'), absent())
  return h
}

describe('saveHistory / loadHistory', () => {
  it('round-trips every field, bigints included', () => {
    const history = sample().history()
    expect(loadHistory(saveHistory(history))).toEqual(history)
  })

  it('round-trips a simulated run and the verdict stays the same', () => {
    const history = simulateHistory(
      {
        operationCount: 300,
        pathCount: 3,
        clientCount: 5,
        unknownRate: 0.05,
        plainReadRate: 0.3,
        latencyTicksMax: 10,
        thinkTicksMax: 3,
      },
      seededRandom(7),
    )
    const loaded = loadHistory(saveHistory(history))
    expect(loaded).toEqual(history)
    expect(checkLinearizable(loaded).result).toBe('ok')
  })

  it('refuses documents that are not saved histories', () => {
    const codeOf = (text: string): string | undefined => {
      try {
        loadHistory(text)
      } catch (err) {
        if (err instanceof HistoryError) return err.code
        throw err
      }
      return undefined
    }
    expect(codeOf('{')).toBe('BAD_FORMAT')
    expect(codeOf('{"format":"other","version":1,"operations":[]}')).toBe('BAD_FORMAT')
    expect(codeOf('{"format":"conclave-history","version":99,"operations":[]}')).toBe('BAD_FORMAT')
    const saved = JSON.parse(saveHistory(sample().history())) as {
      operations: Record<string, unknown>[]
    }
    saved.operations[0]!.sessionId = 12
    expect(codeOf(JSON.stringify(saved))).toBe('BAD_FORMAT')
    saved.operations[0]!.sessionId = '12'
    saved.operations[0]!.callTime = 'soon'
    expect(codeOf(JSON.stringify(saved))).toBe('BAD_TIME')
  })
})

describe('renderings', () => {
  it('renders an operation with its interval, request and reply', () => {
    const [first, , third, fourth, fifth] = sample().history()
    expect(renderOperation(first!)).toBe(
      '#1 c1 s0x1000000000000001 [0..10] create /a "x" -> ok v0 zxid 0x1_00000001',
    )
    expect(renderOperation(third!)).toBe('#3 c2 s0x2 [25..35] delete /a if v7 -> BAD_VERSION')
    expect(renderOperation(fourth!)).toBe(
      '#4 c3 s0x3 [40..?] set /a "z" any -> ? (unknown outcome)',
    )
    expect(renderOperation(fifth!)).toContain(
      'read /a (plain @0x1_00000002) -> ok "y" v1 mzxid 0x1_00000002',
    )
    expect(renderHistory(sample().history(), { path: '/b' })).toBe(
      '#6 c4 s0x4 [70..80] read /b -> ok absent',
    )
  })

  it('explains an illegal path: prefix, state after it, and the op that did not fit', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0))
    h.add(1, [20, 30], set('/a', 'y'), ok(1))
    h.add(2, [40, 50], read('/a'), saw('x', 0))
    const text = renderLinearizabilityReport(checkLinearizable(h.history()))
    expect(text).toContain('linearizability: illegal')
    expect(text).toContain('path /a is not linearizable')
    expect(text).toContain('Longest linearizable prefix: 2 op(s)')
    expect(text).toContain('State after the prefix: "y"@v1')
    expect(text).toMatch(/#3 .* read \/a -> ok "x" v0 {4}<- model expected saw "y"@v1/)
  })

  it('renders unknown paths with their reason and session violations with their ops', () => {
    const h = new HistoryBuilder()
    h.add(0, [0, 1], create('/a', 'v0'), ok(0))
    for (let i = 1; i <= 6; i += 1) h.add(i, [10, 100], set('/a', `v${i}`), ok(i))
    expect(
      renderLinearizabilityReport(checkLinearizable(h.history(), { maxStepsPerPath: 3 })),
    ).toContain('/a: unknown (step-budget)')
    const s = new HistoryBuilder()
    s.plain(1, [0, 10], '/a', absent(), 10n)
    s.plain(1, [20, 30], '/a', absent(), 9n)
    const text = renderSessionReport(checkSessionGuarantees(s.history()))
    expect(text).toContain('1 violation(s)')
    expect(text).toContain('zxid-went-back in session 0x1')
    expect(text).toContain('#2 c1 s0x1 [20..30] read /a (plain @0x0_00000009)')
  })
})
