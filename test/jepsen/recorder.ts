/**
 * Recorder: builds a history in the checker's format (test/checker/history.ts) while
 * real SDK clients run against real members. Times are milliseconds since the run
 * began (performance.now, monotonic).
 *
 * Outcomes, as Jepsen classifies them:
 * - ok: a reply arrived; it is an observation the checkers use.
 * - failed definitely with a code the model knows (NO_NODE, NODE_EXISTS, BAD_VERSION):
 *   the server decided the request against the state; also an observation.
 * - unknown: a write was sent and no reply came (connection lost, timeout): it may have
 *   taken effect at any time after its call, or never. It stays in the history with
 *   a null output.
 * - dropped: the op certainly had no effect and observed nothing (never sent, refused
 *   as NOT_SERVING, SESSION_MOVED or SESSION_EXPIRED), or it was a read without a
 *   reply; it is left out, as if never called.
 */
import type { FailureCode, History, OpInput, OpOutput, Operation } from '../checker/index.js'

/** OutcomeCounts tallies how ops ended. */
export interface OutcomeCounts {
  ok: number
  failed: number
  unknown: number
  dropped: number
}

/** Recorder accumulates one run's history. */
export class Recorder {
  private readonly ops = new Map<number, Operation>()
  private readonly open = new Set<number>()
  private nextId = 1
  readonly counts: OutcomeCounts = { ok: 0, failed: 0, unknown: 0, dropped: 0 }
  /** droppedBy counts dropped ops per reason (error code), for the run's figures. */
  readonly droppedBy = new Map<string, number>()

  constructor(private readonly now: () => number) {}

  /** begin records a call and returns the op's id. */
  begin(clientId: number, sessionId: bigint, input: OpInput): number {
    const id = this.nextId++
    this.ops.set(id, {
      id,
      clientId,
      sessionId,
      input,
      callTime: this.now(),
      returnTime: null,
      output: null,
    })
    this.open.add(id)
    return id
  }

  /** ok records a reply; `plainZxid` marks a plain read; `sessionId` corrects the session if it changed meanwhile. */
  ok(id: number, output: OpOutput, options: { plainZxid?: bigint; sessionId?: bigint } = {}): void {
    const op = this.take(id)
    op.output = output
    op.returnTime = Math.max(op.callTime, this.now())
    if (options.plainZxid !== undefined) op.plain = { zxid: options.plainZxid }
    if (options.sessionId !== undefined && options.sessionId !== 0n)
      op.sessionId = options.sessionId
    if (output.ok) this.counts.ok++
    else this.counts.failed++
  }

  /** fail records a definite failure the model understands. */
  fail(id: number, code: FailureCode, options: { sessionId?: bigint } = {}): void {
    this.ok(id, { ok: false, code }, options)
  }

  /** unknown leaves a write's outcome open; an unanswered read is dropped (it observed nothing). */
  unknown(id: number, reason: string): void {
    const op = this.ops.get(id)
    if (op === undefined || !this.open.has(id)) return
    if (op.input.kind === 'read') return this.drop(id, `${reason} (read)`)
    this.open.delete(id)
    this.counts.unknown++
  }

  /** drop removes an op that had no effect and observed nothing. */
  drop(id: number, reason: string): void {
    if (!this.open.has(id)) return
    this.open.delete(id)
    this.ops.delete(id)
    this.counts.dropped++
    this.droppedBy.set(reason, (this.droppedBy.get(reason) ?? 0) + 1)
  }

  /** history returns every recorded op (still-open ones as unknown outcomes). */
  history(): History {
    return [...this.ops.values()]
  }

  /** size is the number of recorded operations. */
  get size(): number {
    return this.ops.size
  }

  private take(id: number): Operation {
    const op = this.ops.get(id)
    if (op === undefined || !this.open.has(id))
      throw new Error(`recorder: op ${id} is not outstanding`)
    this.open.delete(id)
    return op
  }
}
