/**
 * DurableReplicator: a standalone server's commit path. A txn commits once it is in
 * the log and fsynced: proposals are batched per event-loop turn, each batch is
 * appended with group commit, and batches commit strictly in order. Nothing is applied
 * (so nothing is answered) before its fsync: persist before reply.
 */
import type { Txn, Zxid } from '../../protocol/index.js'
import type { FileStorage } from '../storage/file-storage.js'
import type { Replicator } from './replicator.js'

/** DurableReplicator commits a standalone server's txns after they are durable. */
export class DurableReplicator implements Replicator {
  private handler: (txns: Txn[]) => void = () => {}
  private batch: Txn[] = []
  private lastProposed: Zxid
  /** Resolves when every batch handed to storage so far has been committed, in order. */
  private committed: Promise<void> = Promise.resolve()

  constructor(
    private readonly storage: FileStorage,
    lastZxid: Zxid,
    private readonly onFatal: (error: unknown) => void,
  ) {
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

  /** drained resolves once everything proposed so far is durable and applied. */
  drained(): Promise<void> {
    return this.committed
  }

  private flush(): void {
    const txns = this.batch
    this.batch = []
    // Appends run concurrently (the log groups their fsyncs); commits follow in order.
    const durable = this.storage.append(txns)
    this.committed = Promise.all([this.committed, durable]).then(
      () => this.handler(txns),
      (error: unknown) => this.onFatal(error),
    )
  }
}
