/**
 * Replicator: the seam between preparing a txn and applying it. The runtime proposes
 * every prepared txn in zxid order and applies what the replicator reports committed,
 * in the same order. A standalone server commits on its own; an ensemble member puts
 * the ZAB core here (a txn commits once a quorum has it durably).
 */
import type { Txn, Zxid } from '../../protocol/index.js'

/** Replicator carries prepared txns to commit. */
export interface Replicator {
  /** propose hands over the next txn; zxids must be consecutive. */
  propose(txn: Txn): void
  /** onCommit registers the one handler that receives committed txns, in zxid order. */
  onCommit(handler: (txns: Txn[]) => void): void
  /** lastProposedZxid is the zxid of the newest proposed txn. */
  readonly lastProposedZxid: Zxid
}

/**
 * StandaloneReplicator commits every proposal on its own, in order, in a later
 * microtask batch, so the pipeline stays asynchronous exactly like the replicated one:
 * nothing in the runtime may assume a write is applied when `propose` returns.
 */
export class StandaloneReplicator implements Replicator {
  private handler: (txns: Txn[]) => void = () => {}
  private batch: Txn[] = []
  private lastProposed: Zxid

  constructor(lastZxid: Zxid) {
    this.lastProposed = lastZxid
  }

  get lastProposedZxid(): Zxid {
    return this.lastProposed
  }

  onCommit(handler: (txns: Txn[]) => void): void {
    this.handler = handler
  }

  propose(txn: Txn): void {
    if (txn.zxid <= this.lastProposed) throw new Error(`proposal ${txn.zxid} is not after ${this.lastProposed}`)
    this.lastProposed = txn.zxid
    this.batch.push(txn)
    if (this.batch.length === 1) queueMicrotask(() => this.flush())
  }

  private flush(): void {
    const txns = this.batch
    this.batch = []
    this.handler(txns)
  }
}
