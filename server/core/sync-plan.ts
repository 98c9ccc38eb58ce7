/**
 * planSync chooses how a leader brings one follower's log in line with its own
 * history (ZooKeeper's LearnerHandler.syncFollower), from the follower's last logged
 * zxid alone:
 *
 * - DIFF when the follower's last zxid is in the leader's history: send what follows.
 * - TRUNC when the follower holds a tail the leader lacks (an old leader's
 *   uncommitted proposals): cut it back to the latest zxid of the leader's history
 *   below that tail, then send what follows. Only when that point is in the same
 *   epoch as the follower's last zxid: within one epoch there was one leader, so the
 *   follower certainly holds the point. A truncation across an epoch boundary
 *   becomes a SNAP instead.
 * - SNAP when the follower is older than the history kept in memory, when more than
 *   `diffLimitTxns` txns would have to be sent, or when TRUNC would cross an epoch.
 *
 * The planned txns include the leader's uncommitted proposals, in order, so the
 * follower receives exactly the leader's log; the leader's own proposals made after
 * this point reach it as ordinary PROPOSALs.
 */
import type { Txn, Zxid } from '../../protocol/index.js'
import { epochOf } from '../../protocol/index.js'
import type { SimBug } from './config.js'
import type { TxnLog } from './txn-log.js'

/** SyncPlan is the chosen sync: the message kind and what it carries (SNAP's snapshot is fetched when sent). */
export type SyncPlan =
  | { readonly mode: 'diff'; readonly txns: Txn[] }
  | { readonly mode: 'trunc'; readonly truncateAfter: Zxid; readonly txns: Txn[] }
  | { readonly mode: 'snap' }

/** planSync decides DIFF, TRUNC or SNAP for a follower whose last logged zxid is `followerZxid`. */
export function planSync(
  log: TxnLog,
  followerZxid: Zxid,
  diffLimitTxns: number,
  bug?: SimBug,
): SyncPlan {
  if (followerZxid < log.base) return { mode: 'snap' }
  if (log.holds(followerZxid)) {
    if (log.countAfter(followerZxid) > diffLimitTxns) return { mode: 'snap' }
    return { mode: 'diff', txns: log.after(followerZxid) }
  }
  // The follower holds a zxid we do not: everything after our latest zxid below it is not ours.
  const truncateAfter = log.latestBefore(followerZxid) ?? log.base
  if (epochOf(truncateAfter) !== epochOf(followerZxid)) {
    // The deliberate bug: answer as if the follower were simply ahead of us and cut
    // it back to our last zxid, which lies across the epoch boundary above its tail.
    if (bug === 'trunc-across-epoch')
      return { mode: 'trunc', truncateAfter: log.lastZxid, txns: [] }
    return { mode: 'snap' }
  }
  if (log.countAfter(truncateAfter) > diffLimitTxns) return { mode: 'snap' }
  return { mode: 'trunc', truncateAfter, txns: log.after(truncateAfter) }
}
