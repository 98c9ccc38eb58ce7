/**
 * Linearizable reads on the leader, in the manner of raft's ReadIndex.
 *
 * A read that reaches the leader records the leader's commit point at that moment
 * (every write acknowledged anywhere before the read is at or below it) and the
 * sequence number of a heartbeat round sent *after* the read arrived. The read is
 * released once a quorum (the leader included) has answered that round or a later
 * one: a quorum still followed this leader after the read arrived, so no newer
 * leader can have committed anything the read would miss. A deposed leader never
 * gathers that quorum; its reads fail when it steps down.
 */
import type { ServerId, Zxid } from '../../protocol/index.js'

/** PendingRead is a read waiting for its heartbeat round; `origin` is the server that holds the client. */
export interface PendingRead {
  readonly origin: ServerId
  /** token is the caller's handle for a read made on the leader itself. */
  readonly token?: unknown
  /** remoteId is the follower's id for a read forwarded with READINDEX. */
  readonly remoteId?: number
  readonly zxid: Zxid
  /** seq is the heartbeat round that must be answered by a quorum. */
  readonly seq: number
}

/** ReadIndexQueue holds pending reads in arrival order (their rounds never decrease). */
export class ReadIndexQueue {
  private reads: PendingRead[] = []

  /** size is the number of reads waiting. */
  get size(): number {
    return this.reads.length
  }

  /** add queues a read. */
  add(read: PendingRead): void {
    this.reads.push(read)
  }

  /** release removes and returns every read whose round is at or below `confirmedSeq`. */
  release(confirmedSeq: number): PendingRead[] {
    const released = this.reads.filter((read) => read.seq <= confirmedSeq)
    if (released.length > 0) this.reads = this.reads.filter((read) => read.seq > confirmedSeq)
    return released
  }

  /** drain removes and returns every waiting read (leadership lost). */
  drain(): PendingRead[] {
    const all = this.reads
    this.reads = []
    return all
  }
}
