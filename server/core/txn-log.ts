/**
 * TxnLog is the core's in-memory view of a server's log: every txn after `base`, in
 * zxid order. `base` is the zxid the history before the first entry ends at: the
 * snapshot the server started from, or the last committed txn that was dropped from
 * memory because DIFF no longer needs it. Entries may be logged but not yet durable
 * and not yet committed; the Peer tracks those positions, the log only holds txns.
 *
 * Zxids strictly increase but are not contiguous across epochs (a new epoch starts
 * its counter again), so lookups are by binary search, never by arithmetic.
 *
 * The log also keeps the bytes of its txns (txnBytesBound), so that what stays in memory
 * for DIFFs is bounded in bytes as well as in count: a thousand 1 MB txns must not keep
 * a gigabyte alive on every member.
 */
import type { Txn, Zxid } from '../../protocol/index.js'
import { formatZxid, txnBytesBound } from '../../protocol/index.js'
import { assert } from './errors.js'

/** COMPACT_AFTER_ENTRIES is how many dropped entries may accumulate at the front before the array is copied. */
const COMPACT_AFTER_ENTRIES = 1024

/** TxnLog holds the txns after `base` in zxid order. */
export class TxnLog {
  private entries: Txn[] = []
  /** cumulativeBytes[i] is the bytes of entries[0..i] plus `bytesOrigin`: differences give any range's bytes. */
  private cumulativeBytes: number[] = []
  /** bytesOrigin is what cumulativeBytes counted before entries[0] (entries dropped by compaction). */
  private bytesOrigin = 0
  private head = 0
  private baseZxid: Zxid

  /** The constructor takes the base zxid and the txns after it, which must be in strictly increasing zxid order. */
  constructor(base: Zxid, txns: readonly Txn[] = []) {
    this.baseZxid = base
    for (const txn of txns) this.append(txn)
  }

  /** base is the zxid the in-memory history starts after. */
  get base(): Zxid {
    return this.baseZxid
  }

  /** length is the number of txns held. */
  get length(): number {
    return this.entries.length - this.head
  }

  /** lastZxid is the zxid of the last txn held, or `base` when empty. */
  get lastZxid(): Zxid {
    const last = this.entries[this.entries.length - 1]
    return this.length > 0 && last !== undefined ? last.zxid : this.baseZxid
  }

  /** firstZxid is the zxid of the first txn held, or undefined when empty. */
  get firstZxid(): Zxid | undefined {
    return this.length > 0 ? this.entries[this.head]?.zxid : undefined
  }

  /** append adds a txn after the last one; its zxid must be greater. */
  append(txn: Txn): void {
    assert(
      txn.zxid > this.lastZxid,
      () => `log append ${formatZxid(txn.zxid)} must follow ${formatZxid(this.lastZxid)}`,
    )
    this.cumulativeBytes.push(this.bytesBefore(this.entries.length) + txnBytesBound(txn))
    this.entries.push(txn)
  }

  /** bytes is the byte size (txnBytesBound summed) of the held txns. */
  get bytes(): number {
    return this.bytesBefore(this.entries.length) - this.bytesBefore(this.head)
  }

  /** bytesBefore is the cumulative byte count of the entries before array index `index`. */
  private bytesBefore(index: number): number {
    return index === 0 ? this.bytesOrigin : (this.cumulativeBytes[index - 1] as number)
  }

  /** indexOf returns the position of the txn with this zxid among the held txns, or -1. */
  indexOf(zxid: Zxid): number {
    let low = this.head
    let high = this.entries.length - 1
    while (low <= high) {
      const mid = (low + high) >>> 1
      const at = (this.entries[mid] as Txn).zxid
      if (at === zxid) return mid - this.head
      if (at < zxid) low = mid + 1
      else high = mid - 1
    }
    return -1
  }

  /** holds tells whether the history includes exactly this zxid: it is `base` or a held txn. */
  holds(zxid: Zxid): boolean {
    return zxid === this.baseZxid || this.indexOf(zxid) >= 0
  }

  /** countAfter is the number of held txns with a zxid greater than `zxid`. */
  countAfter(zxid: Zxid): number {
    return this.entries.length - this.firstIndexAfter(zxid)
  }

  /** after returns the held txns with a zxid greater than `zxid`, oldest first. */
  after(zxid: Zxid): Txn[] {
    return this.entries.slice(this.firstIndexAfter(zxid))
  }

  /** range returns the held txns with `after < zxid <= through`. */
  range(after: Zxid, through: Zxid): Txn[] {
    const out: Txn[] = []
    for (let i = this.firstIndexAfter(after); i < this.entries.length; i++) {
      const txn = this.entries[i] as Txn
      if (txn.zxid > through) break
      out.push(txn)
    }
    return out
  }

  /** latestBefore returns the greatest zxid of the history below `zxid` (a held txn or `base`), or undefined if `zxid <= base`. */
  latestBefore(zxid: Zxid): Zxid | undefined {
    if (zxid <= this.baseZxid) return undefined
    const index = this.firstIndexAfter(zxid - 1n) - 1
    return index >= this.head ? (this.entries[index] as Txn).zxid : this.baseZxid
  }

  /** truncateAfter drops every txn with a zxid greater than `zxid`, which must not be below `base`; returns how many. */
  truncateAfter(zxid: Zxid): number {
    assert(
      zxid >= this.baseZxid,
      `log truncation to ${formatZxid(zxid)} below base ${formatZxid(this.baseZxid)}`,
    )
    const keep = this.firstIndexAfter(zxid)
    const removed = this.entries.length - keep
    this.entries.length = keep
    this.cumulativeBytes.length = keep
    return removed
  }

  /** resetTo empties the log and makes `zxid` its base (a snapshot was installed). */
  resetTo(zxid: Zxid): void {
    this.entries = []
    this.cumulativeBytes = []
    this.bytesOrigin = 0
    this.head = 0
    this.baseZxid = zxid
  }

  /**
   * trimTo drops the oldest txns at or below `limitZxid` while more than `keep` of them
   * remain or they hold more than `keepBytes` bytes; the base moves up to the last
   * dropped zxid. Txns above `limitZxid` (not yet committed and applied) always stay.
   */
  trimTo(limitZxid: Zxid, keep: number, keepBytes = Number.POSITIVE_INFINITY): void {
    const eligibleEnd = this.firstIndexAfter(limitZxid)
    let drop = Math.max(0, eligibleEnd - this.head - keep)
    const bytesThrough = this.bytesBefore(eligibleEnd)
    while (
      drop < eligibleEnd - this.head &&
      bytesThrough - this.bytesBefore(this.head + drop) > keepBytes
    )
      drop++
    if (drop <= 0) return
    this.baseZxid = (this.entries[this.head + drop - 1] as Txn).zxid
    this.head += drop
    if (this.head >= COMPACT_AFTER_ENTRIES && this.head * 2 >= this.entries.length) {
      this.bytesOrigin = this.bytesBefore(this.head)
      this.entries = this.entries.slice(this.head)
      this.cumulativeBytes = this.cumulativeBytes.slice(this.head)
      this.head = 0
    }
  }

  /** all returns the held txns, oldest first (a copy). */
  all(): Txn[] {
    return this.entries.slice(this.head)
  }

  /** firstIndexAfter is the array index of the first txn with a zxid greater than `zxid`. */
  private firstIndexAfter(zxid: Zxid): number {
    let low = this.head
    let high = this.entries.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if ((this.entries[mid] as Txn).zxid <= zxid) low = mid + 1
      else high = mid
    }
    return low
  }
}
