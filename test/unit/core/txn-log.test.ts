/**
 * TxnLog, the core's in-memory log: lookups across epoch boundaries, truncation,
 * snapshot resets and trimming of committed history, checked on examples and
 * against a plain-array model with fast-check (random appends, truncations and trims).
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { makeZxid, txnBytesBound, type Txn, type Zxid } from '../../../protocol/index.js'
import { AssertionError, TxnLog } from '../../../server/core/index.js'

const txn = (zxid: Zxid): Txn => ({
  zxid,
  timeMs: 0,
  sessionId: 0n,
  xid: 0,
  op: { type: 'error', code: 0 },
})
const z = makeZxid

describe('TxnLog', () => {
  const log = () => new TxnLog(z(1, 2), [txn(z(1, 3)), txn(z(1, 4)), txn(z(3, 1)), txn(z(3, 2))])

  test('knows its base, last zxid and which zxids it holds', () => {
    const l = log()
    expect(l.base).toBe(z(1, 2))
    expect(l.lastZxid).toBe(z(3, 2))
    expect(l.holds(z(1, 2))).toBe(true)
    expect(l.holds(z(3, 1))).toBe(true)
    expect(l.holds(z(2, 1))).toBe(false)
    expect(l.holds(z(1, 1))).toBe(false)
  })

  test('latestBefore finds the history point below a zxid, across epochs', () => {
    const l = log()
    expect(l.latestBefore(z(2, 7))).toBe(z(1, 4))
    expect(l.latestBefore(z(3, 2))).toBe(z(3, 1))
    expect(l.latestBefore(z(1, 3))).toBe(z(1, 2))
    expect(l.latestBefore(z(1, 2))).toBeUndefined()
    expect(l.latestBefore(z(9, 9))).toBe(z(3, 2))
  })

  test('after, range and countAfter slice by zxid', () => {
    const l = log()
    expect(l.after(z(1, 4)).map((t) => t.zxid)).toEqual([z(3, 1), z(3, 2)])
    expect(l.range(z(1, 2), z(3, 1)).map((t) => t.zxid)).toEqual([z(1, 3), z(1, 4), z(3, 1)])
    expect(l.countAfter(z(2, 0))).toBe(2)
  })

  test('append refuses a zxid that does not follow; truncation below the base is refused', () => {
    const l = log()
    expect(() => l.append(txn(z(3, 2)))).toThrow(AssertionError)
    expect(() => l.truncateAfter(z(1, 1))).toThrow(AssertionError)
    expect(l.truncateAfter(z(1, 4))).toBe(2)
    expect(l.lastZxid).toBe(z(1, 4))
  })

  test('trimTo keeps at most `keep` txns at or below the limit and moves the base', () => {
    const l = new TxnLog(0n)
    for (let i = 1; i <= 3000; i++) l.append(txn(z(1, i)))
    l.trimTo(z(1, 2000), 100)
    expect(l.base).toBe(z(1, 1900))
    expect(l.firstZxid).toBe(z(1, 1901))
    expect(l.length).toBe(1100)
    expect(l.holds(z(1, 1900))).toBe(true)
    expect(l.holds(z(1, 1899))).toBe(false)
    l.trimTo(z(1, 2000), 100)
    expect(l.length).toBe(1100)
    // The byte count survives the compaction that dropping 1,900 entries causes.
    expect(l.bytes).toBe(l.all().reduce((n, t) => n + txnBytesBound(t), 0))
  })

  test('trimTo also keeps the txns at or below the limit within `keepBytes`, never those above it', () => {
    const big = (zxid: Zxid): Txn => ({
      zxid,
      timeMs: 0,
      sessionId: 0n,
      xid: 0,
      op: { type: 'set', path: '/big', data: new Uint8Array(1_000_000), version: 1 },
    })
    const l = new TxnLog(0n)
    for (let i = 1; i <= 20; i++) l.append(big(z(1, i)))
    const one = txnBytesBound(big(z(1, 1)))
    expect(l.bytes).toBe(20 * one)
    l.trimTo(z(1, 10), 1000, 3.5 * one)
    // Three committed txns fit 3.5 MB; the ten above the limit stay whatever their size.
    expect(l.firstZxid).toBe(z(1, 8))
    expect(l.base).toBe(z(1, 7))
    expect(l.length).toBe(13)
    expect(l.bytes).toBe(13 * one)
    l.trimTo(z(1, 20), 1000, 0)
    expect(l.length).toBe(0)
    expect(l.base).toBe(z(1, 20))
    expect(l.bytes).toBe(0)
  })

  test('behaves like a plain array under random operations', () => {
    type Op =
      | { kind: 'append'; n: number; newEpoch: boolean }
      | { kind: 'truncate'; back: number }
      | { kind: 'trim'; keep: number }
      | { kind: 'reset' }
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant('append' as const),
        n: fc.integer({ min: 1, max: 5 }),
        newEpoch: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('truncate' as const), back: fc.integer({ min: 0, max: 6 }) }),
      fc.record({ kind: fc.constant('trim' as const), keep: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ kind: fc.constant('reset' as const) }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const l = new TxnLog(0n)
        let model: Zxid[] = []
        let base = 0n
        let epoch = 1
        let counter = 0
        for (const o of ops) {
          if (o.kind === 'append') {
            if (o.newEpoch) {
              epoch += 1
              counter = 0
            }
            for (let i = 0; i < o.n; i++) {
              counter += 1
              l.append(txn(z(epoch, counter)))
              model.push(z(epoch, counter))
            }
          } else if (o.kind === 'truncate') {
            const keep = Math.max(0, model.length - o.back)
            const to = keep === 0 ? base : (model[keep - 1] as Zxid)
            l.truncateAfter(to)
            model = model.slice(0, keep)
          } else if (o.kind === 'trim') {
            const limit = model[Math.floor(model.length / 2)] ?? base
            const eligible = model.filter((x) => x <= limit).length
            const drop = Math.max(0, eligible - o.keep)
            if (drop > 0) base = model[drop - 1] as Zxid
            model = model.slice(drop)
            l.trimTo(limit, o.keep)
          } else {
            base = model.at(-1) ?? base
            model = []
            l.resetTo(base)
          }
          expect(l.all().map((t) => t.zxid)).toEqual(model)
          expect(l.bytes).toBe(l.all().reduce((n, t) => n + txnBytesBound(t), 0))
          expect(l.base).toBe(base)
          expect(l.lastZxid).toBe(model.at(-1) ?? base)
          for (const x of model) expect(l.indexOf(x)).toBe(model.indexOf(x))
        }
      }),
    )
  })
})
