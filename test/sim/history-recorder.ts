/**
 * HistoryRecorder: builds the client history in the checker's format
 * (test/checker/history.ts) as simulated clients call and hear back. Times are
 * simulated milliseconds. An op whose reply never came is recorded with a null
 * output (unknown outcome); an op that certainly had no effect and observed nothing
 * (refused because the server was not serving, or the session had expired) is
 * dropped, exactly as if it had never been sent.
 */
import type { History, OpInput, OpOutput, Operation } from '../checker/index.js'
import { ErrorCode, type SessionId, type Txn, type Zxid } from '../../protocol/index.js'

/** OpOutcomeCounts tallies how recorded ops ended, for the run's figures. */
export interface OpOutcomeCounts {
  ok: number
  failed: number
  unknown: number
  dropped: number
  /** resolved counts unknown-outcome writes settled from the committed history. */
  resolved: number
  /** unknownDropped counts unknown-outcome writes dropped because no server applied them. */
  unknownDropped: number
}

/** HistoryRecorder accumulates one seed's history. */
export class HistoryRecorder {
  private readonly ops = new Map<number, Operation>()
  private readonly settled = new Set<number>()
  /** The request (session, xid) behind each write op, to find its txn later. */
  private readonly requests = new Map<number, { sessionId: SessionId; xid: number }>()
  private nextId = 1
  readonly counts: OpOutcomeCounts = {
    ok: 0,
    failed: 0,
    unknown: 0,
    dropped: 0,
    resolved: 0,
    unknownDropped: 0,
  }

  /** begin records a call and returns the op's id. */
  begin(clientId: number, sessionId: bigint, input: OpInput, callTimeMs: number): number {
    const id = this.nextId++
    this.ops.set(id, {
      id,
      clientId,
      sessionId,
      input,
      callTime: callTimeMs,
      returnTime: null,
      output: null,
    })
    return id
  }

  /** isOpen tells whether op `id` is recorded and still waits for its outcome. */
  isOpen(id: number): boolean {
    return this.ops.has(id) && !this.settled.has(id)
  }

  /** finish records the reply of op `id`; `plainZxid` marks a plain read and carries its reply zxid. */
  finish(id: number, output: OpOutput, returnTimeMs: number, plainZxid?: Zxid): void {
    const op = this.ops.get(id)
    if (op === undefined || !this.isOpen(id))
      throw new Error(`history: op ${id} is not outstanding`)
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

  /** bindRequest records which request carried write op `id`. */
  bindRequest(id: number, sessionId: SessionId, xid: number): void {
    this.requests.set(id, { sessionId, xid })
  }

  /**
   * resolveUnknown settles unknown-outcome writes from the committed history, as
   * Jepsen-style checkers patch them from the log: a write whose txn some server
   * applied took effect with that txn's result, at some time before `endTimeMs`; a
   * write no server applied by the end of the run never took effect (nothing observed
   * it) and is dropped, as is one the leader refused (an error txn for a closed
   * session). This keeps unknown outcomes, which multiply the checker's search, rare.
   * Returns how many were settled and how many dropped.
   */
  resolveUnknown(
    txnOf: (sessionId: SessionId, xid: number) => Txn | undefined,
    endTimeMs: number,
  ): { settled: number; dropped: number } {
    let settled = 0
    let dropped = 0
    for (const op of [...this.ops.values()]) {
      if (op.output !== null || op.input.kind === 'read') continue
      const request = this.requests.get(op.id)
      const txn = request === undefined ? undefined : txnOf(request.sessionId, request.xid)
      const output = txn === undefined ? undefined : outputOfTxn(txn)
      if (output === undefined) {
        this.ops.delete(op.id)
        dropped += 1
        continue
      }
      op.output = output
      op.returnTime = Math.max(endTimeMs, op.callTime)
      settled += 1
    }
    this.counts.unknown -= settled + dropped
    this.counts.resolved += settled
    this.counts.unknownDropped += dropped
    this.counts.dropped += dropped
    return { settled, dropped }
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

/** outputOfTxn is the reply a client would have got from a committed txn, or undefined when it had no effect. */
function outputOfTxn(txn: Txn): OpOutput | undefined {
  const op = txn.op
  switch (op.type) {
    case 'create':
      return { ok: true, version: 0, zxid: txn.zxid }
    case 'set':
      return { ok: true, version: op.version, zxid: txn.zxid }
    case 'delete':
      return { ok: true, zxid: txn.zxid }
    case 'error':
      if (op.code === ErrorCode.NODE_EXISTS) return { ok: false, code: 'NODE_EXISTS' }
      if (op.code === ErrorCode.BAD_VERSION) return { ok: false, code: 'BAD_VERSION' }
      if (op.code === ErrorCode.NO_NODE) return { ok: false, code: 'NO_NODE' }
      return undefined
    // Not ops a simulated client records (it creates, sets, deletes and reads).
    case 'createSession':
    case 'closeSession':
    case 'setAcl':
    case 'multi':
      return undefined
  }
}
