/**
 * SessionTable: the replicated set of live sessions plus the leader's expiry clock.
 *
 * Two kinds of state live here and must not be confused:
 * - The records (id, negotiated timeout, password) change only through committed txns
 *   (`apply`), so every server holds the same set and a replay gives the same result.
 * - Deadlines and the `closing` marks are local, in ticks. Only the leader acts on them
 *   (`expire`); followers may keep touching sessions but never call `expire`. A new
 *   leader calls `refreshAll` so no session dies for silence it could not have observed.
 *
 * Expiry rounds like ZooKeeper's ExpiryQueue: the tick counter names the interval in
 * progress, so a touch at tick t happened somewhere in [t, t+1). Its deadline is the
 * next bucket boundary after `t + timeoutTicks`, i.e. `t + timeoutTicks + 1`, which
 * guarantees a session is never expired before a full timeout of silence and at most
 * one tick after it.
 */
import type { SessionId, Txn } from '../../protocol/index.js'
import { SessionArgumentError, checkTick } from './errors.js'
import { ExpiryQueue } from './expiry-queue.js'
import { equalBytesConstantTime } from './passwords.js'

/** SessionTableOptions sets the tick length and the timeout clamp, in milliseconds. */
export interface SessionTableOptions {
  tickMs: number
  minTimeoutMs: number
  maxTimeoutMs: number
}

/**
 * SessionRecord is one live session as every server knows it. It is also the snapshot
 * form: plain fields (a bigint and bytes) that msgpack carries as they are.
 */
export interface SessionRecord {
  readonly id: SessionId
  readonly timeoutMs: number
  readonly password: Uint8Array
}

const SESSION_ID_MAX = 0xffff_ffff_ffff_ffffn

/** SessionTable holds the live sessions and decides, on the leader, which have expired. */
export class SessionTable {
  /** tickMs is the length of one tick; timeouts are converted to whole ticks with it. */
  readonly tickMs: number
  /** minTimeoutMs is the shortest timeout negotiateTimeoutMs grants. */
  readonly minTimeoutMs: number
  /** maxTimeoutMs is the longest timeout negotiateTimeoutMs grants. */
  readonly maxTimeoutMs: number

  private readonly records = new Map<SessionId, SessionRecord>()
  /** Sessions `expire` has handed out whose closeSession txn has not been applied yet. */
  private readonly closing = new Set<SessionId>()
  private readonly deadlines = new ExpiryQueue<SessionId>()
  /** The latest tick seen by touch, expire or refreshAll: new sessions start their clock here. */
  private lastTick = 0

  /** constructor checks the options: positive integers with minTimeoutMs <= maxTimeoutMs. */
  constructor(options: SessionTableOptions) {
    const { tickMs, minTimeoutMs, maxTimeoutMs } = options
    for (const [name, value] of Object.entries({ tickMs, minTimeoutMs, maxTimeoutMs })) {
      if (!Number.isSafeInteger(value) || value <= 0) {
        throw new SessionArgumentError(
          'BAD_OPTIONS',
          `${name} must be a positive integer, got ${String(value)}`,
        )
      }
    }
    if (minTimeoutMs > maxTimeoutMs) {
      throw new SessionArgumentError(
        'BAD_OPTIONS',
        `minTimeoutMs ${minTimeoutMs} exceeds maxTimeoutMs ${maxTimeoutMs}`,
      )
    }
    this.tickMs = tickMs
    this.minTimeoutMs = minTimeoutMs
    this.maxTimeoutMs = maxTimeoutMs
  }

  /**
   * fromRecords rebuilds a table from `snapshotRecords()` output (a snapshot load).
   * Every session gets a fresh full timeout from tick 0; a table that later sees a
   * higher tick through `refreshAll` or `touch` moves on from there.
   */
  static fromRecords(
    records: readonly SessionRecord[],
    options: SessionTableOptions,
  ): SessionTable {
    const table = new SessionTable(options)
    for (const record of records) {
      checkRecord(record)
      if (table.records.has(record.id)) {
        throw new SessionArgumentError(
          'DUPLICATE_SESSION',
          `session 0x${record.id.toString(16)} appears twice`,
        )
      }
      table.addRecord(record)
    }
    return table
  }

  /**
   * negotiateTimeoutMs clamps a client's requested timeout to [minTimeoutMs,
   * maxTimeoutMs], as ZooKeeper does; fractions are dropped. A request that is not a
   * finite number is refused with BAD_TIMEOUT.
   */
  negotiateTimeoutMs(requestedMs: number): number {
    if (typeof requestedMs !== 'number' || !Number.isFinite(requestedMs)) {
      throw new SessionArgumentError(
        'BAD_TIMEOUT',
        `requested timeout must be a finite number, got ${String(requestedMs)}`,
      )
    }
    return Math.min(this.maxTimeoutMs, Math.max(this.minTimeoutMs, Math.trunc(requestedMs)))
  }

  /** timeoutTicksOf converts a timeout to whole ticks, rounding up so no session is cut short. */
  timeoutTicksOf(timeoutMs: number): number {
    return Math.ceil(timeoutMs / this.tickMs)
  }

  /**
   * apply folds a committed txn into the table: `createSession` adds the session with a
   * fresh full timeout counted from the last tick seen, `closeSession` removes it and
   * its closing mark; every other op is ignored. Applying a txn twice (replay after a
   * snapshot) changes nothing: an existing session keeps its record and its deadline.
   */
  apply(txn: Txn): void {
    const op = txn.op
    if (op.type === 'createSession') {
      const record: SessionRecord = {
        id: op.sessionId,
        timeoutMs: op.timeoutMs,
        password: op.password,
      }
      checkRecord(record)
      if (!this.records.has(record.id)) this.addRecord(record)
    } else if (op.type === 'closeSession') {
      this.records.delete(op.sessionId)
      this.closing.delete(op.sessionId)
      this.deadlines.delete(op.sessionId)
    }
  }

  /** get returns the live session `id`, or undefined. */
  get(id: SessionId): SessionRecord | undefined {
    return this.records.get(id)
  }

  /** has tells whether session `id` is live (closing sessions are still live until their txn applies). */
  has(id: SessionId): boolean {
    return this.records.has(id)
  }

  /** size is the number of live sessions. */
  get size(): number {
    return this.records.size
  }

  /** all returns every live session in id order. */
  all(): SessionRecord[] {
    return [...this.records.values()].sort((a, b) => compareIds(a.id, b.id))
  }

  /**
   * passwordMatches tells whether `password` is session `id`'s password, comparing in
   * constant time for equal lengths. An unknown session never matches.
   */
  passwordMatches(id: SessionId, password: Uint8Array): boolean {
    const record = this.records.get(id)
    if (record === undefined || !(password instanceof Uint8Array)) return false
    return equalBytesConstantTime(record.password, password)
  }

  /**
   * touch records that session `id` was heard from at `nowTick`, moving its deadline to
   * `nowTick + timeoutTicks + 1` (never earlier than it was). It returns false, and does
   * nothing, for an unknown session or one that is closing.
   */
  touch(id: SessionId, nowTick: number): boolean {
    checkTick(nowTick, 'nowTick')
    this.lastTick = Math.max(this.lastTick, nowTick)
    const record = this.records.get(id)
    if (record === undefined || this.closing.has(id)) return false
    const deadlineTick = this.deadlineFrom(nowTick, record)
    const current = this.deadlines.deadlineOf(id)
    if (current === undefined || deadlineTick > current) this.deadlines.set(id, deadlineTick)
    return true
  }

  /**
   * expire returns, in id order, the sessions whose deadline is <= `nowTick` and marks
   * them closing, so each is returned once: the leader proposes one closeSession txn per
   * session and the session stays closing (touches ignored) until that txn is applied.
   * Leader only.
   */
  expire(nowTick: number): SessionId[] {
    checkTick(nowTick, 'nowTick')
    this.lastTick = Math.max(this.lastTick, nowTick)
    const expired = this.deadlines.drain(nowTick)
    for (const id of expired) this.closing.add(id)
    return expired.sort(compareIds)
  }

  /** isClosing tells whether `expire` has handed out session `id` and its close is not yet applied. */
  isClosing(id: SessionId): boolean {
    return this.closing.has(id)
  }

  /** deadlineTickOf returns the tick at which session `id` expires if not touched, or undefined. */
  deadlineTickOf(id: SessionId): number | undefined {
    return this.deadlines.deadlineOf(id)
  }

  /**
   * refreshAll gives every session a fresh full timeout from `nowTick` and clears the
   * closing marks. A new leader calls it: it cannot know when followers last heard from
   * each client, and a closeSession this server proposed in an earlier term may never
   * have committed, so such a session must become expirable again.
   */
  refreshAll(nowTick: number): void {
    checkTick(nowTick, 'nowTick')
    this.lastTick = Math.max(this.lastTick, nowTick)
    this.closing.clear()
    for (const record of this.records.values())
      this.deadlines.set(record.id, this.deadlineFrom(nowTick, record))
  }

  /** snapshotRecords returns every live session in id order as plain records for a snapshot. */
  snapshotRecords(): SessionRecord[] {
    return this.all().map((record) => ({
      id: record.id,
      timeoutMs: record.timeoutMs,
      password: new Uint8Array(record.password),
    }))
  }

  private addRecord(record: SessionRecord): void {
    // Copy the password (new Uint8Array copies; Buffer#slice would not) so a caller
    // reusing its buffer cannot change a live session.
    const stored: SessionRecord = Object.freeze({
      id: record.id,
      timeoutMs: record.timeoutMs,
      password: new Uint8Array(record.password),
    })
    this.records.set(stored.id, stored)
    this.deadlines.set(stored.id, this.deadlineFrom(this.lastTick, stored))
  }

  private deadlineFrom(nowTick: number, record: SessionRecord): number {
    return nowTick + this.timeoutTicksOf(record.timeoutMs) + 1
  }
}

/** compareIds orders session ids ascending, for sort. */
function compareIds(a: SessionId, b: SessionId): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** checkRecord refuses a record that could not have come from a valid createSession txn. */
function checkRecord(record: SessionRecord): void {
  const { id, timeoutMs, password } = record
  if (typeof id !== 'bigint' || id <= 0n || id > SESSION_ID_MAX) {
    throw new SessionArgumentError(
      'BAD_RECORD',
      `session id must be an unsigned 64-bit bigint other than 0, got ${String(id)}`,
    )
  }
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new SessionArgumentError(
      'BAD_RECORD',
      `session 0x${id.toString(16)}: timeoutMs must be a positive integer, got ${String(timeoutMs)}`,
    )
  }
  if (!(password instanceof Uint8Array)) {
    throw new SessionArgumentError(
      'BAD_RECORD',
      `session 0x${id.toString(16)}: password must be bytes`,
    )
  }
}
