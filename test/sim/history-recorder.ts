/**
 * HistoryRecorder: builds the client history in the checker's format
 * (test/checker/history.ts) as simulated clients call and hear back. Times are
 * simulated milliseconds. An op whose reply never came is recorded with a null
 * output (unknown outcome); an op that certainly had no effect and observed nothing
 * (refused because the server was not serving, or the session had expired) is
 * dropped, exactly as if it had never been sent.
 */
import type { History, OpInput, OpOutput, Operation } from '../checker/index.js'
import type { Zxid } from '../../protocol/index.js'

/** OpOutcomeCounts tallies how recorded ops ended, for the run's figures. */
export interface OpOutcomeCounts {
  ok: number
  failed: number
  unknown: number
  dropped: number
}

/** HistoryRecorder accumulates one seed's history. */
export class HistoryRecorder {
  private readonly ops = new Map<number, Operation>()
  private readonly settled = new Set<number>()
  private nextId = 1
  readonly counts: OpOutcomeCounts = { ok: 0, failed: 0, unknown: 0, dropped: 0 }

  /** begin records a call and returns the op's id. */
  begin(clientId: number, sessionId: bigint, input: OpInput, callTimeMs: number): number {
    const id = this.nextId++
    this.ops.set(id, { id, clientId, sessionId, input, callTime: callTimeMs, returnTime: null, output: null })
    return id
  }

  /** isOpen tells whether op `id` is recorded and still waits for its outcome. */
  isOpen(id: number): boolean {
    return this.ops.has(id) && !this.settled.has(id)
  }

  /** finish records the reply of op `id`; `plainZxid` marks a plain read and carries its reply zxid. */
  finish(id: number, output: OpOutput, returnTimeMs: number, plainZxid?: Zxid): void {
    const op = this.ops.get(id)
    if (op === undefined || !this.isOpen(id)) throw new Error(`history: op ${id} is not outstanding`)
    this.settled.add(id)
    op.output = output
    op.returnTime = returnTimeMs
    if (plainZxid !== undefined) op.plain = { zxid: plainZxid }
    if (output.ok) this.counts.ok += 1
    else this.counts.failed += 1
  }

  /** unknown leaves op `id` with an unknown outcome (connection lost, timed out, crashed); a settled op is left alone. */
  unknown(id: number): void {
    const op = this.ops.get(id)
    if (op === undefined || !this.isOpen(id)) return
    this.settled.add(id)
    if (op.input.kind === 'read') {
      // An unknown read observed nothing; the checkers skip it anyway.
      this.ops.delete(id)
      this.counts.dropped += 1
      return
    }
    this.counts.unknown += 1
  }

  /** drop removes op `id`: it certainly had no effect and observed nothing. A settled op is left alone. */
  drop(id: number): void {
    if (!this.isOpen(id)) return
    this.ops.delete(id)
    this.counts.dropped += 1
  }

  /** history returns the recorded operations in call order. */
  history(): History {
    return [...this.ops.values()]
  }

  /** size is the number of recorded operations. */
  get size(): number {
    return this.ops.size
  }
}
