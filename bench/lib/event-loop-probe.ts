/**
 * Event-loop lag of each Conclave member during a measured window, polled from its
 * /status. A member reports lag over its own fixed 5 s windows, not since the last read
 * (server/runtime/event-loop-lag.ts): `lagP99Ms` is the p99 of its current window and
 * `lagMaxMs` the max over the current and previous one. So the figures kept here (the
 * largest seen by any poll in the window) can reach back up to 10 s before a poll, into
 * the warm-up or the previous shape.
 */
import type { BenchEnsemble } from './ensemble.js'

/** MemberLag is the largest lag figures one member reported during a window (NaN if it never answered). */
export interface MemberLag {
  lagMaxMs: number
  lagP99Ms: number
}

/** POLL_MS: once a second costs each member one small HTTP request; the lag windows are 5 s. */
const POLL_MS = 1000

/** EventLoopProbe polls every member's lag from `start` until `stop`; a no-op for systems without /status lag. */
export class EventLoopProbe {
  private readonly lags: MemberLag[]
  private timer: NodeJS.Timeout | undefined
  private polls: Promise<void>[] = []

  constructor(private readonly ensemble: BenchEnsemble) {
    this.lags = Array.from({ length: ensemble.size }, () => ({ lagMaxMs: NaN, lagP99Ms: NaN }))
  }

  /** supported tells whether the system reports event-loop lag at all. */
  get supported(): boolean {
    return this.ensemble.eventLoopLag !== undefined
  }

  /** start begins polling (the first poll one interval in, so it reads the window, not the warm-up). */
  start(): void {
    if (!this.supported) return
    this.timer = setInterval(() => this.polls.push(this.poll()), POLL_MS)
  }

  /** stop polls once more, waits for the polls under way and returns each member's figures. */
  async stop(): Promise<MemberLag[] | undefined> {
    if (!this.supported) return undefined
    clearInterval(this.timer)
    this.polls.push(this.poll())
    await Promise.all(this.polls)
    return this.lags
  }

  private async poll(): Promise<void> {
    const read = this.ensemble.eventLoopLag
    if (read === undefined) return
    await Promise.all(
      this.lags.map(async (lag, i) => {
        const figures = await read.call(this.ensemble, i)
        if (figures === undefined) return
        lag.lagMaxMs = Math.max(figures.lagMaxMs, Number.isNaN(lag.lagMaxMs) ? 0 : lag.lagMaxMs)
        lag.lagP99Ms = Math.max(figures.lagP99Ms, Number.isNaN(lag.lagP99Ms) ? 0 : lag.lagP99Ms)
      }),
    )
  }
}
