/**
 * Re-dial delays for a peer that is down: exponential growth from `baseMs` up to
 * `capMs`, with "equal jitter" (half the step fixed, half random) so members that lost
 * a peer at the same moment do not all re-dial in lockstep, while no delay drops to 0.
 */

/** BackoffPolicy sets the first re-dial delay and the most any delay may be. */
export interface BackoffPolicy {
  baseMs: number
  capMs: number
}

/** DEFAULT_BACKOFF re-dials after about 50 ms at first, at most once a second (the cap). */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 50, capMs: 1000 }

/**
 * backoffDelayMs is the delay before re-dial attempt `attempt` (0 for the first after a
 * drop): step = min(capMs, baseMs × 2^attempt), delay = step/2 + random() × step/2.
 * `random` returns a number in [0, 1), as Math.random does.
 */
export function backoffDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number,
): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 30)
  const step = Math.min(policy.capMs, policy.baseMs * 2 ** exponent)
  const r = Math.min(Math.max(random(), 0), 1)
  return Math.round(step / 2 + r * (step / 2))
}
