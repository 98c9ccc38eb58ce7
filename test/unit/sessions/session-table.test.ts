/**
 * SessionTable: the replicated session records and the leader's tick-based expiry.
 * The tests drive the table with explicit ticks and committed txns, the way the runtime
 * does, and check the promises users rely on: a session touched before its deadline
 * survives, an untouched one expires exactly once and never before a full timeout of
 * silence, a closing session cannot be revived, a new leader's refreshAll gives
 * everyone a fresh timeout, replaying txns changes nothing, and snapshots round-trip
 * through msgpack. A fast-check property compares the bucketed expiry with a naive
 * model that scans every session on every tick.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import type { SessionId, Txn, TxnOp } from '../../../protocol/index.js'
import {
  SessionArgumentError,
  SessionTable,
  type SessionRecord,
  type SessionTableOptions,
} from '../../../server/sessions/index.js'

const options: SessionTableOptions = { tickMs: 100, minTimeoutMs: 1000, maxTimeoutMs: 60_000 }

let nextZxid = 1n
function txn(op: TxnOp): Txn {
  return { zxid: nextZxid++, timeMs: 0, sessionId: 0n, xid: 0, op }
}
function createSession(
  id: SessionId,
  timeoutMs = 1000,
  password = new Uint8Array(16).fill(Number(id % 256n)),
): Txn {
  return txn({ type: 'createSession', sessionId: id, timeoutMs, password })
}
function closeSession(id: SessionId): Txn {
  return txn({ type: 'closeSession', sessionId: id, deletePaths: [] })
}
/** expireUpTo runs expire on every tick in [from, to] and returns the ticks at which each session came out. */
function expireUpTo(table: SessionTable, from: number, to: number): Map<SessionId, number[]> {
  const seen = new Map<SessionId, number[]>()
  for (let tick = from; tick <= to; tick++) {
    for (const id of table.expire(tick)) seen.set(id, [...(seen.get(id) ?? []), tick])
  }
  return seen
}
function codeOf(run: () => unknown): string | undefined {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(SessionArgumentError)
    expect(error).toBeInstanceOf(RangeError)
    return (error as SessionArgumentError).code
  }
  return undefined
}

describe('SessionTable options and timeout negotiation', () => {
  it('clamps a requested timeout to [min, max] and drops fractions', () => {
    const table = new SessionTable(options)
    expect(table.negotiateTimeoutMs(10)).toBe(1000)
    expect(table.negotiateTimeoutMs(-5)).toBe(1000)
    expect(table.negotiateTimeoutMs(0)).toBe(1000)
    expect(table.negotiateTimeoutMs(1000)).toBe(1000)
    expect(table.negotiateTimeoutMs(4321.9)).toBe(4321)
    expect(table.negotiateTimeoutMs(60_000)).toBe(60_000)
    expect(table.negotiateTimeoutMs(1e12)).toBe(60_000)
    expect(table.negotiateTimeoutMs(59_999)).toBe(59_999)
  })

  it('refuses a timeout that is not a finite number', () => {
    const table = new SessionTable(options)
    expect(codeOf(() => table.negotiateTimeoutMs(Number.NaN))).toBe('BAD_TIMEOUT')
    expect(codeOf(() => table.negotiateTimeoutMs(Number.POSITIVE_INFINITY))).toBe('BAD_TIMEOUT')
    expect(codeOf(() => table.negotiateTimeoutMs('5000' as unknown as number))).toBe('BAD_TIMEOUT')
  })

  it('refuses options that are not positive integers or have min above max', () => {
    expect(codeOf(() => new SessionTable({ ...options, tickMs: 0 }))).toBe('BAD_OPTIONS')
    expect(codeOf(() => new SessionTable({ ...options, tickMs: 1.5 }))).toBe('BAD_OPTIONS')
    expect(codeOf(() => new SessionTable({ ...options, minTimeoutMs: -1 }))).toBe('BAD_OPTIONS')
    expect(
      codeOf(() => new SessionTable({ ...options, minTimeoutMs: 5000, maxTimeoutMs: 4000 })),
    ).toBe('BAD_OPTIONS')
  })

  it('refuses ticks that are negative or not integers', () => {
    const table = new SessionTable(options)
    expect(codeOf(() => table.touch(1n, -1))).toBe('BAD_TICK')
    expect(codeOf(() => table.expire(1.5))).toBe('BAD_TICK')
    expect(codeOf(() => table.refreshAll(Number.NaN))).toBe('BAD_TICK')
  })
})

describe('SessionTable expiry at tick boundaries', () => {
  it('expires an untouched session at lastTick + ceil(timeout / tick) + 1, exactly once', () => {
    const table = new SessionTable(options)
    table.apply(createSession(7n, 1000)) // 10 ticks; clock starts at tick 0
    expect(table.deadlineTickOf(7n)).toBe(11)
    const seen = expireUpTo(table, 1, 100)
    expect(seen.get(7n)).toEqual([11])
    expect(table.isClosing(7n)).toBe(true)
    expect(table.has(7n)).toBe(true)
  })

  it('rounds a timeout that is not a whole number of ticks up', () => {
    const table = new SessionTable(options)
    table.apply(createSession(1n, 1050)) // 10.5 ticks -> 11
    expect(table.timeoutTicksOf(1050)).toBe(11)
    expect(expireUpTo(table, 0, 50).get(1n)).toEqual([12])
  })

  it('keeps a session touched on the tick before its deadline', () => {
    const table = new SessionTable(options)
    table.apply(createSession(7n, 1000))
    expect(table.expire(10)).toEqual([])
    expect(table.touch(7n, 10)).toBe(true)
    expect(table.expire(11)).toEqual([])
    expect(table.deadlineTickOf(7n)).toBe(21)
    expect(expireUpTo(table, 12, 40).get(7n)).toEqual([21])
  })

  it('never moves a deadline earlier when a touch carries an older tick', () => {
    const table = new SessionTable(options)
    table.apply(createSession(7n, 1000))
    table.touch(7n, 20)
    table.touch(7n, 5)
    expect(table.deadlineTickOf(7n)).toBe(31)
  })

  it('starts a new session with a full timeout from the last tick seen', () => {
    const table = new SessionTable(options)
    expect(table.expire(30)).toEqual([])
    table.apply(createSession(3n, 2000)) // 20 ticks
    expect(table.deadlineTickOf(3n)).toBe(51)
    expect(expireUpTo(table, 31, 80).get(3n)).toEqual([51])
  })

  it('returns expired sessions in id order whatever their bucket', () => {
    const table = new SessionTable(options)
    table.apply(createSession(9n, 1000))
    table.apply(createSession(2n, 1000))
    table.apply(createSession(5n, 1500))
    // One big jump covers several buckets at once (a follower that became leader).
    expect(table.expire(1000)).toEqual([2n, 5n, 9n])
  })

  it('ignores touches on a closing session until its closeSession is applied', () => {
    const table = new SessionTable(options)
    table.apply(createSession(7n, 1000))
    expect(table.expire(11)).toEqual([7n])
    expect(table.touch(7n, 12)).toBe(false)
    expect(table.isClosing(7n)).toBe(true)
    expect(table.deadlineTickOf(7n)).toBeUndefined()
    expect(expireUpTo(table, 12, 100).size).toBe(0)
    table.apply(closeSession(7n))
    expect(table.has(7n)).toBe(false)
    expect(table.isClosing(7n)).toBe(false)
    expect(table.touch(7n, 101)).toBe(false)
  })

  it('touch of an unknown session does nothing and returns false', () => {
    const table = new SessionTable(options)
    expect(table.touch(42n, 3)).toBe(false)
    expect(table.size).toBe(0)
    expect(table.deadlineTickOf(42n)).toBeUndefined()
  })

  it('refreshAll gives every session a fresh full timeout and makes closing sessions expirable again', () => {
    const table = new SessionTable(options)
    table.apply(createSession(1n, 1000))
    table.apply(createSession(2n, 3000))
    expect(table.expire(11)).toEqual([1n]) // 1n closing; its closeSession never commits (leader lost)
    table.refreshAll(500)
    expect(table.isClosing(1n)).toBe(false)
    expect(table.deadlineTickOf(1n)).toBe(511)
    expect(table.deadlineTickOf(2n)).toBe(531)
    const seen = expireUpTo(table, 501, 600)
    expect(seen.get(1n)).toEqual([511])
    expect(seen.get(2n)).toEqual([531])
  })

  it('closeSession of a live, untouched session removes it from expiry', () => {
    const table = new SessionTable(options)
    table.apply(createSession(1n, 1000))
    table.apply(closeSession(1n))
    expect(expireUpTo(table, 0, 50).size).toBe(0)
    expect(table.size).toBe(0)
  })
})

describe('SessionTable records', () => {
  it('applies create and close idempotently, so a replay changes nothing', () => {
    const txns = [
      createSession(1n),
      createSession(2n, 5000),
      closeSession(1n),
      createSession(3n),
      txn({ type: 'delete', path: '/a' }),
    ]
    const once = new SessionTable(options)
    for (const t of txns) once.apply(t)
    const twice = new SessionTable(options)
    for (const t of txns) twice.apply(t)
    for (const t of txns.slice(1)) twice.apply(t) // replay of everything after a snapshot taken at the first txn
    expect(twice.all()).toEqual(once.all())
    expect(twice.all().map((r) => r.id)).toEqual([2n, 3n])
    for (const id of [2n, 3n]) expect(twice.deadlineTickOf(id)).toBe(once.deadlineTickOf(id))
  })

  it('keeps the deadline of an existing session when its createSession is applied again', () => {
    const table = new SessionTable(options)
    const create = createSession(4n, 1000)
    table.apply(create)
    table.touch(4n, 30)
    table.apply(create)
    expect(table.deadlineTickOf(4n)).toBe(41)
  })

  it('lists sessions in id order and reports size, get and has', () => {
    const table = new SessionTable(options)
    for (const id of [30n, 0xff00_0000_0000_0001n, 4n]) table.apply(createSession(id))
    expect(table.size).toBe(3)
    expect(table.all().map((r) => r.id)).toEqual([4n, 30n, 0xff00_0000_0000_0001n])
    expect(table.get(30n)?.timeoutMs).toBe(1000)
    expect(table.get(31n)).toBeUndefined()
    expect(table.has(4n)).toBe(true)
  })

  it('copies the password, so a caller reusing its buffer cannot change the session', () => {
    const table = new SessionTable(options)
    const password = new Uint8Array(16).fill(9)
    table.apply(createSession(1n, 1000, password))
    password.fill(0)
    expect(table.passwordMatches(1n, new Uint8Array(16).fill(9))).toBe(true)
    expect(table.passwordMatches(1n, password)).toBe(false)
  })

  it('refuses a createSession txn whose record is malformed', () => {
    const table = new SessionTable(options)
    expect(codeOf(() => table.apply(createSession(0n)))).toBe('BAD_RECORD')
    expect(codeOf(() => table.apply(createSession(1n, 0)))).toBe('BAD_RECORD')
    expect(codeOf(() => table.apply(createSession(1n << 64n)))).toBe('BAD_RECORD')
    expect(
      codeOf(() =>
        table.apply(
          txn({
            type: 'createSession',
            sessionId: 1n,
            timeoutMs: 1000,
            password: 'x' as unknown as Uint8Array,
          }),
        ),
      ),
    ).toBe('BAD_RECORD')
    expect(table.size).toBe(0)
  })
})

describe('SessionTable.passwordMatches', () => {
  const password = Uint8Array.from({ length: 16 }, (_, i) => i * 13 + 1)
  const table = new SessionTable(options)
  table.apply(createSession(1n, 1000, password))

  it('accepts the exact password, also as a Node Buffer', () => {
    expect(table.passwordMatches(1n, password.slice())).toBe(true)
    expect(table.passwordMatches(1n, Buffer.from(password))).toBe(true)
  })

  it('refuses a password that differs in any single byte', () => {
    for (let i = 0; i < password.length; i++) {
      const wrong = password.slice()
      wrong[i] = (wrong[i]! ^ 0x80) & 0xff
      expect(table.passwordMatches(1n, wrong), `byte ${i}`).toBe(false)
    }
  })

  it('refuses shorter, longer, empty or non-byte passwords and unknown sessions', () => {
    expect(table.passwordMatches(1n, password.subarray(0, 15))).toBe(false)
    expect(table.passwordMatches(1n, Uint8Array.from([...password, 0]))).toBe(false)
    expect(table.passwordMatches(1n, new Uint8Array(0))).toBe(false)
    expect(table.passwordMatches(1n, [...password] as unknown as Uint8Array)).toBe(false)
    expect(table.passwordMatches(2n, password)).toBe(false)
  })
})

describe('SessionTable snapshots', () => {
  const packr = new Packr({
    useRecords: false,
    int64AsType: 'bigint',
    mapsAsObjects: true,
    variableMapSize: true,
  })

  it('round-trips through msgpack with 64-bit ids and byte passwords', () => {
    const table = new SessionTable(options)
    table.apply(createSession(0xff12_3456_789a_bcden, 5000))
    table.apply(createSession(5n, 2000))
    const records = packr.unpack(packr.pack(table.snapshotRecords())) as SessionRecord[]
    const restored = SessionTable.fromRecords(records, options)
    expect(restored.all().map((r) => ({ ...r, password: [...r.password] }))).toEqual(
      table.all().map((r) => ({ ...r, password: [...r.password] })),
    )
    expect(restored.passwordMatches(5n, table.get(5n)!.password)).toBe(true)
    expect(restored.get(5n)!.password.constructor).toBe(Uint8Array)
    // Restored sessions start a full timeout from tick 0; a new leader then calls refreshAll.
    expect(restored.deadlineTickOf(5n)).toBe(21)
  })

  it('returns copies, so changing a snapshot record leaves the table alone', () => {
    const table = new SessionTable(options)
    table.apply(createSession(5n, 2000, new Uint8Array(16).fill(1)))
    table.snapshotRecords()[0]!.password.fill(2)
    expect(table.passwordMatches(5n, new Uint8Array(16).fill(1))).toBe(true)
  })

  it('refuses duplicate and malformed records', () => {
    const record = { id: 5n, timeoutMs: 2000, password: new Uint8Array(16) }
    expect(codeOf(() => SessionTable.fromRecords([record, record], options))).toBe(
      'DUPLICATE_SESSION',
    )
    expect(
      codeOf(() => SessionTable.fromRecords([{ ...record, id: 5 as unknown as bigint }], options)),
    ).toBe('BAD_RECORD')
    expect(codeOf(() => SessionTable.fromRecords([{ ...record, timeoutMs: 1.5 }], options))).toBe(
      'BAD_RECORD',
    )
  })
})

/**
 * The property: for any schedule of creates, closes, touches and tick advances (with
 * occasional long jumps), the ticks at which expire() hands out each session equal
 * those of a model that keeps each session's last-heard tick and scans every session on
 * every tick, and no session ever comes out before a full timeout of silence.
 */
describe('SessionTable expiry matches a scanning model', () => {
  type Step =
    | { kind: 'create'; id: number; timeoutMs: number }
    | { kind: 'close'; id: number }
    | { kind: 'touch'; id: number }
    | { kind: 'advance'; ticks: number }
  const id = fc.integer({ min: 1, max: 6 })
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      kind: fc.constant('create' as const),
      id,
      timeoutMs: fc.integer({ min: 1000, max: 3000 }),
    }),
    fc.record({ kind: fc.constant('close' as const), id }),
    fc.record({ kind: fc.constant('touch' as const), id }),
    fc.record({
      kind: fc.constant('advance' as const),
      ticks: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 20, max: 80 })),
    }),
  )

  it('agrees with the model on every schedule', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), fc.boolean(), (steps, expireEveryTick) => {
        const table = new SessionTable(options)
        const model = new Map<number, { timeoutMs: number; heardTick: number; closing: boolean }>()
        let tick = 0
        for (const s of steps) {
          if (s.kind === 'create') {
            table.apply(createSession(BigInt(s.id), s.timeoutMs))
            if (!model.has(s.id))
              model.set(s.id, { timeoutMs: s.timeoutMs, heardTick: tick, closing: false })
          } else if (s.kind === 'close') {
            table.apply(closeSession(BigInt(s.id)))
            model.delete(s.id)
          } else if (s.kind === 'touch') {
            const session = model.get(s.id)
            expect(table.touch(BigInt(s.id), tick)).toBe(session !== undefined && !session.closing)
            if (session !== undefined && !session.closing) session.heardTick = tick
          } else {
            // Either expire on every tick (the leader's loop) or only at the end of a jump.
            const ticks = expireEveryTick
              ? Array.from({ length: s.ticks }, (_, i) => tick + i + 1)
              : [tick + s.ticks]
            for (const now of ticks) {
              const expected = [...model.entries()]
                .filter(
                  ([, m]) =>
                    !m.closing && now >= m.heardTick + Math.ceil(m.timeoutMs / options.tickMs) + 1,
                )
                .map(([k]) => BigInt(k))
                .sort((a, b) => (a < b ? -1 : 1))
              expect(table.expire(now)).toEqual(expected)
              for (const k of expected) {
                const m = model.get(Number(k))!
                m.closing = true
                // Never early: the last touch happened at the latest at the end of its tick.
                expect((now - (m.heardTick + 1)) * options.tickMs).toBeGreaterThanOrEqual(
                  m.timeoutMs,
                )
              }
            }
            tick += s.ticks
          }
        }
      }),
      { numRuns: 300 },
    )
  })
})
