/**
 * Shaping the answer to a write once its txn is applied: the result comes from the
 * apply outcomes (the Stat the tree actually holds), the error from the error txn.
 */
import {
  ErrorCode,
  formatZxid,
  type MultiResult,
  type Request,
  type Txn,
} from '../../protocol/index.js'
import type { ApplyResult, OpOutcome } from '../tree/data-tree.js'
import { errorReply, type Reply } from './reply.js'

/**
 * replyForWrite answers `request` from its applied `txn`: create (also with
 * makeParents) gives `{ path, stat }` of the requested node, set `{ stat }`, delete and
 * closeSession `{}`, multi `{ results }`. An error txn gives its code and a message
 * naming the path; a failed multi also gives each op's code in `result.results`.
 * A txn that does not fit its request gives SYSTEM_ERROR (a runtime bug, not the client's).
 */
export function replyForWrite(request: Request, txn: Txn, applied: ApplyResult): Reply {
  const op = txn.op
  if (op.type === 'error') {
    const reason = op.reason ?? 'the request failed'
    if (request.op !== 'multi' || op.opErrors === undefined) return errorReply(op.code, reason)
    const opErrors = op.opErrors
    const results = request.ops.map((o, i): MultiResult => ({
      op: o.op,
      err: opErrors[i] ?? ErrorCode.RUNTIME_INCONSISTENCY,
    }))
    return errorReply(op.code, reason, { results })
  }
  switch (request.op) {
    case 'create': {
      // With makeParents the txn is a multi of creates; the requested node is the last.
      const created = applied.outcomes.at(-1)
      if (created?.type !== 'create') return mismatch(request, txn)
      return { err: ErrorCode.OK, result: { path: created.path, stat: created.stat } }
    }
    case 'set': {
      const outcome = applied.outcomes[0]
      if (applied.outcomes.length !== 1 || outcome?.type !== 'set' || outcome.stat === undefined)
        return mismatch(request, txn)
      return { err: ErrorCode.OK, result: { stat: outcome.stat } }
    }
    case 'setAcl': {
      const outcome = applied.outcomes[0]
      if (applied.outcomes.length !== 1 || outcome?.type !== 'setAcl' || outcome.stat === undefined)
        return mismatch(request, txn)
      return { err: ErrorCode.OK, result: { stat: outcome.stat } }
    }
    case 'delete':
      return applied.outcomes.length === 1 && applied.outcomes[0]?.type === 'delete'
        ? { err: ErrorCode.OK, result: {} }
        : mismatch(request, txn)
    case 'multi': {
      if (applied.outcomes.length !== request.ops.length) return mismatch(request, txn)
      const results: MultiResult[] = []
      for (const [i, outcome] of applied.outcomes.entries()) {
        const result = multiResult(request.ops[i]!.op, outcome)
        if (result === null) return mismatch(request, txn)
        results.push(result)
      }
      return { err: ErrorCode.OK, result: { results } }
    }
    case 'closeSession':
      return op.type === 'closeSession' ? { err: ErrorCode.OK, result: {} } : mismatch(request, txn)
    // Not writes: no txn answers them.
    case 'exists':
    case 'get':
    case 'children':
    case 'getEphemerals':
    case 'childCount':
    case 'getAcl':
    case 'auth':
    case 'addWatch':
    case 'removeWatches':
    case 'setWatches':
    case 'sync':
      return mismatch(request, txn)
  }
}

function multiResult(requested: MultiResult['op'], outcome: OpOutcome): MultiResult | null {
  if (outcome.type !== requested) return null
  switch (outcome.type) {
    case 'create':
      return { op: 'create', err: ErrorCode.OK, path: outcome.path, stat: outcome.stat }
    case 'set':
      return outcome.stat === undefined
        ? null
        : { op: 'set', err: ErrorCode.OK, stat: outcome.stat }
    case 'delete':
    case 'check':
      return { op: outcome.type, err: ErrorCode.OK }
  }
}

function mismatch(request: Request, txn: Txn): Reply {
  return errorReply(
    ErrorCode.SYSTEM_ERROR,
    `txn ${formatZxid(txn.zxid)} (${txn.op.type}) did not apply as a ${request.op} request expects`,
  )
}
