/**
 * TokenBucket: a rate limit with a burst. It holds up to `capacity` tokens, refills at
 * `perSecond`, and each admitted event takes one. Time comes in as an argument, so the
 * bucket is deterministic and tested without a clock.
 */

/** TokenBucket admits events at `perSecond` on average, `capacity` at once after a quiet spell. */
export class TokenBucket {
  private tokens: number
  private lastMs: number | undefined

  constructor(
    private readonly perSecond: number,
    private readonly capacity: number,
  ) {
    this.tokens = capacity
  }

  /** take admits one event at `nowMs` (taking a token) or refuses it (false); a clock going back refills nothing. */
  take(nowMs: number): boolean {
    if (this.lastMs !== undefined && nowMs > this.lastMs) {
      this.tokens = Math.min(
        this.capacity,
        this.tokens + ((nowMs - this.lastMs) * this.perSecond) / 1000,
      )
    }
    if (this.lastMs === undefined || nowMs > this.lastMs) this.lastMs = nowMs
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}
