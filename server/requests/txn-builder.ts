/**
 * TxnBuilder: the leader's transaction builder (ZooKeeper's PrepRequestProcessor). It
 * turns a client write into a txn, validating it against the pending state (the tree
 * plus every txn prepared but not yet applied), so pipelined requests validate as if
 * the ones before them had already been applied. Every request becomes a txn; a failed
 * one becomes an error txn, so its answer is ordered with the rest of the session's.
 *
 * The caller owns zxids and the clock: each call gets a TxnHeader whose zxid is newer
 * than every txn prepared before (PendingStateError otherwise), and it reports applied
 * txns with `onApplied` and a change of leadership with `reset`.
 */
import {
  ERROR_REASON_CHARS_MAX,
  ErrorCode,
  MULTI_OPS_MAX,
  closeSessionBytesBound,
  txnBytesBound,
  type CreateRequest,
  type DeleteRequest,
  type MultiRequest,
  type SessionId,
  type SetAclRequest,
  type SetRequest,
  type Txn,
  type TxnCreate,
  type TxnDelete,
  type TxnMultiOp,
  type TxnOp,
  type Zxid,
} from '../../protocol/index.js'
import type { DataTree } from '../tree/data-tree.js'
import type { AuthId } from './acl.js'
import { NO_CHANGES, PendingState, ScratchView } from './pending-state.js'
import {
  checkCreateArguments,
  isFailure,
  missingAncestors,
  validateCheck,
  validateCreate,
  validateDelete,
  validateSet,
  validateSetAcl,
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
  /** dataBytesMax is the largest znode payload accepted (the server's maxDataBytes). */
  dataBytesMax: number
  /**
   * txnBytesMax is the largest txn, measured by txnBytesBound, the builder prepares: a
   * write whose txn would be larger is refused, and no session may own ephemerals its
   * closeSession txn could not carry within it. Every log record and peer message is
   * built to hold one such txn (runtime config: txnBytesMaxFor).
   */
  txnBytesMax: number
  /** ephemeralsPerSessionMax is the most ephemerals one session may own (maxEphemeralsPerSession). */
  ephemeralsPerSessionMax: number
}

/** WriteRequest is a request TxnBuilder.prepare accepts. */
export type WriteRequest = CreateRequest | DeleteRequest | SetRequest | SetAclRequest | MultiRequest

/** SessionSpec is the session a createSession txn opens. */
export interface SessionSpec {
  sessionId: SessionId
  timeoutMs: number
  password: Uint8Array
}

/** TxnBuilder prepares txns against the pending state of one DataTree. */
export class TxnBuilder {
  private readonly pending: PendingState

  /** The builder validates against `tree` plus its own prepared, unapplied txns. */
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

  /** outstandingTxns is how many prepared txns (error txns included) the tree has not applied yet. */
  get outstandingTxns(): number {
    return this.pending.outstandingTxns
  }

  /** lastPreparedZxid is the zxid of the newest prepared txn since construction or reset (0n if none). */
  get lastPreparedZxid(): Zxid {
    return this.pending.lastPreparedZxid
  }

  /**
   * prepare validates a write and returns its txn: the write's state-setting op, or an
   * error txn carrying the code (and per-op codes for a multi). Either way the txn is
   * registered in the pending state, so the next prepare sees it. `identities` are the
   * sending connection's, checked against the ACLs where ZooKeeper checks them
   * (none: an anonymous writer, who passes only `world:anyone` entries).
   */
  prepare(request: WriteRequest, header: TxnHeader, identities: readonly AuthId[] = []): Txn {
    this.pending.checkZxid(header.zxid)
    const scratch = new ScratchView(this.pending)
    const { dataBytesMax, txnBytesMax, ephemeralsPerSessionMax } = this.options
    const context: ValidationContext = {
      sessionId: header.sessionId,
      timeMs: header.timeMs,
      dataBytesMax,
      txnBytesMax,
      ephemeralsPerSessionMax,
      identities,
    }
    const txn = this.withinTxnLimit(
      { ...header, op: this.build(scratch, request, context) },
      request,
    )
    this.pending.record(header.zxid, txn.op.type === 'error' ? NO_CHANGES : scratch.changes())
    return txn
  }

  /**
   * withinTxnLimit returns `txn` when it fits the txn limit, else one with an error op saying
   * by how much it does not: a txn that could not be logged or sent to the followers
   * must never be proposed, let alone acknowledged. An error op's reason is clipped to
   * what the txn shape allows (a reason may quote a path of 4 KiB twice).
   */
  private withinTxnLimit(txn: Txn, request: WriteRequest): Txn {
    const op = txn.op
    if (op.type === 'error') return { ...txn, op: { ...op, reason: clipReason(op.reason) } }
    const bytes = txnBytesBound(txn)
    if (bytes <= this.options.txnBytesMax) return txn
    return {
      ...txn,
      op: errorOp({
        code: ErrorCode.BAD_ARGUMENTS,
        reason: `this ${request.op} makes a txn of up to ${bytes} bytes, over the txn limit of ${this.options.txnBytesMax} bytes`,
      }),
    }
  }

  private build(scratch: ScratchView, request: WriteRequest, context: ValidationContext): TxnOp {
    switch (request.op) {
      case 'create':
        return this.buildCreate(scratch, request, context)
      case 'delete':
        return single(validateDelete(scratch, request.path, request.version, context))
      case 'set':
        return single(validateSet(scratch, request.path, request.data, request.version, context))
      case 'setAcl':
        return single(validateSetAcl(scratch, request.path, request.acl, request.version, context))
      case 'multi':
        return this.buildMulti(scratch, request, context)
      default: {
        const unreachable: never = request
        return errorOp({
          code: ErrorCode.UNIMPLEMENTED,
          reason: `${String((unreachable as { op?: unknown }).op)} is not a write`,
        })
      }
    }
  }

  /** buildCreate validates a create; with makeParents, missing ancestors become persistent creates in one multi. */
  private buildCreate(
    scratch: ScratchView,
    request: CreateRequest,
    context: ValidationContext,
  ): TxnOp {
    if (request.makeParents !== true) return single(validateCreate(scratch, request, context))
    // Validate the target's own arguments first, so a bad request creates no ancestor
    // and reports its own problem rather than an ancestor's.
    const argumentFailure = checkCreateArguments(request, context)
    if (argumentFailure !== null) return errorOp(argumentFailure)
    const ancestors = missingAncestors(scratch, request.path)
    // The ancestors and the node go into one multi, which holds at most MULTI_OPS_MAX ops.
    if (ancestors.length >= MULTI_OPS_MAX) {
      return errorOp({
        code: ErrorCode.BAD_ARGUMENTS,
        reason: `makeParents would create ${ancestors.length} missing ancestors; one create makes at most ${MULTI_OPS_MAX - 1} (a multi holds ${MULTI_OPS_MAX} ops)`,
      })
    }
    const creates: TxnCreate[] = []
    for (const ancestor of ancestors) {
      const created = validateCreate(
        scratch,
        { path: ancestor, data: new Uint8Array(0), mode: 'persistent' },
        context,
      )
      if (isFailure(created)) return errorOp(created)
      creates.push(created)
    }
    const target = validateCreate(scratch, request, context)
    if (isFailure(target)) return errorOp(target)
    return creates.length === 0 ? target : { type: 'multi', ops: [...creates, target] }
  }

  /** buildMulti validates ops in order, each seeing the earlier ones; the first failure fails them all. */
  private buildMulti(
    scratch: ScratchView,
    request: MultiRequest,
    context: ValidationContext,
  ): TxnOp {
    if (!Array.isArray(request.ops) || request.ops.length > MULTI_OPS_MAX) {
      return errorOp({
        code: ErrorCode.BAD_ARGUMENTS,
        reason: `a multi takes at most ${MULTI_OPS_MAX} ops`,
      })
    }
    const ops: TxnMultiOp[] = []
    for (const [index, op] of request.ops.entries()) {
      const result = validateMultiOp(scratch, op, context)
      if (isFailure(result)) {
        // ZooKeeper's shape: 0 before the failing op, its code, RUNTIME_INCONSISTENCY after.
        const opErrors = request.ops.map((_, i) =>
          i < index ? ErrorCode.OK : i === index ? result.code : ErrorCode.RUNTIME_INCONSISTENCY,
        )
        return {
          type: 'error',
          code: result.code,
          reason: `op ${index} (${op.op}): ${result.reason}`,
          opErrors,
        }
      }
      ops.push(result)
    }
    return { type: 'multi', ops }
  }

  /** prepareCreateSession builds the txn that opens a session. */
  prepareCreateSession(header: TxnHeader, session: SessionSpec): Txn {
    this.pending.record(header.zxid, NO_CHANGES)
    return {
      ...header,
      op: {
        type: 'createSession',
        sessionId: session.sessionId,
        timeoutMs: session.timeoutMs,
        password: session.password,
      },
    }
  }

  /**
   * prepareCloseSession builds the txn that ends a session. Its deletePaths are the
   * session's ephemerals in the pending state: applied ones plus pending creates minus
   * pending deletes, sorted.
   */
  prepareCloseSession(header: TxnHeader, sessionId: SessionId): Txn {
    this.pending.checkZxid(header.zxid)
    const scratch = new ScratchView(this.pending)
    const deletePaths = scratch.ephemeralsOf(sessionId)
    // Ephemerals have no children, so each delete validates; record them so later
    // prepares see the nodes gone.
    for (const path of deletePaths) validateDelete(scratch, path, -1)
    this.pending.record(header.zxid, scratch.changes())
    return { ...header, op: { type: 'closeSession', sessionId, deletePaths } }
  }

  /**
   * prepareCloseTrim returns null when the session's closeSession txn fits the txn limit,
   * as the ephemeral quota keeps it. A session may still own more than its close can
   * carry if its ephemerals were created under a larger limit (maxDataBytes lowered
   * since, or an older version); then this builds a multi of deletes of some of them,
   * within the txn limit and MULTI_OPS_MAX, to propose before the close. Called until it
   * returns null, it leaves a close that fits.
   */
  prepareCloseTrim(header: TxnHeader, sessionId: SessionId): Txn | null {
    const { txnBytesMax } = this.options
    const fits = (view: ScratchView) => {
      const { count, pathBytes } = view.ephemeralFootprintOf(sessionId)
      return closeSessionBytesBound(count, pathBytes) <= txnBytesMax
    }
    this.pending.checkZxid(header.zxid)
    const scratch = new ScratchView(this.pending)
    if (fits(scratch)) return null
    const ops: TxnDelete[] = []
    const multiOf = (deletes: TxnDelete[]): Txn => ({
      ...header,
      op: { type: 'multi', ops: deletes },
    })
    const emptyBytes = txnBytesBound(multiOf([]))
    let bytes = emptyBytes
    for (const path of scratch.ephemeralsOf(sessionId)) {
      if (fits(scratch) || ops.length === MULTI_OPS_MAX) break
      bytes += txnBytesBound(multiOf([{ type: 'delete', path }])) - emptyBytes
      if (ops.length > 0 && bytes > txnBytesMax) break
      const op = validateDelete(scratch, path, -1)
      if (isFailure(op)) break // not reached: an ephemeral has no children
      ops.push(op)
    }
    this.pending.record(header.zxid, scratch.changes())
    return multiOf(ops)
  }

  /**
   * prepareReap builds the delete of an empty container (one that has had a child) or
   * of a childless TTL node unchanged for more than its TTL at `header.timeMs`, judged
   * by the pending state. It returns null, registering nothing, when the node no
   * longer qualifies, so the caller does not spend the zxid.
   */
  prepareReap(header: TxnHeader, path: string): Txn | null {
    const node = this.pending.get(path)
    if (node === null || node.numChildren > 0) return null
    const due = node.container
      ? node.cversion !== 0
      : node.ttlMs > 0 && header.timeMs - node.mtime > node.ttlMs
    if (!due) return null
    this.pending.checkZxid(header.zxid)
    const scratch = new ScratchView(this.pending)
    const op = validateDelete(scratch, path, -1)
    if (isFailure(op)) return null
    this.pending.record(header.zxid, scratch.changes())
    return { ...header, op }
  }

  /** onApplied tells the builder the tree has applied every txn up to `zxid`. */
  onApplied(zxid: Zxid): void {
    this.pending.onApplied(zxid)
  }

  /** reset forgets every prepared change: leadership changed and unapplied txns are gone. */
  reset(): void {
    this.pending.reset()
  }
}

function validateMultiOp(
  scratch: ScratchView,
  op: MultiRequest['ops'][number],
  context: ValidationContext,
): TxnMultiOp | RequestFailure {
  switch (op.op) {
    case 'check':
      return validateCheck(scratch, op.path, op.version, context)
    case 'create':
      return validateCreate(scratch, op, context)
    case 'set':
      return validateSet(scratch, op.path, op.data, op.version, context)
    case 'delete':
      return validateDelete(scratch, op.path, op.version, context)
    default: {
      const unknown: never = op
      return {
        code: ErrorCode.UNIMPLEMENTED,
        reason: `${String((unknown as { op?: unknown }).op)} is not allowed in a multi`,
      }
    }
  }
}

/** clipReason shortens a reason to ERROR_REASON_CHARS_MAX, never splitting a surrogate pair. */
function clipReason(reason: string | undefined): string | undefined {
  if (reason === undefined || reason.length <= ERROR_REASON_CHARS_MAX) return reason
  const marker = ' [...]'
  let end = ERROR_REASON_CHARS_MAX - marker.length
  const last = reason.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end--
  return reason.slice(0, end) + marker
}

function errorOp(failure: RequestFailure): TxnOp {
  return { type: 'error', code: failure.code, reason: failure.reason }
}

function single(result: TxnOp | RequestFailure): TxnOp {
  return isFailure(result) ? errorOp(result) : result
}
