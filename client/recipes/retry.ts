/**
 * Retrying a call that failed for a passing reason (a dropped connection, a timeout, a
 * member that is not serving), with capped exponential backoff and jitter.
 *
 * The rule that matters: a write whose outcome is unknown (`definite: false`) is not
 * retried unless the caller says it is idempotent, since running it twice may do it
 * twice; and a lost session is never retried (Curator's default retries SESSION_EXPIRED,
 * so an operation silently continues on a new session while the caller believes it
 * still owns what the old one held).
 */
import { AbortedError, ConclaveError } from '../errors.js'

/** RetryOptions shape a `retry` loop. */
export interface RetryOptions {
  /** signal stops the loop (AbortedError), also during a backoff pause. */
  signal?: AbortSignal
  /** maxAttempts bounds the attempts, the first included; default 10 (Infinity: until success or a final error). */
  maxAttempts?: number
  /** baseDelayMs is the pause ceiling after the first failure; it doubles each time. Default 50. */
  baseDelayMs?: number
  /** maxDelayMs caps the pause. Default 2000. */
  maxDelayMs?: number
  /** idempotent also retries failures that may have taken effect (`definite: false`). Default false. */
  idempotent?: boolean
  /** shouldRetry replaces the default decision (`isRetryable`). */
  shouldRetry?: (error: unknown, attempt: number) => boolean
}

/** RETRY_DEFAULTS are the defaults of `retry`. */
export const RETRY_DEFAULTS = { maxAttempts: 10, baseDelayMs: 50, maxDelayMs: 2000 } as const

/**
 * isRetryable tells whether trying again may succeed without risk: a ConclaveError that
 * is `retryable` and, unless the operation is idempotent, `definite`.
 */
export function isRetryable(error: unknown, idempotent = false): boolean {
  return error instanceof ConclaveError && error.retryable && (error.definite || idempotent)
}

/**
 * retry runs `operation` (given the attempt number, from 1) until it resolves, fails
 * with an error not worth retrying, or runs out of attempts; it then rethrows the last
 * error. Pauses are "equal jitter": half the ceiling fixed, half random.
 */
export async function retry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const maxAttempts = options.maxAttempts ?? RETRY_DEFAULTS.maxAttempts
  const baseDelayMs = options.baseDelayMs ?? RETRY_DEFAULTS.baseDelayMs
  const maxDelayMs = options.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs
  const shouldRetry =
    options.shouldRetry ?? ((error: unknown) => isRetryable(error, options.idempotent === true))
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(options.signal)
    try {
      return await operation(attempt)
    } catch (error) {
      if (attempt >= maxAttempts || !shouldRetry(error, attempt)) throw error
    }
    await sleep(backoffMs(attempt, baseDelayMs, maxDelayMs), options.signal)
  }
}

/** backoffMs is the pause after the `failures`-th failure in a row. */
export function backoffMs(
  failures: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  const ceilingMs = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(failures - 1, 30))
  return ceilingMs / 2 + (random() * ceilingMs) / 2
}

/** sleep resolves after `ms`, or rejects with AbortedError when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) return reject(abortedError(signal))
    const onAbort = () => {
      clearTimeout(timer)
      reject(abortedError(signal!))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** throwIfAborted throws AbortedError (with the signal's reason as cause) if `signal` has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw abortedError(signal)
}

/** abortedError is the error a recipe wait rejects with when its signal aborts. */
export function abortedError(signal: AbortSignal): AbortedError {
  return new AbortedError('aborted', { cause: signal.reason })
}
