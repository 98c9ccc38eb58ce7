/**
 * ManualClock: a Clock (client/clock.ts) whose time moves only when a test moves it.
 * A test that runs the SDK on it checks timing rules in logical milliseconds ("the
 * connection is dropped once 2/3 of the timeout has passed, not before"), so a slow or
 * loaded machine can delay the test but cannot change its outcome.
 *
 * Timers run synchronously inside `advance`, each with the clock reading its due time.
 * Promise continuations a timer triggers run after `advance` returns, when the test
 * next awaits (`flushPromises`).
 */
import type { Clock, TimerHandle } from '../../client/clock.js'

interface Timer {
  dueMs: number
  callback: () => void
}

/** ManualClock is a hand-driven Clock; time starts at `startMs` (default 0). */
export class ManualClock implements Clock {
  private currentMs: number
  private nextId = 1
  /** Pending timers by id; ids grow, so equal due times run in the order they were set. */
  private readonly timers = new Map<number, Timer>()

  constructor(startMs = 0) {
    this.currentMs = startMs
  }

  /** nowMs is the logical time. */
  nowMs(): number {
    return this.currentMs
  }

  /** setTimeout schedules `callback` at now + `delayMs` (a negative delay counts as 0). */
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++
    this.timers.set(id, { dueMs: this.currentMs + Math.max(0, delayMs), callback })
    return id as unknown as TimerHandle
  }

  /** clearTimeout cancels a pending timer; anything else is ignored. */
  clearTimeout(handle: TimerHandle | undefined): void {
    const id = handle as unknown
    if (typeof id === 'number') this.timers.delete(id)
  }

  /** advance moves time forward by `ms`, running every timer that falls due (including ones set by those timers) in due order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`advance takes a non-negative number of ms, got ${ms}`)
    const targetMs = this.currentMs + ms
    for (let next = this.earliest(targetMs); next !== undefined; next = this.earliest(targetMs)) {
      this.timers.delete(next.id)
      // Overdue timers (after `stall`) run late, at the time it is now.
      this.currentMs = Math.max(this.currentMs, next.timer.dueMs)
      next.timer.callback()
    }
    this.currentMs = targetMs
  }

  /**
   * stall moves time forward by `ms` without running any timer, like an event loop held
   * up by a long synchronous task or a paused process; the next `advance` (even by 0)
   * runs the timers that fell due meanwhile, late.
   */
  stall(ms: number): void {
    if (!(ms >= 0)) throw new Error(`stall takes a non-negative number of ms, got ${ms}`)
    this.currentMs += ms
  }

  /** pendingTimers is the number of timers set and neither run nor cleared. */
  get pendingTimers(): number {
    return this.timers.size
  }

  /** nextTimerInMs is how far ahead the earliest pending timer is due, or undefined when none is pending. */
  nextTimerInMs(): number | undefined {
    const next = this.earliest(Number.POSITIVE_INFINITY)
    return next === undefined ? undefined : next.timer.dueMs - this.currentMs
  }

  /** earliest is the pending timer due first, at or before `limitMs`. */
  private earliest(limitMs: number): { id: number; timer: Timer } | undefined {
    let best: { id: number; timer: Timer } | undefined
    for (const [id, timer] of this.timers) {
      if (timer.dueMs > limitMs) continue
      if (best === undefined || timer.dueMs < best.timer.dueMs) best = { id, timer }
    }
    return best
  }
}

/**
 * flushPromises lets every promise continuation queued so far run (one macrotask turn;
 * the microtask queue is drained before it). It is not a sleep: no time needs to pass.
 */
export function flushPromises(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
