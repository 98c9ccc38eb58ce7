/**
 * EventLoopLag: how late this process's event loop runs, over a recent window. A member
 * whose loop stalls past the leader timeout drops out of the quorum, so this is the
 * figure that shows whether any client's work was sliced finely enough. Reported in
 * /status as `eventLoop` (milliseconds, over the last one to two windows).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'

/** WINDOW_MS is how long one window lasts; /status covers the current and the previous one. */
const WINDOW_MS = 5000

/** EventLoopLagReport is what /status shows. */
export interface EventLoopLagReport {
  /** lagMaxMs is the longest delay seen in the current and previous window. */
  lagMaxMs: number
  /** lagP99Ms is the 99th percentile delay of the current window (the previous one right after a roll). */
  lagP99Ms: number
  windowMs: number
}

/** EventLoopLag samples the event loop's delay; `stop` it with the server. */
export class EventLoopLag {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 })
  private previous: EventLoopLagReport = { lagMaxMs: 0, lagP99Ms: 0, windowMs: WINDOW_MS }
  private readonly roller: NodeJS.Timeout

  constructor() {
    this.histogram.enable()
    this.roller = setInterval(() => this.roll(), WINDOW_MS)
    this.roller.unref()
  }

  /** report is the lag over the current and previous window. */
  report(): EventLoopLagReport {
    const current = this.current()
    return {
      lagMaxMs: Math.max(current.lagMaxMs, this.previous.lagMaxMs),
      lagP99Ms: this.histogram.count > 0 ? current.lagP99Ms : this.previous.lagP99Ms,
      windowMs: WINDOW_MS,
    }
  }

  /** stop ends sampling. */
  stop(): void {
    clearInterval(this.roller)
    this.histogram.disable()
  }

  private current(): EventLoopLagReport {
    // The histogram records in nanoseconds; an empty one reports max 0 and percentiles 0.
    const toMs = (ns: number) => Math.round(ns / 1e4) / 100
    return {
      lagMaxMs: toMs(this.histogram.max),
      lagP99Ms: toMs(this.histogram.percentile(99)),
      windowMs: WINDOW_MS,
    }
  }

  private roll(): void {
    this.previous = this.current()
    this.histogram.reset()
  }
}
