/**
 * The simulator's building blocks do what the simulation relies on. The seeded
 * generator replays exactly and stays in range; the event queue hands out events in
 * (time, insertion) order; the disk loses exactly the unsynced writes in a crash,
 * keeps them in order, and recovery drops a torn record; the network never reorders
 * a FIFO link, honours one-way cuts, and loses or duplicates at its configured rates.
 * Each test compares against an independent expectation computed in the test.
 */
import { describe, expect, test } from 'vitest'
import type { Txn } from '../../protocol/index.js'
import { makeZxid } from '../../protocol/index.js'
import { opsOf, SimDisk } from './disk.js'
import { EventQueue } from './event-queue.js'
import { SimNetwork } from './network.js'
import { SimRandom } from './random.js'
import { Trace } from './trace.js'

const txn = (epoch: number, counter: number): Txn => ({
  zxid: makeZxid(epoch, counter),
  timeMs: 0,
  sessionId: 0n,
  xid: 0,
  op: { type: 'error', code: 0 },
})

describe('SimRandom', () => {
  test('the same seed gives the same stream; different seeds and forks differ', () => {
    const draw = (r: SimRandom) => Array.from({ length: 8 }, () => r.nextU32())
    expect(draw(new SimRandom(42))).toEqual(draw(new SimRandom(42)))
    expect(draw(new SimRandom(42))).not.toEqual(draw(new SimRandom(43)))
    const a = new SimRandom(7)
    expect(draw(a.fork())).not.toEqual(draw(a.fork()))
    // Seeds above 2^32 use their high half too.
    expect(draw(new SimRandom(2 ** 40 + 1))).not.toEqual(draw(new SimRandom(1)))
  })

  test('helpers stay in range and cover it', () => {
    const r = new SimRandom(1)
    const seen = new Set<number>()
    for (let i = 0; i < 2000; i++) {
      const f = r.float()
      expect(f >= 0 && f < 1).toBe(true)
      const b = r.between(3, 7)
      expect(b >= 3 && b <= 7).toBe(true)
      seen.add(b)
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7])
    expect(r.chance(0)).toBe(false)
    expect(r.chance(1)).toBe(true)
    expect(r.shuffled([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5])
    expect(() => r.int(0)).toThrow(RangeError)
    expect(() => new SimRandom(0.5)).toThrow(RangeError)
  })
})

describe('EventQueue', () => {
  test('pops by time, and by insertion order at equal times', () => {
    const q = new EventQueue<string>()
    const r = new SimRandom(9)
    const pushed: { t: number; name: string; seq: number }[] = []
    for (let i = 0; i < 300; i++) {
      const t = r.int(20)
      pushed.push({ t, name: `e${i}`, seq: i })
      q.push(t, `e${i}`)
    }
    const expected = [...pushed].sort((a, b) => a.t - b.t || a.seq - b.seq).map((e) => e.name)
    const popped: string[] = []
    for (let e = q.pop(); e !== undefined; e = q.pop()) popped.push(e.event)
    expect(popped).toEqual(expected)
    expect(() => q.push(Number.NaN, 'x')).toThrow(RangeError)
  })
})

describe('SimDisk', () => {
  test('a crash keeps a prefix of the unsynced writes, never a later one without an earlier one', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const disk = new SimDisk()
      disk.write(opsOf({ txns: [txn(1, 1), txn(1, 2)], epochs: { accepted: 1, current: 1 } }))
      disk.sync()
      disk.write(
        opsOf({ txns: [txn(1, 3), txn(1, 4), txn(1, 5)], epochs: { accepted: 2, current: 1 } }),
      )
      const loss = disk.crash(new SimRandom(seed))
      const { state, tornRecords } = disk.recover()
      const counters = state.log.map((t) => Number(t.zxid & 0xffffffffn))
      // Synced writes always survive; of the rest, a prefix (a torn last append is dropped).
      const keptAppends = Math.min(loss.keptOps, 3) - (loss.tornAppend ? 1 : 0)
      expect(counters).toEqual([1, 2, 3, 4, 5].slice(0, 2 + keptAppends))
      expect(tornRecords).toBe(loss.tornAppend ? 1 : 0)
      expect(state.acceptedEpoch).toBe(loss.keptOps === 4 ? 2 : 1)
    }
  })

  test('sync makes writes durable; truncation and snapshots apply in order; appends must increase', () => {
    const disk = new SimDisk()
    disk.write(opsOf({ txns: [txn(1, 1), txn(1, 2), txn(1, 3)] }))
    disk.sync()
    disk.write(opsOf({ truncateAfter: makeZxid(1, 1), txns: [txn(2, 1)] }))
    disk.sync()
    expect(disk.durableLogZxids()).toEqual([makeZxid(1, 1), makeZxid(2, 1)])
    disk.saveSnapshot({ zxid: makeZxid(1, 1), nodes: [], sessions: [] })
    expect(disk.recover().state).toMatchObject({ snapshotZxid: makeZxid(1, 1), log: [txn(2, 1)] })
    disk.write(opsOf({ txns: [txn(1, 9)] }))
    expect(() => disk.sync()).toThrow(/must increase/)
  })
})

describe('SimNetwork', () => {
  test('a FIFO link never reorders, a one-way cut blocks one direction only', () => {
    const net = new SimNetwork([1, 2, 3])
    net.conditions = {
      ...net.conditions,
      minDelayMs: 1,
      maxDelayMs: 50,
      slowRate: 0.2,
      slowDelayMs: 500,
      reorder: false,
    }
    const r = new SimRandom(3)
    let last = 0
    for (let now = 0; now < 1000; now += 3) {
      const [arrival] = net.route(1, 2, now, r).arrivalsMs
      expect(arrival).toBeGreaterThanOrEqual(last)
      last = arrival as number
    }
    net.cut(1, 3)
    expect(net.route(1, 3, 0, r).fate).toBe('cut')
    expect(net.route(3, 1, 0, r).fate).not.toBe('cut')
    net.healAll()
    expect(net.route(1, 3, 0, r).fate).not.toBe('cut')
  })

  test('loss and duplication follow their rates; reordering happens only when allowed', () => {
    const net = new SimNetwork([1, 2])
    net.conditions = {
      dropRate: 0.2,
      duplicateRate: 0.1,
      minDelayMs: 1,
      maxDelayMs: 100,
      slowRate: 0,
      slowDelayMs: 0,
      reorder: true,
    }
    const r = new SimRandom(5)
    const fates = { dropped: 0, duplicated: 0, delivered: 0, cut: 0 }
    let reordered = 0
    let last = 0
    for (let i = 0; i < 10_000; i++) {
      const outcome = net.route(1, 2, i, r)
      fates[outcome.fate] += 1
      for (const at of outcome.arrivalsMs) {
        if (at < last) reordered += 1
        last = Math.max(last, at)
      }
    }
    expect(fates.dropped / 10_000).toBeCloseTo(0.2, 1)
    expect(fates.duplicated / 8_000).toBeCloseTo(0.1, 1)
    expect(reordered).toBeGreaterThan(100)
  })
})

describe('Trace', () => {
  test('the hash depends on every line and its order; the tail keeps the latest lines', () => {
    const a = new Trace(3)
    const b = new Trace(3)
    for (const line of ['x', 'y', 'z', 'w']) a.record(1, line)
    for (const line of ['x', 'z', 'y', 'w']) b.record(1, line)
    expect(a.hash()).not.toBe(b.hash())
    expect(a.tail()).toEqual(['1 y', '1 z', '1 w'])
    const c = new Trace(3)
    for (const line of ['x', 'y', 'z', 'w']) c.record(1, line)
    expect(c.hash()).toBe(a.hash())
  })
})
