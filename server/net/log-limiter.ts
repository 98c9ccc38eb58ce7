/**
 * LogLimiter: a warn-level log line source that anyone on the network can trigger (a
 * stranger's refused handshake) must not let that stranger fill the disk or drown the
 * lines that matter. At most `linesMax` lines go out per `windowMs`; the rest are
 * counted, and the next line after the window carries how many were suppressed.
 */
import type { Logger } from 'pino'

/** LogLimits bound a LogLimiter: lines per window. */
export interface LogLimits {
  linesMax: number
  windowMs: number
}

/** DEFAULT_LOG_LIMITS let 20 lines through every 10 s. */
export const DEFAULT_LOG_LIMITS: LogLimits = { linesMax: 20, windowMs: 10_000 }

/** LogLimiter writes warn lines through pino, at most linesMax per windowMs. */
export class LogLimiter {
  private windowStartMs = -Infinity
  private linesInWindow = 0
  private suppressed = 0

  constructor(
    private readonly logger: Logger,
    private readonly limits: LogLimits = DEFAULT_LOG_LIMITS,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** warn writes the line if this window has room, else counts it; returns whether it was written. */
  warn(fields: Record<string, unknown>, msg: string): boolean {
    const now = this.nowMs()
    if (now - this.windowStartMs >= this.limits.windowMs) {
      this.windowStartMs = now
      this.linesInWindow = 0
    }
    if (this.linesInWindow >= this.limits.linesMax) {
      this.suppressed++
      return false
    }
    this.linesInWindow++
    const suppressed = this.suppressed
    this.suppressed = 0
    this.logger.warn(suppressed > 0 ? { ...fields, suppressedBefore: suppressed } : fields, msg)
    return true
  }
}
