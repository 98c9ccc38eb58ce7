/**
 * Trace: what happened in one seed, kept cheaply. Every event is folded into a
 * 64-bit FNV-1a hash (two 32-bit lanes, so no bigint in the hot path); the hash
 * proves that a replay took exactly the same path. The last lines are kept in a ring
 * buffer for the failure report, and counters tally faults and protocol events for
 * the coverage figures.
 */

/** TRACE_TAIL_LINES is how many recent trace lines a failure report shows. */
export const TRACE_TAIL_LINES = 40

/** Trace accumulates the trace hash, the tail of the trace and event counters. */
export class Trace {
  private h1 = 0x811c_9dc5
  private h2 = 0x050c_5d1f
  private readonly ring: string[]
  private next = 0
  private filled = false
  /** events is the number of lines recorded. */
  events = 0
  /** counters tallies named events (faults by kind, sync modes, elections...). */
  readonly counters = new Map<string, number>()
  /** verbose, when set, receives every line (for `--verbose` replays). */
  verbose: ((line: string) => void) | undefined

  /** The constructor sizes the ring buffer of recent lines. */
  constructor(tailLines = TRACE_TAIL_LINES) {
    this.ring = new Array<string>(tailLines)
  }

  /** record folds one event line into the hash and keeps it in the tail. */
  record(timeMs: number, line: string): void {
    const text = `${timeMs} ${line}`
    let h1 = this.h1
    let h2 = this.h2
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      h1 = Math.imul(h1 ^ c, 0x0100_0193)
      h2 = Math.imul(h2 ^ c, 0x0100_01b3)
    }
    // A separator so "ab"+"c" and "a"+"bc" hash differently.
    this.h1 = Math.imul(h1 ^ 10, 0x0100_0193)
    this.h2 = Math.imul(h2 ^ 10, 0x0100_01b3)
    this.ring[this.next] = text
    this.next = (this.next + 1) % this.ring.length
    if (this.next === 0) this.filled = true
    this.events += 1
    this.verbose?.(text)
  }

  /** count adds `by` to counter `name`. */
  count(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by)
  }

  /** hash returns the trace hash as 16 hex digits. */
  hash(): string {
    return (
      (this.h1 >>> 0).toString(16).padStart(8, '0') + (this.h2 >>> 0).toString(16).padStart(8, '0')
    )
  }

  /** tail returns the most recent lines, oldest first. */
  tail(): string[] {
    const lines = this.filled
      ? [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)]
      : this.ring.slice(0, this.next)
    return lines.filter((l): l is string => l !== undefined)
  }
}
