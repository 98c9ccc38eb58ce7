/**
 * PendingState: the tree as it will be once every prepared txn is applied, in the style
 * of ZooKeeper's outstandingChanges. It is an overlay of per-path records over the
 * DataTree, each tagged with the zxid of the latest prepared txn that wrote it. When
 * the tree has applied that zxid the record is redundant and is dropped.
 *
 * It holds only what validation needs (versions, child count, owner, mode flags, mtime),
 * never data or child names, and never copies the tree.
 */
import type { SessionId, Zxid } from '../../protocol/index.js'
import type { DataTree } from '../tree/data-tree.js'

/** PendingNode is what validation needs to know about a node. */
export interface PendingNode {
  version: number
  cversion: number
  aversion: number
  numChildren: number
  ephemeralOwner: SessionId
  container: boolean
  ttlMs: number
  mtime: number
}

/** NodeView is what a validator reads and writes: the pending state, or a scratch layer over it. */
export interface NodeView {
  get(path: string): PendingNode | null
  put(path: string, node: PendingNode | null): void
  ephemeralsOf(sessionId: SessionId): string[]
}

interface PendingRecord {
  zxid: Zxid
  node: PendingNode | null
}

/** PendingState is the overlay of prepared-but-unapplied changes over a DataTree. */
export class PendingState {
  private readonly records = new Map<string, PendingRecord>()

  constructor(private readonly tree: DataTree) {}

  /** size is the number of outstanding records (for tests and metrics). */
  get size(): number {
    return this.records.size
  }

  /** get returns a node as it will be once every prepared txn is applied, or null. */
  get(path: string): PendingNode | null {
    const record = this.records.get(path)
    if (record !== undefined) return record.node
    const node = this.tree.getNode(path)
    if (node === undefined) return null
    return {
      version: node.version,
      cversion: node.cversion,
      aversion: node.aversion,
      numChildren: node.children.size,
      ephemeralOwner: node.ephemeralOwner,
      container: node.container,
      ttlMs: node.ttlMs,
      mtime: node.mtime,
    }
  }

  /** record stores the state `zxid` leaves a path in (null: deleted). */
  record(path: string, node: PendingNode | null, zxid: Zxid): void {
    this.records.set(path, { zxid, node })
  }

  /** ephemeralsOf lists a session's ephemerals as they will be, sorted. */
  ephemeralsOf(sessionId: SessionId): string[] {
    const paths = new Set(this.tree.ephemeralsOf(sessionId))
    for (const [path, record] of this.records) {
      if (record.node !== null && record.node.ephemeralOwner === sessionId) paths.add(path)
      else paths.delete(path)
    }
    return [...paths].sort()
  }

  /** onApplied drops every record the tree now reflects (zxid at or below `zxid`). */
  onApplied(zxid: Zxid): void {
    for (const [path, record] of this.records) if (record.zxid <= zxid) this.records.delete(path)
  }

  /** reset forgets every prepared change (leadership changed; unapplied txns are gone). */
  reset(): void {
    this.records.clear()
  }
}

/**
 * ScratchView buffers one request's changes over the pending state so a failing
 * multi leaves no trace; `commit` moves them into the pending state under a zxid.
 */
export class ScratchView implements NodeView {
  private readonly changes = new Map<string, PendingNode | null>()

  constructor(private readonly pending: PendingState) {}

  get(path: string): PendingNode | null {
    return this.changes.has(path) ? this.changes.get(path)! : this.pending.get(path)
  }

  put(path: string, node: PendingNode | null): void {
    this.changes.set(path, node)
  }

  ephemeralsOf(sessionId: SessionId): string[] {
    const paths = new Set(this.pending.ephemeralsOf(sessionId))
    for (const [path, node] of this.changes) {
      if (node !== null && node.ephemeralOwner === sessionId) paths.add(path)
      else paths.delete(path)
    }
    return [...paths].sort()
  }

  /** commit records every buffered change in the pending state under `zxid`. */
  commit(zxid: Zxid): void {
    for (const [path, node] of this.changes) this.pending.record(path, node, zxid)
  }
}
