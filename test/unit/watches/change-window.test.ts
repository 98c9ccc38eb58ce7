/**
 * The change window and the replays it allows: what a watch registered with a position
 * is sent. Method: record txns, evict by count and bytes, and compare replays with the
 * live notifications of the registry for the same changes (the window's replay must be
 * exactly what a watch registered all along would have been sent).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { WatchEventType } from '../../../protocol/index.js'
import {
  ChangeWindow,
  WatchRegistry,
  planReplay,
  type WatchChange,
} from '../../../server/watches/index.js'

const LIMITS = { changesMax: 1000, bytesMax: 1 << 20 }
const change = (type: WatchEventType, path: string): WatchChange => ({ type, path })

describe('ChangeWindow', () => {
  it('replays after a whole txn, or after one change within it', () => {
    const w = new ChangeWindow(LIMITS, 10n)
    w.record(11n, [change('created', '/a'), change('childrenChanged', '/')])
    w.record(12n, []) // a txn without changes (a session opened) moves nothing but latestZxid
    w.record(13n, [change('deleted', '/a'), change('childrenChanged', '/')])
    const at = (zxid: bigint, afterIndex?: number) =>
      [...w.after({ zxid, ...(afterIndex === undefined ? {} : { afterIndex }) })].map(
        (c) => `${c.zxid}.${c.index}`,
      )
    expect(at(10n)).toEqual(['11.0', '11.1', '13.0', '13.1'])
    expect(at(11n)).toEqual(['13.0', '13.1'])
    expect(at(11n, 0)).toEqual(['11.1', '13.0', '13.1'])
    expect(at(12n)).toEqual(['13.0', '13.1'])
    expect(at(13n)).toEqual([])
    expect(w.latestZxid).toBe(13n)
    expect(w.covers(10n)).toBe(true)
    expect(w.covers(9n)).toBe(false)
  })

  it('evicts whole txns, oldest first, past its change count, and moves oldestZxid to the last one evicted', () => {
    const w = new ChangeWindow({ changesMax: 3, bytesMax: 1 << 20 }, 0n)
    w.record(1n, [change('dataChanged', '/a')])
    w.record(2n, [change('dataChanged', '/a'), change('dataChanged', '/b')])
    expect(w.oldestZxid).toBe(0n)
    w.record(3n, [change('dataChanged', '/c')])
    expect(w.oldestZxid).toBe(1n)
    expect(w.changes).toBe(3)
    expect([...w.after({ zxid: 1n })].map((c) => c.zxid)).toEqual([2n, 2n, 3n])
  })

  it('evicts past its byte bound too (long paths)', () => {
    const w = new ChangeWindow({ changesMax: 1000, bytesMax: 10_000 }, 0n)
    for (let i = 1; i <= 20; i++)
      w.record(BigInt(i), [change('dataChanged', '/' + 'x'.repeat(1000))])
    expect(w.bytes).toBeLessThanOrEqual(10_000)
    expect(w.changes).toBeGreaterThan(0)
    expect(w.oldestZxid).toBe(BigInt(20 - w.changes))
  })

  it('restarts after a txn it cannot vouch for, or an out-of-order one', () => {
    const w = new ChangeWindow(LIMITS, 0n)
    w.record(5n, [change('dataChanged', '/a')])
    w.restart(9n)
    expect(w.covers(5n)).toBe(false)
    expect([...w.after({ zxid: 9n })]).toEqual([])
    w.record(12n, [change('dataChanged', '/a')])
    w.record(11n, [change('dataChanged', '/a')])
    expect(w.oldestZxid).toBe(11n)
    expect(w.changes).toBe(0)
  })
})

describe('planReplay', () => {
  const segment = fc.constantFrom('a', 'b')
  const path = fc.array(segment, { maxLength: 3 }).map((parts) => '/' + parts.join('/'))
  const type = fc.constantFrom<WatchEventType>(
    'created',
    'deleted',
    'dataChanged',
    'childrenChanged',
  )
  const txns = fc.array(fc.array(fc.tuple(type, path), { minLength: 1, maxLength: 3 }), {
    maxLength: 12,
  })

  it('sends exactly what a watch registered all along would have been sent after the position', () => {
    fc.assert(
      fc.property(txns, path, fc.boolean(), fc.nat(12), (batches, watchPath, recursive, cut) => {
        const window = new ChangeWindow(LIMITS, 0n)
        const registry = new WatchRegistry()
        registry.addPersistentWatch(watchPath, 1, recursive)
        const live: string[] = []
        const from = BigInt(Math.min(cut, batches.length))
        batches.forEach((batch, i) => {
          const zxid = BigInt(i + 1)
          const changes = batch.map(([t, p]) => change(t, p))
          window.record(zxid, changes)
          for (const { event } of registry.trigger(changes, zxid))
            if (zxid > from) live.push(`${event.zxid}.${event.index} ${event.event} ${event.path}`)
        })
        const plan = planReplay(
          window,
          { path: watchPath, recursive },
          { zxid: from },
          BigInt(batches.length),
          1 << 20,
        )
        expect(plan.kind).toBe('events')
        if (plan.kind !== 'events') return
        expect(plan.events.map((e) => `${e.zxid}.${e.index} ${e.event} ${e.path}`)).toEqual(live)
      }),
    )
  })

  it('answers compacted before the window, and ahead past the applied zxid', () => {
    const window = new ChangeWindow(LIMITS, 5n)
    expect(planReplay(window, { path: '/', recursive: true }, { zxid: 4n }, 5n, 1 << 20)).toEqual({
      kind: 'compacted',
      oldestZxid: 5n,
    })
    expect(planReplay(window, { path: '/', recursive: true }, { zxid: 6n }, 5n, 1 << 20)).toEqual({
      kind: 'ahead',
    })
  })
})
