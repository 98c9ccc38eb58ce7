/**
 * Shaping the answer to a write once its txn is applied.
 */
import { ErrorCode, type MultiResult, type Request, type Txn } from '../../protocol/index.js'
import type { ApplyResult } from '../tree/data-tree.js'
import type { Reply } from './reads.js'

/** replyForWrite answers the original request from its applied txn's outcomes. */
export function replyForWrite(request: Request, txn: Txn, applied: ApplyResult): Reply {
  const op = txn.op
  if (op.type === 'error') {
    const reply: Reply = { err: op.code, message: op.reason ?? 'request failed' }
    if (request.op === 'multi' && op.opErrors !== undefined) {
      reply.result = { results: request.ops.map((o, i): MultiResult => ({ op: o.op, err: op.opErrors![i] ?? ErrorCode.RUNTIME_INCONSISTENCY })) }
    }
    return reply
  }
  switch (request.op) {
    case 'create': {
      // With makeParents the txn is a multi of creates; the requested node is the last.
      const created = applied.outcomes.findLast((o) => o.type === 'create')
      if (created === undefined || created.type !== 'create') return inconsistent(txn)
      return { err: 0, result: { path: created.path, stat: created.stat } }
    }
    case 'set': {
      const outcome = applied.outcomes[0]
      if (outcome?.type !== 'set' || outcome.stat === undefined) return inconsistent(txn)
      return { err: 0, result: { stat: outcome.stat } }
    }
    case 'multi': {
      const results = applied.outcomes.map((o): MultiResult => {
        switch (o.type) {
          case 'create':
            return { op: 'create', err: 0, path: o.path, stat: o.stat }
          case 'set':
            return o.stat === undefined ? { op: 'set', err: 0 } : { op: 'set', err: 0, stat: o.stat }
          case 'delete':
            return { op: 'delete', err: 0 }
          case 'check':
          case 'setAcl':
            return { op: 'check', err: 0 }
        }
      })
      return { err: 0, result: { results } }
    }
    default:
      return { err: 0, result: {} }
  }
}

function inconsistent(txn: Txn): Reply {
  return { err: ErrorCode.SYSTEM_ERROR, message: `txn ${txn.zxid} did not apply as prepared` }
}
