/**
 * TxnBuilder: the leader's transaction builder. It turns a client write into a txn,
 * validating it against the pending state (the tree plus every txn prepared but not
 * yet applied), so pipelined requests validate as if the ones before them had already
 * been applied. Every request becomes a txn; a failed one becomes an error txn, so
 * its answer is ordered with the rest of the session's requests.
 */
import {
  ErrorCode,
  type CreateRequest,
  type DeleteRequest,
  type MultiRequest,
  type SessionId,
  type SetRequest,
  type Txn,
  type TxnCreate,
  type TxnMultiOp,
  type TxnOp,
  type Zxid,
} from '../../protocol/index.js'
import type { DataTree } from '../tree/data-tree.js'
import { PendingState, ScratchView } from './pending-state.js'
import {
  isFailure,
  missingAncestors,
  validateCheck,
  validateCreate,
  validateDelete,
  validateSet,
  type RequestFailure,
  type ValidationContext,
} from './validate.js'

/** TxnHeader is what the caller decides for a txn: its zxid, the clock, and the request it answers. */
export interface TxnHeader {
  zxid: Zxid
  timeMs: number
  sessionId: SessionId
  xid: number
}

/** TxnBuilderOptions are the limits writes are checked against. */
export interface TxnBuilderOptions {
  dataBytesMax: number
}

/** WriteRequest is a request TxnBuilder.prepare accepts. */
export type WriteRequest = CreateRequest | DeleteRequest | SetRequest | MultiRequest

/** TxnBuilder prepares txns against the pending state of one DataTree. */
export class TxnBuilder {
  private readonly pending: PendingState

  constructor(
    tree: DataTree,
    private readonly options: TxnBuilderOptions,
  ) {
    this.pending = new PendingState(tree)
  }

  /** pendingRecords is how many paths have prepared-but-unapplied changes. */
  get pendingRecords(): number {
    return this.pending.size
  }

  /** prepare validates a write and returns its txn (an error txn when it fails). */
  prepare(request: WriteRequest, header: TxnHeader): Txn {
    const scratch = new ScratchView(this.pending)
    const context: ValidationContext = { sessionId: header.sessionId, timeMs: header.timeMs, dataBytesMax: this.options.dataBytesMax }
    const op = this.build(scratch, request, context)
    if (op.type !== 'error') scratch.commit(header.zxid)
    return { ...header, op }
  }

  private build(scratch: ScratchView, request: WriteRequest, context: ValidationContext): TxnOp {
    switch (request.op) {
      case 'create':
        return this.buildCreate(scratch, request, context)
      case 'delete':
        return single(validateDelete(scratch, request.path, request.version))
      case 'set':
        return single(validateSet(scratch, request.path, request.data, request.version, context))
      case 'multi':
        return this.buildMulti(scratch, request, context)
      default: {
        const unreachable: never = request
        return errorOp({ code: ErrorCode.UNIMPLEMENTED, reason: `not a write: ${JSON.stringify(unreachable)}` })
      }
    }
  }

  private buildCreate(scratch: ScratchView, request: CreateRequest, context: ValidationContext): TxnOp {
    if (request.makeParents !== true) return single(validateCreate(scratch, request, context))
    const creates: TxnCreate[] = []
    for (const ancestor of missingAncestors(scratch, request.path)) {
      const created = validateCreate(scratch, { path: ancestor, data: new Uint8Array(0), mode: 'persistent' }, context)
      if (isFailure(created)) return errorOp(created)
      creates.push(created)
    }
    const target = validateCreate(scratch, request, context)
    if (isFailure(target)) return errorOp(target)
    return creates.length === 0 ? target : { type: 'multi', ops: [...creates, target] }
  }

  private buildMulti(scratch: ScratchView, request: MultiRequest, context: ValidationContext): TxnOp {
    const ops: TxnMultiOp[] = []
    for (const [index, op] of request.ops.entries()) {
      let result: TxnMultiOp | RequestFailure
      switch (op.op) {
        case 'check':
          result = validateCheck(scratch, op.path, op.version)
          break
        case 'create':
          result = validateCreate(scratch, op, context)
          break
        case 'set':
          result = validateSet(scratch, op.path, op.data, op.version, context)
          break
        case 'delete':
          result = validateDelete(scratch, op.path, op.version)
          break
      }
      if (isFailure(result)) {
        const opErrors = request.ops.map((_, i) => (i < index ? ErrorCode.OK : i === index ? result.code : ErrorCode.RUNTIME_INCONSISTENCY))
        return { type: 'error', code: result.code, reason: `op ${index} (${op.op}): ${result.reason}`, opErrors }
      }
      ops.push(result)
    }
    return { type: 'multi', ops }
  }

  /** prepareCreateSession builds the txn that opens a session. */
  prepareCreateSession(header: TxnHeader, session: { sessionId: SessionId; timeoutMs: number; password: Uint8Array }): Txn {
    return { ...header, op: { type: 'createSession', sessionId: session.sessionId, timeoutMs: session.timeoutMs, password: session.password } }
  }

  /** prepareCloseSession builds the txn that ends a session and deletes its ephemerals, pending ones included. */
  prepareCloseSession(header: TxnHeader, sessionId: SessionId): Txn {
    const scratch = new ScratchView(this.pending)
    const deletePaths = scratch.ephemeralsOf(sessionId)
    for (const path of deletePaths) validateDelete(scratch, path, -1)
    scratch.commit(header.zxid)
    return { ...header, op: { type: 'closeSession', sessionId, deletePaths } }
  }

  /** prepareReap builds a delete for an empty container or expired TTL node, or null if it no longer qualifies. */
  prepareReap(header: TxnHeader, path: string): Txn | null {
    const node = this.pending.get(path)
    if (node === null || node.numChildren > 0) return null
    const due = node.container ? node.cversion > 0 : node.ttlMs > 0 && header.timeMs - node.mtime > node.ttlMs
    if (!due) return null
    const scratch = new ScratchView(this.pending)
    const op = validateDelete(scratch, path, -1)
    if (isFailure(op)) return null
    scratch.commit(header.zxid)
    return { ...header, op }
  }

  /** onApplied tells the builder the tree has applied everything up to `zxid`. */
  onApplied(zxid: Zxid): void {
    this.pending.onApplied(zxid)
  }

  /** reset forgets every prepared change: leadership changed and unapplied txns are gone. */
  reset(): void {
    this.pending.reset()
  }
}

function errorOp(failure: RequestFailure): TxnOp {
  return { type: 'error', code: failure.code, reason: failure.reason }
}

function single<T extends TxnOp>(result: T | RequestFailure): TxnOp {
  return isFailure(result) ? errorOp(result) : result
}
