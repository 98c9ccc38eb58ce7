/**
 * The replica's time seam: wall clock, monotonic clock, timers and the next
 * event-loop turn. Production uses `SYSTEM_CLOCK`; the simulator wires virtual time,
 * so the same code runs on both (replica.ts).
 */

/** TimerHandle cancels a timer set with `ReplicaClock.after`. */
export interface TimerHandle {
  cancel(): void
}

/** ReplicaClock is the time seam. */
export interface ReplicaClock {
  /** nowMs is wall-clock time: txn timestamps, the session-create rate, session ids. */
  nowMs(): number
  /** monotonicMs measures durations (request latency). */
  monotonicMs(): number
  /** after runs `fn` once, `ms` from now; the timer never keeps a process alive. */
  after(ms: number, fn: () => void): TimerHandle
  /** nextTurn runs `fn` in a later event-loop turn, after pending I/O. */
  nextTurn(fn: () => void): void
}

/** SYSTEM_CLOCK is real time: Date.now, performance.now, unref'd timers and setImmediate. */
export const SYSTEM_CLOCK: ReplicaClock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  after: (ms, fn) => {
    const timer = setTimeout(fn, ms)
    timer.unref()
    return { cancel: () => clearTimeout(timer) }
  },
  nextTurn: (fn) => {
    setImmediate(fn)
  },
}
