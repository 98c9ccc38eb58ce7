/**
 * Disk full: the one storage failure a server waits out instead of stopping.
 *
 * ENOSPC (no space left) and EDQUOT (quota exceeded) say the file system refused to
 * give out blocks; nothing already durable was harmed, and the write that failed can
 * be redone once an operator frees space. Every other I/O error (EIO above all)
 * still stops the server: after it the disk's state is unknown.
 *
 * `retryWhileNoSpace` redoes one storage operation until it succeeds, waiting
 * `retryMs` between attempts and telling the owner (the runtime) about each failed
 * attempt and about the recovery, so the server can step out of the ensemble while
 * it cannot persist and come back by itself. Each operation passed here must be safe
 * to redo after a partial failure (the callers say how they are).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { ioErrorCode } from './errors.js'

/** NO_SPACE_CODES are the errno codes of a full file system or an exhausted quota. */
const NO_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT'])

/** isNoSpace tells whether `err` is a full disk or quota (retryable) rather than a broken one. */
export function isNoSpace(err: unknown): boolean {
  const code = ioErrorCode(err)
  return code !== undefined && NO_SPACE_CODES.has(code)
}

/** NoSpaceEvents is how storage reports a full disk to its owner. */
export interface NoSpaceEvents {
  /** onStall is told about every failed attempt (once per retry interval, not per write): what failed and why. */
  onStall?: (stall: { what: string; error: unknown; attempt: number }) => void
  /** onResume is told once the operation succeeded after at least one failed attempt. */
  onResume?: (resume: { what: string; failedAttempts: number }) => void
}

/** NoSpaceRetry configures retryWhileNoSpace. */
export interface NoSpaceRetry extends NoSpaceEvents {
  /** retryMs is the wait between attempts. */
  retryMs: number
  /** givenUp, if it returns true before an attempt, ends the retries with the last error (the storage is closing). */
  givenUp?: () => boolean
}

/**
 * retryWhileNoSpace runs `attempt` until it succeeds; a failure other than a full disk,
 * or a failure once `givenUp()` is true, is thrown as is.
 */
export async function retryWhileNoSpace<T>(
  what: string,
  retry: NoSpaceRetry,
  attempt: (attemptNumber: number) => Promise<T>,
): Promise<T> {
  for (let attemptNumber = 1; ; attemptNumber++) {
    try {
      const result = await attempt(attemptNumber)
      if (attemptNumber > 1) retry.onResume?.({ what, failedAttempts: attemptNumber - 1 })
      return result
    } catch (error) {
      if (!isNoSpace(error) || retry.givenUp?.() === true) throw error
      retry.onStall?.({ what, error, attempt: attemptNumber })
      await sleep(retry.retryMs)
      if (retry.givenUp?.() === true) throw error
    }
  }
}
