/**
 * checkSessionGuarantees on hand-made histories of plain reads. Goal: every promise a
 * plain read keeps (design.md §1.3: never behind what its session has seen, reflects
 * its session's own writes, shows the content its zxids claim) is enforced, and what
 * is allowed (stale relative to other sessions, reordering of overlapping requests) is
 * not flagged. Method: small timelines with exact expected violations.
 */
import { describe, expect, it } from 'vitest'
import { HistoryBuilder, absent, create, del, fail, ok, read, saw, set } from './history-builder.js'
import { checkSessionGuarantees } from './session-guarantees.js'

describe('monotonic zxids within a session', () => {
  it('flags a plain read behind an earlier plain read of the same session', () => {
    const h = new HistoryBuilder()
    const first = h.plain(1, [0, 10], '/a', saw('x', 0), 10n)
    const second = h.plain(1, [20, 30], '/b', absent(), 8n)
    const report = checkSessionGuarantees(h.history())
    expect(report.ok).toBe(false)
    expect(report.violations).toHaveLength(1)
    expect(report.violations[0]?.kind).toBe('zxid-went-back')
    expect(report.violations[0]?.ops.map((op) => op.id)).toEqual([first.id, second.id])
  })

  it('holds across reconnects: one session id, any client or server', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], read('/a'), { ...saw('x', 0), zxid: 50n }, 7n)
    h.plain(2, [20, 30], '/a', saw('x', 0), 40n, 7n)
    expect(checkSessionGuarantees(h.history()).violations.map((v) => v.kind)).toEqual([
      'zxid-went-back',
    ])
  })

  it('allows overlapping requests to answer in any zxid order, and other sessions to lag', () => {
    const h = new HistoryBuilder()
    h.plain(1, [0, 10], '/a', absent(), 10n)
    h.plain(1, [5, 15], '/a', absent(), 8n)
    h.plain(2, [20, 30], '/a', absent(), 3n)
    h.plain(1, [40, 50], '/a', absent(), 10n)
    // Closed intervals: a request sent at the instant another's reply arrived overlaps it.
    h.plain(3, [0, 10], '/a', absent(), 10n)
    h.plain(3, [10, 20], '/a', absent(), 9n)
    expect(checkSessionGuarantees(h.history())).toMatchObject({
      ok: true,
      checkedOperationCount: 6,
    })
  })

  it('ignores failed and unknown writes, which carry no zxid', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], set('/a', 'y'), fail('NO_NODE'))
    h.unknown(1, 11, create('/a', 'x'))
    h.plain(1, [20, 30], '/a', absent(), 1n)
    expect(checkSessionGuarantees(h.history()).ok).toBe(true)
  })
})

describe('read your writes', () => {
  it('flags a plain read with a zxid below the session own acknowledged write, once', () => {
    const h = new HistoryBuilder()
    const write = h.add(1, [0, 10], create('/a', 'x'), ok(0, 20n))
    const readBack = h.plain(1, [20, 30], '/a', absent(), 15n)
    const report = checkSessionGuarantees(h.history())
    expect(report.violations.map((v) => v.kind)).toEqual(['read-your-writes'])
    expect(report.violations[0]?.ops.map((op) => op.id)).toEqual([write.id, readBack.id])
    expect(report.violations[0]?.path).toBe('/a')
  })

  it('flags a read whose zxid is new enough but whose node is older than the write', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], set('/a', 'y'), ok(1, 20n))
    h.plain(1, [20, 30], '/a', saw('x', 0, { mzxid: 10n }), 25n)
    expect(checkSessionGuarantees(h.history()).violations.map((v) => v.kind)).toEqual([
      'stale-content',
    ])
  })

  it('flags a node the session deleted still shown, but not one re-created since', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], del('/a'), ok(undefined, 20n))
    h.plain(1, [20, 30], '/a', saw('x', 0, { mzxid: 18n }), 25n)
    h.plain(1, [40, 50], '/a', saw('z', 0, { mzxid: 22n }), 25n)
    const report = checkSessionGuarantees(h.history())
    expect(report.violations.map((v) => [v.kind, v.ops.at(-1)?.id])).toEqual([['stale-content', 2]])
  })

  it('lets another session read older state', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], set('/a', 'y'), ok(1, 20n))
    h.plain(2, [20, 30], '/a', saw('x', 0, { mzxid: 10n }), 12n)
    expect(checkSessionGuarantees(h.history()).ok).toBe(true)
  })
})

describe('content matches zxids', () => {
  it('flags a read whose mzxid names a write of a different value or version', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], set('/a', 'y'), ok(4, 20n))
    h.plain(2, [20, 30], '/a', saw('x', 4, { mzxid: 20n }), 21n)
    h.plain(3, [20, 30], '/a', saw('y', 3, { mzxid: 20n }), 21n)
    const report = checkSessionGuarantees(h.history())
    expect(report.violations.map((v) => v.kind)).toEqual([
      'wrong-value-at-zxid',
      'wrong-value-at-zxid',
    ])
    expect(report.violations[1]?.message).toMatch(/version 3/)
  })

  it('flags a node shown as changed after the zxid the reply claims', () => {
    const h = new HistoryBuilder()
    h.plain(2, [20, 30], '/a', saw('x', 0, { mzxid: 30n }), 21n)
    expect(checkSessionGuarantees(h.history()).violations.map((v) => v.kind)).toEqual([
      'stale-content',
    ])
  })

  it('flags two successful writes with the same zxid', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 10], create('/a', 'x'), ok(0, 20n))
    h.add(2, [0, 10], create('/b', 'x'), ok(0, 20n))
    expect(checkSessionGuarantees(h.history()).violations.map((v) => v.kind)).toEqual([
      'duplicate-write-zxid',
    ])
  })
})
