/**
 * ExpiryQueue: deadlines grouped into one bucket per tick, like ZooKeeper's
 * `ExpiryQueue` (reference: zookeeper-internals.md §4). Moving a key is O(1) and
 * draining costs O(expired keys) per tick, so a leader with many sessions never scans
 * them all to find the few that expire.
 *
 * Invariant: every bucket's tick is >= `nextDrainTick`, the first tick not yet drained.
 * A deadline set in the already-drained past lands in the `nextDrainTick` bucket, so it
 * comes out of the very next drain instead of being lost.
 */

/** ExpiryQueue holds one deadline tick per key and hands out the keys whose deadline has come. */
export class ExpiryQueue<K> {
  private readonly deadlineByKey = new Map<K, number>()
  private readonly buckets = new Map<number, Set<K>>()
  /** The first tick `drain` has not covered yet. */
  private nextDrainTick = 0

  /** size is the number of keys with a deadline. */
  get size(): number {
    return this.deadlineByKey.size
  }

  /** deadlineOf returns the tick of the bucket holding `key`, or undefined when it has none. */
  deadlineOf(key: K): number | undefined {
    return this.deadlineByKey.get(key)
  }

  /**
   * set moves `key` into the bucket of `deadlineTick` (or of the next undrained tick
   * when that deadline has already been drained). Earlier and later deadlines are both
   * accepted; callers that must only extend a deadline compare first.
   */
  set(key: K, deadlineTick: number): void {
    const bucketTick = Math.max(deadlineTick, this.nextDrainTick)
    const previous = this.deadlineByKey.get(key)
    if (previous === bucketTick) return
    if (previous !== undefined) this.removeFromBucket(key, previous)
    this.deadlineByKey.set(key, bucketTick)
    let bucket = this.buckets.get(bucketTick)
    if (bucket === undefined) {
      bucket = new Set()
      this.buckets.set(bucketTick, bucket)
    }
    bucket.add(key)
  }

  /** delete forgets `key`; it returns false when the key had no deadline. */
  delete(key: K): boolean {
    const previous = this.deadlineByKey.get(key)
    if (previous === undefined) return false
    this.removeFromBucket(key, previous)
    this.deadlineByKey.delete(key)
    return true
  }

  /**
   * drain removes and returns every key whose deadline is <= `nowTick`, earliest bucket
   * first. Ticks before the last drained one are ignored (time never runs backwards).
   * The cost is the smaller of the ticks elapsed and the live buckets, plus the keys
   * returned: after a long quiet spell (a follower turned leader) it walks the buckets,
   * not every tick in between.
   */
  drain(nowTick: number): K[] {
    if (nowTick < this.nextDrainTick) return []
    const elapsedTicks = nowTick - this.nextDrainTick + 1
    const dueTicks =
      elapsedTicks <= this.buckets.size
        ? ticksBetween(this.nextDrainTick, nowTick).filter((tick) => this.buckets.has(tick))
        : [...this.buckets.keys()].filter((tick) => tick <= nowTick).sort((a, b) => a - b)
    this.nextDrainTick = nowTick + 1
    const expired: K[] = []
    for (const tick of dueTicks) {
      const bucket = this.buckets.get(tick)
      if (bucket === undefined) continue
      this.buckets.delete(tick)
      for (const key of bucket) {
        this.deadlineByKey.delete(key)
        expired.push(key)
      }
    }
    return expired
  }

  private removeFromBucket(key: K, tick: number): void {
    const bucket = this.buckets.get(tick)
    if (bucket === undefined) return
    bucket.delete(key)
    if (bucket.size === 0) this.buckets.delete(tick)
  }
}

function ticksBetween(firstTick: number, lastTick: number): number[] {
  const ticks: number[] = []
  for (let tick = firstTick; tick <= lastTick; tick++) ticks.push(tick)
  return ticks
}
