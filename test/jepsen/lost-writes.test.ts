/**
 * The lost-write count and the recorder of the Jepsen-style run, on hand-written
 * histories: each case that should count a lost write does, and the cases where the
 * final state is explained by the history count none.
 */
import { describe, expect, it } from 'vitest'
import { create, del, HistoryBuilder, ok, set } from '../checker/history-builder.js'
import { findLostWrites, type FinalState } from './lost-writes.js'
import { Recorder } from './recorder.js'

const finals = (entries: [string, FinalState][]) => new Map(entries)

describe('findLostWrites', () => {
  it('counts nothing when the final node is the last acknowledged write', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 1], create('/k', 'a'), ok(0, 0x100n))
    h.add(2, [2, 3], set('/k', 'b'), ok(1, 0x101n))
    expect(
      findLostWrites(
        h.history(),
        finals([['/k', { exists: true, value: 'b', version: 1, mzxid: 0x101n }]]),
      ),
    ).toEqual([])
  })

  it('counts an acknowledged set newer than the final mzxid', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 1], create('/k', 'a'), ok(0, 0x100n))
    const lostSet = h.add(2, [2, 3], set('/k', 'b'), ok(1, 0x205n))
    const lost = findLostWrites(
      h.history(),
      finals([['/k', { exists: true, value: 'a', version: 0, mzxid: 0x100n }]]),
    )
    expect(lost.map((l) => l.op.id)).toEqual([lostSet.id])
  })

  it('counts a write whose zxid is the final mzxid but whose value is not there', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 1], create('/k', 'a'), ok(0, 0x100n))
    expect(
      findLostWrites(
        h.history(),
        finals([['/k', { exists: true, value: 'other', version: 0, mzxid: 0x100n }]]),
      ),
    ).toHaveLength(1)
  })

  it('counts an acknowledged create after the last delete when the node is gone', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 1], create('/k', 'a'), ok(0, 0x100n))
    h.add(1, [2, 3], del('/k'), { ok: true, zxid: 0x101n })
    const recreated = h.add(2, [4, 5], create('/k', 'c'), ok(0, 0x102n))
    expect(
      findLostWrites(h.history(), finals([['/k', { exists: false }]])).map((l) => l.op.id),
    ).toEqual([recreated.id])
  })

  it('says nothing about a missing node when a delete of unknown outcome could explain it', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 1], create('/k', 'a'), ok(0, 0x100n))
    h.unknown(2, 2, del('/k'))
    expect(findLostWrites(h.history(), finals([['/k', { exists: false }]]))).toEqual([])
  })

  it('counts an acknowledged delete when the node still carries an older mzxid', () => {
    const h = new HistoryBuilder()
    h.add(1, [0, 1], create('/k', 'a'), ok(0, 0x100n))
    h.add(2, [2, 3], del('/k'), { ok: true, zxid: 0x101n })
    expect(
      findLostWrites(
        h.history(),
        finals([['/k', { exists: true, value: 'a', version: 0, mzxid: 0x100n }]]),
      ),
    ).toHaveLength(1)
  })
})

describe('Recorder', () => {
  it('keeps unknown writes, drops unknown reads and refused ops, and records replies with times', () => {
    let t = 0
    const r = new Recorder(() => t++)
    const w = r.begin(1, 5n, { kind: 'set', path: '/k', value: 'x', expectedVersion: -1 })
    const rd = r.begin(1, 5n, { kind: 'read', path: '/k' })
    const refused = r.begin(2, 6n, { kind: 'create', path: '/k', value: 'y' })
    const okRead = r.begin(2, 6n, { kind: 'read', path: '/k' })
    r.unknown(w, 'CONNECTION_LOSS')
    r.unknown(rd, 'CONNECTION_LOSS')
    r.drop(refused, 'NOT_SERVING')
    r.ok(okRead, { ok: true, exists: false, zxid: 9n }, { plainZxid: 9n, sessionId: 7n })
    const history = r.history()
    expect(history.map((op) => op.id)).toEqual([w, okRead])
    expect(history[0]?.output).toBeNull()
    expect(history[1]).toMatchObject({
      sessionId: 7n,
      plain: { zxid: 9n },
      callTime: 3,
      returnTime: 4,
    })
    expect(r.counts).toEqual({ ok: 1, failed: 0, unknown: 1, dropped: 2 })
    expect(() => r.ok(w, { ok: true })).toThrow(/not outstanding/)
  })
})
