/**
 * ChangeWindow: the recent committed changes a member keeps so that a watch registered
 * with a position (after a reconnect, a failover, or a client that restarted) gets
 * exactly the events it missed, in zxid order (design.md §7, issue 11). It is the
 * member's own record of what it applied: every txn after `oldestZxid` is in it, each
 * with the changes the tree reported, in the order the tree applied them, which is the
 * order live watches were notified in.
 *
 * Bounded by changes and by bytes: the oldest txns leave first, whole, and `oldestZxid`
 * moves up to the last one that left. A window that cannot vouch for a stretch of
 * history (a snapshot installed from the leader, or txns applied in replay mode over a
 * fuzzy snapshot, whose reported changes may be incomplete) starts again after it.
 */
import type { Zxid } from '../../protocol/index.js'
import type { WatchChange } from './watch-registry.js'

/** ChangeWindowLimits bound what a window holds. */
export interface ChangeWindowLimits {
  /** changesMax is the most changes held (a txn holds one or more). */
  changesMax: number
  /** bytesMax bounds the estimated memory of the changes held. */
  bytesMax: number
}

/** ChangeAt is one change of the window with its position: the txn's zxid and its index among that txn's changes. */
export interface ChangeAt {
  zxid: Zxid
  index: number
  change: WatchChange
}

/** Position names a point in the history: after the change at `afterIndex` of txn `zxid`, or after the whole txn when `afterIndex` is undefined. */
export interface Position {
  zxid: Zxid
  afterIndex?: number
}

interface Entry {
  zxid: Zxid
  changes: readonly WatchChange[]
  bytes: number
  /** recordedBefore is how many changes were recorded before this entry (since the last restart). */
  recordedBefore: number
}

/** CHANGE_OVERHEAD_BYTES is what a change costs beyond its path (object, array slot, shared entry). */
const CHANGE_OVERHEAD_BYTES = 64

/** COMPACT_AFTER_ENTRIES is how many evicted entries may accumulate at the front before the array is copied. */
const COMPACT_AFTER_ENTRIES = 1024

/** changeBytes estimates the memory of one change: UTF-16 path plus overhead. */
function changeBytes(change: WatchChange): number {
  return CHANGE_OVERHEAD_BYTES + change.path.length * 2
}

/** ChangeWindow holds every change committed after `oldestZxid`, up to its limits. */
export class ChangeWindow {
  private entries: Entry[] = []
  private head = 0
  private start: Zxid
  private latest: Zxid
  private changeCount = 0
  private byteCount = 0
  /** recorded counts every change recorded since the last restart, evicted or not. */
  private recorded = 0

  /** The window starts empty, able to replay from `startZxid` (the applied zxid it is created at). */
  constructor(
    private readonly limits: ChangeWindowLimits,
    startZxid: Zxid,
  ) {
    this.start = startZxid
    this.latest = startZxid
  }

  /** oldestZxid is the oldest position the window can replay from: it holds every txn after it. */
  get oldestZxid(): Zxid {
    return this.start
  }

  /** latestZxid is the last txn recorded (or the start). */
  get latestZxid(): Zxid {
    return this.latest
  }

  /** changes is the number of changes held. */
  get changes(): number {
    return this.changeCount
  }

  /** bytes is the estimated memory of the changes held. */
  get bytes(): number {
    return this.byteCount
  }

  /** covers tells whether a replay from `zxid` is complete: every txn after it is held. */
  covers(zxid: Zxid): boolean {
    return zxid >= this.start
  }

  /**
   * record adds an applied txn's changes; `zxid` must be above the last one recorded
   * (else the window restarts there: it cannot vouch for an out-of-order history). A txn
   * without changes only moves `latestZxid`.
   */
  record(zxid: Zxid, changes: readonly WatchChange[]): void {
    if (zxid <= this.latest) return this.restart(zxid)
    this.latest = zxid
    if (changes.length === 0) return
    let bytes = 0
    for (const change of changes) bytes += changeBytes(change)
    // A copy of exactly this size: the caller's array was grown by push (to 17 slots for
    // one or two changes), and the window keeps what it records for many txns.
    this.entries.push({ zxid, changes: changes.slice(), bytes, recordedBefore: this.recorded })
    this.recorded += changes.length
    this.changeCount += changes.length
    this.byteCount += bytes
    this.evict()
  }

  /** restart forgets everything: the window can replay from `zxid` on (a snapshot installed, or txns it cannot vouch for). */
  restart(zxid: Zxid): void {
    this.entries = []
    this.head = 0
    this.changeCount = 0
    this.byteCount = 0
    this.recorded = 0
    this.start = zxid
    this.latest = zxid
  }

  /**
   * after yields, in order, every change held after `position`. The caller checks
   * `covers(position.zxid)` first: changes older than the window are simply absent.
   */
  *after(position: Position): Generator<ChangeAt> {
    for (let i = this.firstAtOrAfter(position.zxid); i < this.entries.length; i++) {
      const entry = this.entries[i]!
      const skip =
        entry.zxid === position.zxid
          ? position.afterIndex === undefined
            ? entry.changes.length
            : position.afterIndex + 1
          : 0
      for (let index = skip; index < entry.changes.length; index++)
        yield { zxid: entry.zxid, index, change: entry.changes[index]! }
    }
  }

  /**
   * changesAfter is how many held changes a scan from `zxid` visits (`after` and the
   * replays walk them all, whatever they match): the cost a caller budgets before it
   * scans. Zero when the window does not cover `zxid` (nothing is scanned then).
   */
  changesAfter(zxid: Zxid): number {
    if (!this.covers(zxid)) return 0
    const entry = this.entries[this.firstAtOrAfter(zxid)]
    return entry === undefined ? 0 : this.recorded - entry.recordedBefore
  }

  /** changeAt returns the held change at index `index` of txn `zxid`, or undefined when the window does not hold it. */
  changeAt(zxid: Zxid, index: number): WatchChange | undefined {
    const entry = this.entries[this.firstAtOrAfter(zxid)]
    return entry?.zxid === zxid ? entry.changes[index] : undefined
  }

  /** firstAtOrAfter finds the first held entry whose zxid is at least `zxid` (binary search: zxids are not contiguous). */
  private firstAtOrAfter(zxid: Zxid): number {
    let low = this.head
    let high = this.entries.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (this.entries[mid]!.zxid < zxid) low = mid + 1
      else high = mid
    }
    return low
  }

  /** evict drops the oldest txns, whole, while the window is over a limit. */
  private evict(): void {
    while (
      this.head < this.entries.length &&
      (this.changeCount > this.limits.changesMax || this.byteCount > this.limits.bytesMax)
    ) {
      const entry = this.entries[this.head]!
      this.head += 1
      this.changeCount -= entry.changes.length
      this.byteCount -= entry.bytes
      this.start = entry.zxid
    }
    if (this.head >= COMPACT_AFTER_ENTRIES && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head)
      this.head = 0
    }
  }
}
