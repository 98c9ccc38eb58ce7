/**
 * EventQueue: the simulator's agenda, a binary min-heap of events keyed by
 * (virtual time, sequence number). The sequence number breaks ties in insertion
 * order, so two events due at the same millisecond always run in the same order and
 * a seed replays identically.
 */

interface Entry<T> {
  readonly timeMs: number
  readonly seq: number
  readonly event: T
}

/** EventQueue holds future events and hands them out in (time, insertion) order. */
export class EventQueue<T> {
  private readonly heap: Entry<T>[] = []
  private seq = 0

  /** size is the number of events waiting. */
  get size(): number {
    return this.heap.length
  }

  /** push schedules `event` at `timeMs` (a finite number). */
  push(timeMs: number, event: T): void {
    if (!Number.isFinite(timeMs))
      throw new RangeError(`event time must be finite, got ${String(timeMs)}`)
    const heap = this.heap
    heap.push({ timeMs, seq: this.seq++, event })
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i] as Entry<T>, heap[parent] as Entry<T>)) break
      swap(heap, i, parent)
      i = parent
    }
  }

  /** peekTimeMs returns the time of the next event, or undefined when empty. */
  peekTimeMs(): number | undefined {
    return this.heap[0]?.timeMs
  }

  /** pop removes and returns the next event with its time, or undefined when empty. */
  pop(): { timeMs: number; event: T } | undefined {
    const heap = this.heap
    const top = heap[0]
    if (top === undefined) return undefined
    const last = heap.pop() as Entry<T>
    if (heap.length > 0) {
      heap[0] = last
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        const right = left + 1
        let smallest = i
        if (left < heap.length && before(heap[left] as Entry<T>, heap[smallest] as Entry<T>))
          smallest = left
        if (right < heap.length && before(heap[right] as Entry<T>, heap[smallest] as Entry<T>))
          smallest = right
        if (smallest === i) break
        swap(heap, i, smallest)
        i = smallest
      }
    }
    return { timeMs: top.timeMs, event: top.event }
  }
}

function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq)
}

function swap<T>(heap: T[], i: number, j: number): void {
  const tmp = heap[i] as T
  heap[i] = heap[j] as T
  heap[j] = tmp
}
