/**
 * The clock the SDK measures time with: the time now and one-shot timers. Every
 * deadline, ping, backoff and session timer of a client goes through one Clock, so
 * the SDK's own tests can replace it with a clock they move by hand and check the
 * timing rules in logical milliseconds instead of racing the machine's speed. Users
 * never pass one: `connect()` always runs on the system clock.
 */

/** TimerHandle identifies a timer to cancel; opaque: only the clock that made it knows what is inside. */
export interface TimerHandle {
  readonly __timerHandle: never
}

/** Clock is the time source and timer service of one client. */
export interface Clock {
  /** nowMs is the current time in milliseconds (only differences between readings mean anything). */
  nowMs(): number
  /** setTimeout runs `callback` once after `delayMs`; returns a handle for clearTimeout. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle
  /** clearTimeout cancels a timer that has not run; undefined and spent handles are ignored. */
  clearTimeout(handle: TimerHandle | undefined): void
}

/** SYSTEM_CLOCK is the real clock: Date.now and the runtime's timers (Node or browser). */
export const SYSTEM_CLOCK: Clock = {
  nowMs: () => Date.now(),
  // The runtime's handle (a number in browsers, an object in Node) behind the opaque type.
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs) as unknown as TimerHandle,
  clearTimeout: (handle) =>
    clearTimeout(handle as unknown as ReturnType<typeof setTimeout> | undefined),
}

/**
 * ClientInternals are hooks for the SDK's own tests, not part of the public API: they
 * are not exported from `conclave/client` and may change without notice.
 */
export interface ClientInternals {
  /** clock replaces the system clock for every timer and time reading of the client. */
  clock?: Clock
}
