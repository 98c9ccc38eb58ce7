/**
 * A small harness for tree and request tests: a DataTree with a TxnBuilder over it,
 * a zxid counter and a clock, so a test can prepare requests (pipelined or not) and
 * apply them in order like the runtime does.
 */
import { makeZxid, type Request, type Txn, type SessionId } from '../../../protocol/index.js'
import { DataTree, type ApplyResult } from '../../../server/tree/data-tree.js'
import { TxnBuilder, type WriteRequest } from '../../../server/requests/txn-builder.js'
import { replyForWrite } from '../../../server/requests/write-reply.js'
import type { Reply } from '../../../server/requests/reads.js'

const encoder = new TextEncoder()
/** bytes encodes a string as UTF-8. */
export const bytes = (s: string) => encoder.encode(s)

/** Kit wires a tree and a builder with a deterministic zxid counter and clock. */
export class Kit {
  readonly tree = new DataTree()
  readonly builder: TxnBuilder
  counter = 0
  nowMs = 1_000_000
  readonly log: Txn[] = []

  constructor(dataBytesMax = 1024 * 1024) {
    this.builder = new TxnBuilder(this.tree, { dataBytesMax })
  }

  header(sessionId: SessionId = 1n, xid = 0) {
    return { zxid: makeZxid(1, this.counter + 1), timeMs: this.nowMs, sessionId, xid }
  }

  /** prepare prepares without applying (pipelining). */
  prepare(request: WriteRequest, sessionId: SessionId = 1n): Txn {
    const txn = this.builder.prepare(request, this.header(sessionId))
    this.counter++
    this.log.push(txn)
    return txn
  }

  /** apply applies a prepared txn as the runtime does. */
  apply(txn: Txn): ApplyResult {
    const result = this.tree.apply(txn)
    this.builder.onApplied(txn.zxid)
    return result
  }

  /** run prepares, applies and answers one write. */
  run(request: WriteRequest, sessionId: SessionId = 1n): Reply {
    const txn = this.prepare(request, sessionId)
    return replyForWrite(request as Request, txn, this.apply(txn))
  }

  create(path: string, data = '', mode: 'persistent' | 'ephemeral' | 'persistent-sequential' | 'ephemeral-sequential' | 'container' = 'persistent', extra: { ttlMs?: number; makeParents?: boolean } = {}, sessionId: SessionId = 1n): Reply {
    return this.run({ op: 'create', path, data: bytes(data), mode, ...extra }, sessionId)
  }
}
