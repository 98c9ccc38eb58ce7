/**
 * A small harness for tree and request tests: a DataTree with a TxnBuilder over it, a
 * zxid counter and a clock, so a test can prepare requests (pipelined or not) and apply
 * them in order like the runtime does, keeping every txn in `log` for replays.
 */
import {
  makeZxid,
  type NodeMode,
  type SessionId,
  type Stat,
  type Txn,
  type TxnOp,
} from '../../../protocol/index.js'
import { DataTree, type ApplyResult } from '../../../server/tree/data-tree.js'
import type { SnapshotNode } from '../../../server/tree/znode.js'
import {
  TxnBuilder,
  type TxnBuilderOptions,
  type TxnHeader,
  type WriteRequest,
} from '../../../server/requests/txn-builder.js'
import { DEFAULT_CONFIG, txnBuilderOptionsFor } from '../../../server/runtime/config.js'
import { replyForWrite } from '../../../server/requests/write-reply.js'
import type { Reply } from '../../../server/requests/reads.js'

const encoder = new TextEncoder()
/** bytes encodes a string as UTF-8. */
export const bytes = (s: string) => encoder.encode(s)

/** CreateExtra are the optional create fields. */
export interface CreateExtra {
  ttlMs?: number
  makeParents?: boolean
}

/** Kit wires a tree and a builder with a deterministic zxid counter and clock. */
export class Kit {
  readonly tree: DataTree
  readonly builder: TxnBuilder
  counter = 0
  nowMs = 1_000_000
  readonly log: Txn[] = []

  /** The builder's limits are the server defaults for `dataBytesMax`, with `limits` on top. */
  constructor(
    dataBytesMax = 1024 * 1024,
    tree = new DataTree(),
    limits: Partial<TxnBuilderOptions> = {},
  ) {
    this.tree = tree
    this.counter = Number(tree.appliedZxid & 0xffff_ffffn)
    this.builder = new TxnBuilder(this.tree, {
      ...txnBuilderOptionsFor({ ...DEFAULT_CONFIG, maxDataBytes: dataBytesMax }),
      ...limits,
    })
  }

  /** header is the header of the next txn (the counter moves only when a txn is kept). */
  header(sessionId: SessionId = 1n, xid = 0): TxnHeader {
    return { zxid: makeZxid(1, this.counter + 1), timeMs: this.nowMs, sessionId, xid }
  }

  private keep(txn: Txn): Txn {
    this.counter++
    this.log.push(txn)
    return txn
  }

  /** prepare prepares without applying (pipelining). */
  prepare(request: WriteRequest, sessionId: SessionId = 1n): Txn {
    return this.keep(this.builder.prepare(request, this.header(sessionId)))
  }

  /** prepareClose prepares a closeSession without applying it. */
  prepareClose(sessionId: SessionId): Txn {
    return this.keep(this.builder.prepareCloseSession(this.header(sessionId), sessionId))
  }

  /** prepareCloseTrim prepares the deletes a session's close needs first, without applying them; null when none. */
  prepareCloseTrim(sessionId: SessionId): Txn | null {
    const txn = this.builder.prepareCloseTrim(this.header(0n), sessionId)
    return txn === null ? null : this.keep(txn)
  }

  /** prepareReap prepares a reap without applying it; null when the node does not qualify. */
  prepareReap(path: string): Txn | null {
    const txn = this.builder.prepareReap(this.header(0n), path)
    return txn === null ? null : this.keep(txn)
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
    return replyForWrite(request, txn, this.apply(txn))
  }

  /** create runs a create and returns its reply. */
  create(
    path: string,
    data = '',
    mode: NodeMode = 'persistent',
    extra: CreateExtra = {},
    sessionId: SessionId = 1n,
  ): Reply {
    return this.run({ op: 'create', path, data: bytes(data), mode, ...extra }, sessionId)
  }

  /** set runs a set with any version. */
  set(path: string, data: string, version = -1): Reply {
    return this.run({ op: 'set', path, data: bytes(data), version })
  }

  /** remove runs a delete with any version. */
  remove(path: string, version = -1): Reply {
    return this.run({ op: 'delete', path, version })
  }

  /** close prepares and applies a closeSession. */
  close(sessionId: SessionId): ApplyResult {
    return this.apply(this.prepareClose(sessionId))
  }
}

/** statOf pulls the Stat out of a successful reply, failing the test otherwise. */
export function statOfReply(reply: Reply): Stat {
  if (reply.err !== 0) throw new Error(`expected success, got ${reply.err}: ${reply.message}`)
  return (reply.result as { stat: Stat }).stat
}

/** codeOfTxn is 0 for a txn that did something, else its error code. */
export function codeOfTxn(txn: Txn): number {
  return txn.op.type === 'error' ? txn.op.code : 0
}

/** content lists a tree's nodes by path, independent of the order children were linked in. */
export function content(tree: DataTree): SnapshotNode[] {
  return [...tree.snapshotEntries()].sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
  )
}

/** txnAt builds a raw txn, for tree tests that need a txn no builder would produce. */
export function txnAt(counter: number, op: TxnOp, timeMs = 5_000): Txn {
  return { zxid: makeZxid(1, counter), timeMs, sessionId: 0n, xid: 0, op }
}

/** replayAll applies txns to a fresh tree, each `times` times, and returns the tree. */
export function replayAll(txns: readonly Txn[], times = 1): DataTree {
  const tree = new DataTree()
  for (const txn of txns) for (let i = 0; i < times; i++) tree.apply(txn)
  return tree
}
