/**
 * Votes and their total order. A vote proposes a leader together with that leader's
 * currentEpoch and last *logged* zxid (logged, not committed: ZooKeeper's
 * totalOrderPredicate). The better vote has the higher epoch, then the higher zxid,
 * then the higher server id, so a quorum always converges on the server holding the
 * longest history of the latest epoch, and every committed txn is in it.
 *
 * The same (epoch, zxid) order decides whether a follower is "ahead" of its leader
 * during discovery: one comparison function, so the two can never disagree.
 */
import type { ServerId, Zxid } from '../../protocol/index.js'
import type { SimBug } from './config.js'

/** Vote proposes `leader`, whose currentEpoch is `epoch` and last logged zxid is `zxid`. */
export interface Vote {
  readonly leader: ServerId
  readonly epoch: number
  readonly zxid: Zxid
}

/** HistoryKey is what orders histories: a server's currentEpoch and last logged zxid. */
export interface HistoryKey {
  readonly epoch: number
  readonly zxid: Zxid
}

/**
 * compareHistories orders two histories: negative if `a` is older, positive if
 * newer, zero if equal. With the `vote-ignores-zxid` bug the zxid is ignored.
 */
export function compareHistories(a: HistoryKey, b: HistoryKey, bug?: SimBug): number {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1
  if (bug === 'vote-ignores-zxid') return 0
  if (a.zxid !== b.zxid) return a.zxid < b.zxid ? -1 : 1
  return 0
}

/** compareVotes orders two votes by (epoch, zxid, leader id); positive when `a` is the better vote. */
export function compareVotes(a: Vote, b: Vote, bug?: SimBug): number {
  const byHistory = compareHistories(a, b, bug)
  if (byHistory !== 0) return byHistory
  return a.leader === b.leader ? 0 : a.leader < b.leader ? -1 : 1
}

/** betterVote returns whichever of two votes wins (the first on a tie). */
export function betterVote(a: Vote, b: Vote, bug?: SimBug): Vote {
  return compareVotes(b, a, bug) > 0 ? b : a
}

/** sameVote tells whether two votes propose the same leader with the same history. */
export function sameVote(a: Vote, b: Vote): boolean {
  return a.leader === b.leader && a.epoch === b.epoch && a.zxid === b.zxid
}

/** isAhead tells whether history `a` is strictly newer than history `b` (a follower ahead of its leader). */
export function isAhead(a: HistoryKey, b: HistoryKey, bug?: SimBug): boolean {
  return compareHistories(a, b, bug) > 0
}
