/**
 * PendingState: the tree as it will be once every prepared txn is applied, in the style
 * of ZooKeeper's outstandingChanges / ChangeRecord (reference §3). It is an overlay of
 * per-path records over the DataTree, each tagged with the zxid of the latest prepared
 * txn that wrote it; a path without a record reads through to the tree. Once the tree
 * has applied a record's zxid the record says nothing new and is dropped.
 *
 * It holds only what validation needs (versions, child count, owner, mode flags,
 * mtime), never data or child names, and never copies the tree. Every prepared txn,
 * failed ones included, is registered in zxid order, so `onApplied` drops exactly the
 * records the tree now reflects and `outstandingTxns` counts what is still in flight.
 */
import { formatZxid, utf8Bytes, type Acl, type SessionId, type Zxid } from '../../protocol/index.js'
import type { DataTree, EphemeralFootprint } from '../tree/data-tree.js'

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
  /** acl is the node's ACL, which the writer's identities are checked against. */
  acl: readonly Acl[]
}

/** NodeView is what a validator reads and writes: the pending state, or a scratch layer over it. */
export interface NodeView {
  /** get returns the node at `path` as it will be, or null when it will not exist. */
  get(path: string): Readonly<PendingNode> | null
  /** put records the state a change leaves `path` in (null: deleted). */
  put(path: string, node: PendingNode | null): void
  /** ephemeralsOf lists a session's ephemerals as they will be, sorted. */
  ephemeralsOf(sessionId: SessionId): string[]
  /** ephemeralFootprintOf is the number and path bytes of a session's ephemerals as they will be, in O(1). */
  ephemeralFootprintOf(sessionId: SessionId): EphemeralFootprint
}

/** NO_CHANGES is what an error txn records. */
export const NO_CHANGES: ReadonlyMap<string, PendingNode | null> = new Map()

/** NO_SESSIONS is the sessions list of a record no ephemeral is involved in. */
const NO_SESSIONS: readonly SessionId[] = Object.freeze([])

/** PendingStateError is a caller bug: a txn registered out of zxid order. */
export class PendingStateError extends Error {
  override readonly name = 'PendingStateError'
  /** code is stable for matching: always `ZXID_NOT_INCREASING`. */
  readonly code = 'ZXID_NOT_INCREASING'
}

interface PendingRecord {
  zxid: Zxid
  node: Readonly<PendingNode> | null
  /** Sessions whose ephemeral index lists this path (the owner before or after a change). */
  sessions: readonly SessionId[]
  /** The path's ephemeral owner in the tree (0n: none), as last read: the footprint deltas count from it. */
  treeOwner: SessionId
}

interface PreparedTxn {
  zxid: Zxid
  paths: string[]
}

/** PendingState is the overlay of prepared-but-unapplied changes over a DataTree. */
export class PendingState {
  private readonly records = new Map<string, PendingRecord>()
  /** Prepared txns not yet applied, in zxid order; `head` is the oldest. */
  private readonly prepared: PreparedTxn[] = []
  private head = 0
  /** Per session, paths whose records add or remove one of its ephemerals. */
  private readonly ephemeralChanges = new Map<SessionId, Set<string>>()
  /**
   * Per session, how the pending changes move its ephemeral footprint away from the
   * tree's: the sum over records of (owned in the record) - (owned in the tree now).
   */
  private readonly footprintDeltas = new Map<SessionId, EphemeralFootprint>()
  private lastZxid: Zxid = 0n

  /** The overlay reads through to `tree`, which the caller applies txns to in zxid order. */
  constructor(private readonly tree: DataTree) {}

  /** size is the number of paths with a pending record (for tests and metrics). */
  get size(): number {
    return this.records.size
  }

  /** outstandingTxns is the number of registered txns the tree has not applied yet. */
  get outstandingTxns(): number {
    return this.prepared.length - this.head
  }

  /** lastPreparedZxid is the zxid of the newest registered txn (0n after reset). */
  get lastPreparedZxid(): Zxid {
    return this.lastZxid
  }

  /** get returns a node as it will be once every prepared txn is applied, or null. */
  get(path: string): Readonly<PendingNode> | null {
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
      acl: node.acl,
    }
  }

  /** ownerAt is the session owning `path` as an ephemeral once every prepared txn is applied (0n: none or no node). */
  ownerAt(path: string): SessionId {
    const record = this.records.get(path)
    if (record !== undefined) return ownerOf(record.node)
    return this.tree.getNode(path)?.ephemeralOwner ?? 0n
  }

  /**
   * checkZxid throws PendingStateError unless `zxid` is newer than every registered txn
   * and than the tree: an older one would leave records no apply ever drops.
   */
  checkZxid(zxid: Zxid): void {
    const floor = this.lastZxid > this.tree.appliedZxid ? this.lastZxid : this.tree.appliedZxid
    if (zxid <= floor)
      throw new PendingStateError(
        `txn ${formatZxid(zxid)} prepared after ${formatZxid(floor)}: zxids must increase`,
      )
  }

  /**
   * record registers the txn `zxid` with the state it leaves each changed path in
   * (null: deleted). An error txn registers with no changes.
   */
  record(zxid: Zxid, changes: ReadonlyMap<string, PendingNode | null>): void {
    this.checkZxid(zxid)
    const paths: string[] = []
    // Keys, not entries: an entry is an array allocated per change, and this runs per write.
    for (const path of changes.keys()) {
      const node = changes.get(path) as PendingNode | null
      const previous = this.records.get(path)
      const ownerBefore = this.ownerAt(path)
      const ownerAfter = ownerOf(node)
      // Most writes touch no ephemeral: they share the previous (usually empty) list.
      let sessions = previous?.sessions ?? NO_SESSIONS
      if (ownerBefore !== 0n && !sessions.includes(ownerBefore))
        sessions = [...sessions, ownerBefore]
      if (ownerAfter !== 0n && !sessions.includes(ownerAfter)) sessions = [...sessions, ownerAfter]
      for (const sessionId of sessions) this.changesOf(sessionId).add(path)
      moveFootprint(this.footprintDeltas, path, ownerBefore, ownerAfter)
      const treeOwner = previous?.treeOwner ?? ownerBefore
      this.records.set(path, {
        zxid,
        node: node === null ? null : { ...node },
        sessions,
        treeOwner,
      })
      paths.push(path)
    }
    this.prepared.push({ zxid, paths })
    this.lastZxid = zxid
  }

  /** ephemeralsOf lists a session's ephemerals as they will be: applied ones plus pending creates minus pending deletes. */
  ephemeralsOf(sessionId: SessionId): string[] {
    const paths = new Set(this.tree.ephemeralsOf(sessionId))
    for (const path of this.ephemeralChanges.get(sessionId) ?? []) {
      if (this.records.get(path)?.node?.ephemeralOwner === sessionId) paths.add(path)
      else paths.delete(path)
    }
    return [...paths].sort()
  }

  /** ephemeralFootprintOf is the tree's footprint of a session plus what the pending changes add and remove. */
  ephemeralFootprintOf(sessionId: SessionId): EphemeralFootprint {
    const applied = this.tree.ephemeralFootprintOf(sessionId)
    const delta = this.footprintDeltas.get(sessionId)
    return delta === undefined
      ? applied
      : { count: applied.count + delta.count, pathBytes: applied.pathBytes + delta.pathBytes }
  }

  /** onApplied drops every record the tree now reflects: the tree has applied all txns up to `zxid`. */
  onApplied(zxid: Zxid): void {
    while (this.head < this.prepared.length) {
      const txn = this.prepared[this.head]!
      if (txn.zxid > zxid) break
      for (const path of txn.paths) {
        const record = this.records.get(path)
        if (record === undefined) continue
        this.syncTreeOwner(path, record)
        // A newer txn's record for the same path stays until that txn is applied.
        if (record.zxid <= zxid) this.drop(path, record)
      }
      this.head++
    }
    if (this.head > 1024 && this.head * 2 > this.prepared.length) {
      this.prepared.splice(0, this.head)
      this.head = 0
    }
  }

  /** reset forgets every prepared txn (leadership changed; unapplied txns are gone). */
  reset(): void {
    this.records.clear()
    this.prepared.length = 0
    this.head = 0
    this.ephemeralChanges.clear()
    this.footprintDeltas.clear()
    this.lastZxid = 0n
  }

  private changesOf(sessionId: SessionId): Set<string> {
    let paths = this.ephemeralChanges.get(sessionId)
    if (paths === undefined) this.ephemeralChanges.set(sessionId, (paths = new Set()))
    return paths
  }

  /**
   * syncTreeOwner moves the footprint deltas for an applied change at `path`: a record
   * still pending over it now counts from the tree's new owner, not the old one.
   */
  private syncTreeOwner(path: string, record: PendingRecord): void {
    const owner = this.tree.getNode(path)?.ephemeralOwner ?? 0n
    if (owner === record.treeOwner) return
    moveFootprint(this.footprintDeltas, path, owner, record.treeOwner)
    record.treeOwner = owner
  }

  private drop(path: string, record: PendingRecord): void {
    this.records.delete(path)
    // The tree now holds the record's state: its term of the deltas is zero (a no-op unless out of step).
    moveFootprint(this.footprintDeltas, path, ownerOf(record.node), record.treeOwner)
    for (const sessionId of record.sessions) {
      const paths = this.ephemeralChanges.get(sessionId)
      paths?.delete(path)
      if (paths?.size === 0) this.ephemeralChanges.delete(sessionId)
    }
  }
}

/**
 * ScratchView buffers one request's changes over the pending state so a failing
 * request (a multi that fails halfway) leaves no trace; `changes` is what to record.
 */
export class ScratchView implements NodeView {
  private readonly buffered = new Map<string, PendingNode | null>()
  /** Made on the first change of an ephemeral's owner: most requests change none. */
  private footprintDeltas: Map<SessionId, EphemeralFootprint> | undefined

  /** The scratch layer reads through to `pending` for paths it has not changed. */
  constructor(private readonly pending: PendingState) {}

  /** get returns the node as this request's earlier changes left it, or as pending. */
  get(path: string): Readonly<PendingNode> | null {
    const buffered = this.buffered.get(path)
    return buffered !== undefined ? buffered : this.pending.get(path)
  }

  /** put buffers a change. */
  put(path: string, node: PendingNode | null): void {
    const buffered = this.buffered.get(path)
    const from = buffered !== undefined ? ownerOf(buffered) : this.pending.ownerAt(path)
    const to = ownerOf(node)
    if (from !== to) moveFootprint((this.footprintDeltas ??= new Map()), path, from, to)
    this.buffered.set(path, node)
  }

  /** ephemeralFootprintOf is the pending footprint of a session with this request's changes on top. */
  ephemeralFootprintOf(sessionId: SessionId): EphemeralFootprint {
    const pending = this.pending.ephemeralFootprintOf(sessionId)
    const delta = this.footprintDeltas?.get(sessionId)
    return delta === undefined
      ? pending
      : { count: pending.count + delta.count, pathBytes: pending.pathBytes + delta.pathBytes }
  }

  /** ephemeralsOf lists a session's ephemerals with this request's changes on top. */
  ephemeralsOf(sessionId: SessionId): string[] {
    const paths = new Set(this.pending.ephemeralsOf(sessionId))
    for (const [path, node] of this.buffered) {
      if (node !== null && node.ephemeralOwner === sessionId) paths.add(path)
      else paths.delete(path)
    }
    return [...paths].sort()
  }

  /** changes lists the buffered changes in the order they were made. */
  changes(): ReadonlyMap<string, PendingNode | null> {
    return this.buffered
  }
}

function ownerOf(node: Readonly<PendingNode> | null): SessionId {
  return node === null ? 0n : node.ephemeralOwner
}

/**
 * moveFootprint records in `deltas` that `path` stops being an ephemeral of `from` and
 * becomes one of `to` (0n: nobody); a delta back at zero is dropped.
 */
function moveFootprint(
  deltas: Map<SessionId, EphemeralFootprint>,
  path: string,
  from: SessionId,
  to: SessionId,
): void {
  if (from === to) return
  const bytes = utf8Bytes(path)
  if (from !== 0n) addFootprint(deltas, from, -1, -bytes)
  if (to !== 0n) addFootprint(deltas, to, 1, bytes)
}

function addFootprint(
  deltas: Map<SessionId, EphemeralFootprint>,
  sessionId: SessionId,
  count: number,
  pathBytes: number,
): void {
  const delta = deltas.get(sessionId) ?? { count: 0, pathBytes: 0 }
  delta.count += count
  delta.pathBytes += pathBytes
  if (delta.count === 0 && delta.pathBytes === 0) deltas.delete(sessionId)
  else deltas.set(sessionId, delta)
}
