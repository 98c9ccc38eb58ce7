/**
 * Replicator: the seam between preparing a txn and applying it. The runtime proposes
 * every prepared txn in zxid order and applies what the replicator reports committed,
 * in the same order. A standalone server commits once its own log has the txn
 * (DurableReplicator); an ensemble member puts the ZAB core here (a txn commits once a
 * quorum has it durably).
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
