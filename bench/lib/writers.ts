/**
 * Continuous writers for the failover benchmark. Each writer keeps one session on
 * every member and one write in flight; a write that fails or passes its short
 * deadline is retried at once on another member (one whose session is connected, if
 * any), and the writer stays there while writes succeed.
 */
import type { BenchEnsemble } from './ensemble.js'
import type { BenchSession } from './session.js'

/** WriteRecord is one successful write: when it was issued and when its reply came (performance.now() ms). */
export interface WriteRecord {
  startedAt: number
  doneAt: number
}

/** FAST_FAILURE_PAUSE_MS keeps a writer whose every member refuses at once from spinning on the CPU the servers need. */
const FAST_FAILURE_PAUSE_MS = 10

/** Writer is one client with a session per member. */
export class Writer {
  /** done holds every successful write, in completion order. */
  readonly done: WriteRecord[] = []
  failures = 0
  private current: number
  private stopped = false
  private loop: Promise<void> | undefined

  private constructor(
    private readonly sessions: BenchSession[],
    private readonly path: string,
    private readonly timeoutMs: number,
    first: number,
  ) {
    this.current = first
  }

  /** open connects a writer to every member, starting its writes on member `first`, and creates its node. */
  static async open(
    ensemble: BenchEnsemble,
    path: string,
    first: number,
    timeoutMs: number,
    sessionTimeoutMs: number,
  ): Promise<Writer> {
    const sessions = await Promise.all(
      Array.from({ length: ensemble.size }, (_, i) => ensemble.connect(i, sessionTimeoutMs)),
    )
    await sessions[first]!.ensure(path, new Uint8Array(16), 10_000)
    return new Writer(sessions, path, timeoutMs, first)
  }

  /** start begins writing until stop(). */
  start(): void {
    this.loop = this.run()
  }

  /** stop lets the write in flight finish (or time out), then closes every session. */
  async stop(): Promise<void> {
    this.stopped = true
    await this.loop
    await Promise.all(this.sessions.map((s) => s.close()))
  }

  private async run(): Promise<void> {
    let counter = 0
    const value = new Uint8Array(16)
    const view = new DataView(value.buffer)
    while (!this.stopped) {
      view.setUint32(0, ++counter)
      const startedAt = performance.now()
      try {
        await this.sessions[this.current]!.set(this.path, value, this.timeoutMs)
        this.done.push({ startedAt, doneAt: performance.now() })
      } catch {
        this.failures++
        this.current = this.next()
        if (performance.now() - startedAt < FAST_FAILURE_PAUSE_MS)
          await new Promise((resolve) => setTimeout(resolve, FAST_FAILURE_PAUSE_MS))
      }
    }
  }

  /** next is the member after the current one in rotation, preferring one whose session is connected. */
  private next(): number {
    const n = this.sessions.length
    for (let step = 1; step < n; step++) {
      const candidate = (this.current + step) % n
      if (this.sessions[candidate]!.connected()) return candidate
    }
    return (this.current + 1) % n
  }
}

/** GapFigures describe write availability around a fault at `faultAt`. */
export interface GapFigures {
  /** longestGapMs is the longest time between two successful write completions, from the last one before the fault on. */
  longestGapMs: number
  /** firstWriteMs is the time from the fault to the first completion of a write issued after it (NaN if none). */
  firstWriteMs: number
  /** writes counts successful writes from the fault on. */
  writes: number
}

/** gapFigures computes the figures from every writer's records; `endAt` closes the window (a gap still open at the end counts). */
export function gapFigures(
  records: readonly WriteRecord[],
  faultAt: number,
  endAt: number,
): GapFigures {
  const completions = records.map((r) => r.doneAt).sort((a, b) => a - b)
  const before = completions.filter((t) => t <= faultAt).at(-1) ?? faultAt
  const after = completions.filter((t) => t > faultAt && t <= endAt)
  let longestGapMs = 0
  let previous = before
  for (const t of [...after, endAt]) {
    longestGapMs = Math.max(longestGapMs, t - previous)
    previous = t
  }
  const firstIssuedAfter = records
    .filter((r) => r.startedAt > faultAt)
    .reduce((min, r) => Math.min(min, r.doneAt), Number.POSITIVE_INFINITY)
  return {
    longestGapMs,
    firstWriteMs: Number.isFinite(firstIssuedAfter) ? firstIssuedAfter - faultAt : Number.NaN,
    writes: after.length,
  }
}
