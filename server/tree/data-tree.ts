/**
 * DataTree: the znode tree and the one way it changes, `apply(txn)`.
 *
 * Pure and synchronous. Txns are state-setting records (protocol/txn.ts), so apply
 * never decides anything: it copies the txn's state in. That makes replay safe: a txn
 * the tree already reflects (replay after a fuzzy snapshot) changes nothing, and a txn
 * whose target is gone because a later txn in the same replay deletes it is skipped.
 */
import {
  OPEN_ACL_UNSAFE,
  RESERVED_PATH,
  ROOT_PATH,
  baseName,
  isAncestorOrSelf,
  parentOf,
  type SessionId,
  type Stat,
  type Txn,
  type TxnCheck,
  type TxnCreate,
  type TxnOp,
  type WatchEventType,
  type Zxid,
} from '../../protocol/index.js'
import { addHash, nodeHash } from './digest.js'
import { statOf, type SnapshotNode, type ZNode, type ZNodeView } from './znode.js'

/** TreeChange is one watch-relevant change, in the order watches must fire. */
export interface TreeChange {
  type: WatchEventType
  path: string
}

/** OpOutcome is what one applied op produced, for shaping the reply to its request. */
export type OpOutcome =
  | { type: 'create'; path: string; stat: Stat }
  | { type: 'set'; stat: Stat | undefined }
  | { type: 'delete' }
  | { type: 'check' }
  | { type: 'setAcl'; stat: Stat | undefined }

/** ApplyResult lists the changes (for watches) and per-op outcomes (for the reply) of one txn. */
export interface ApplyResult {
  changes: TreeChange[]
  outcomes: OpOutcome[]
}

/** TreeAssertionError is an impossible txn: a bug upstream, never bad client input. */
export class TreeAssertionError extends Error {
  override readonly name = 'TreeAssertionError'
}

function emptyNode(zxid: Zxid, timeMs: number): ZNode {
  return {
    data: new Uint8Array(0),
    acl: [...OPEN_ACL_UNSAFE],
    czxid: zxid,
    mzxid: zxid,
    pzxid: zxid,
    ctime: timeMs,
    mtime: timeMs,
    version: 0,
    cversion: 0,
    aversion: 0,
    ephemeralOwner: 0n,
    container: false,
    ttlMs: 0,
    children: new Set(),
    hash: 0n,
  }
}

/** DataTree holds every znode by path. */
export class DataTree {
  private readonly nodes = new Map<string, ZNode>()
  private readonly ephemerals = new Map<SessionId, Set<string>>()
  /** Containers and TTL nodes, so reaping never scans the whole tree. */
  private readonly reapCandidates = new Set<string>()
  private digestValue = 0n
  /** appliedZxid is the zxid of the newest txn applied. */
  appliedZxid: Zxid = 0n
  /**
   * replaying relaxes the structural assertions while recovery replays the log over a
   * fuzzy snapshot, where a node may already be gone because a later txn of the same
   * replay deletes it. Set it around a replay only.
   */
  replaying = false

  /** The tree starts with `/` and the reserved `/zookeeper`. */
  constructor(options: { empty?: boolean } = {}) {
    if (options.empty === true) return
    const root = emptyNode(0n, 0)
    // Like ZooKeeper, /zookeeper is linked in without counting as a child creation.
    root.children.add(baseName(RESERVED_PATH))
    this.insert(ROOT_PATH, root)
    this.insert(RESERVED_PATH, emptyNode(0n, 0))
  }

  /** nodeCount is the number of znodes, `/` and `/zookeeper` included. */
  get nodeCount(): number {
    return this.nodes.size
  }

  /** getNode returns a read-only view of a node, or undefined. */
  getNode(path: string): ZNodeView | undefined {
    return this.nodes.get(path)
  }

  /** stat returns a node's Stat, or null if it does not exist. */
  stat(path: string): Stat | null {
    const node = this.nodes.get(path)
    return node === undefined ? null : statOf(node)
  }

  /** getData returns a node's data and Stat, or null. */
  getData(path: string): { data: Uint8Array; stat: Stat } | null {
    const node = this.nodes.get(path)
    return node === undefined ? null : { data: node.data, stat: statOf(node) }
  }

  /** children returns the sorted child names of a node, or null if it does not exist. */
  children(path: string): string[] | null {
    const node = this.nodes.get(path)
    return node === undefined ? null : [...node.children].sort()
  }

  /** countDescendants counts every node below `path` (not itself), or null if it does not exist. */
  countDescendants(path: string): number | null {
    if (!this.nodes.has(path)) return null
    let count = 0
    const stack = [path]
    for (let p = stack.pop(); p !== undefined; p = stack.pop()) {
      for (const child of this.nodes.get(p)!.children) {
        count++
        stack.push(p === ROOT_PATH ? `/${child}` : `${p}/${child}`)
      }
    }
    return count
  }

  /** ephemeralsOf lists a session's ephemeral paths, sorted. */
  ephemeralsOf(sessionId: SessionId): string[] {
    return [...(this.ephemerals.get(sessionId) ?? [])].sort()
  }

  /** ephemeralOwners lists the sessions that own at least one ephemeral. */
  ephemeralOwners(): SessionId[] {
    return [...this.ephemerals.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  }

  /** digest is the running 64-bit digest of the whole tree. */
  digest(): bigint {
    return this.digestValue
  }

  /**
   * reapable lists up to `limit` nodes the server should delete now: containers that
   * have had a child (cversion > 0) and have none, and TTL nodes with no children that
   * have not changed for longer than their TTL.
   */
  reapable(nowMs: number, limit: number): string[] {
    const out: string[] = []
    for (const path of this.reapCandidates) {
      if (out.length >= limit) break
      const node = this.nodes.get(path)!
      if (node.children.size > 0) continue
      if (node.container ? node.cversion > 0 : nowMs - node.mtime > node.ttlMs) out.push(path)
    }
    return out
  }

  /** apply applies one txn and reports its changes and outcomes. */
  apply(txn: Txn): ApplyResult {
    const result: ApplyResult = { changes: [], outcomes: [] }
    this.applyOp(txn, txn.op, result)
    if (txn.zxid > this.appliedZxid) this.appliedZxid = txn.zxid
    return result
  }

  private applyOp(txn: Txn, op: TxnOp | TxnCheck, result: ApplyResult): void {
    switch (op.type) {
      case 'create':
        return this.applyCreate(txn, op, result)
      case 'delete':
        if (this.remove(op.path, txn.zxid)) result.changes.push({ type: 'deleted', path: op.path }, { type: 'childrenChanged', path: parentOf(op.path) })
        result.outcomes.push({ type: 'delete' })
        return
      case 'set': {
        const node = this.nodes.get(op.path)
        if (node !== undefined) {
          this.update(op.path, node, (n) => {
            n.data = op.data
            n.version = op.version
            n.mzxid = txn.zxid
            n.mtime = txn.timeMs
          })
          result.changes.push({ type: 'dataChanged', path: op.path })
        }
        result.outcomes.push({ type: 'set', stat: node === undefined ? undefined : statOf(node) })
        return
      }
      case 'setAcl': {
        const node = this.nodes.get(op.path)
        if (node !== undefined) {
          this.update(op.path, node, (n) => {
            n.acl = op.acl
            n.aversion = op.aversion
          })
        }
        result.outcomes.push({ type: 'setAcl', stat: node === undefined ? undefined : statOf(node) })
        return
      }
      case 'check':
        result.outcomes.push({ type: 'check' })
        return
      case 'multi':
        for (const inner of op.ops) this.applyOp(txn, inner, result)
        return
      case 'closeSession':
        return this.applyCloseSession(txn, op.sessionId, op.deletePaths, result)
      case 'createSession':
      case 'error':
        return
      default: {
        const unreachable: never = op
        throw new TreeAssertionError(`unknown txn op ${JSON.stringify(unreachable)}`)
      }
    }
  }

  private applyCreate(txn: Txn, op: TxnCreate, result: ApplyResult): void {
    const parentPath = parentOf(op.path)
    const parent = this.nodes.get(parentPath)
    if (parent === undefined) {
      // Only possible while replaying past a fuzzy snapshot that already holds a later
      // delete of the parent; that later delete also removes this node in the replay.
      if (!this.replaying) throw new TreeAssertionError(`create ${op.path} at ${txn.zxid}: parent ${parentPath} does not exist`)
      return
    }
    const existing = this.nodes.get(op.path)
    const node = emptyNode(txn.zxid, txn.timeMs)
    node.data = op.data
    node.acl = op.acl
    node.ephemeralOwner = op.ephemeralOwner
    node.container = op.container
    node.ttlMs = op.ttlMs
    if (existing !== undefined) {
      node.children = existing.children
      this.detach(op.path, existing)
    }
    this.insert(op.path, node)
    this.update(parentPath, parent, (p) => {
      p.children.add(baseName(op.path))
      p.cversion = op.parentCversion
      p.pzxid = txn.zxid
    })
    result.changes.push({ type: 'created', path: op.path }, { type: 'childrenChanged', path: parentPath })
    result.outcomes.push({ type: 'create', path: op.path, stat: statOf(node) })
  }

  private applyCloseSession(txn: Txn, sessionId: SessionId, deletePaths: string[], result: ApplyResult): void {
    const owned = new Set(this.ephemerals.get(sessionId) ?? [])
    // deletePaths is authoritative; anything else the session still owns goes too, so
    // no ephemeral can outlive its session.
    const targets = [...new Set([...deletePaths, ...[...owned].sort()])]
    for (const path of targets) {
      const node = this.nodes.get(path)
      if (node === undefined || node.ephemeralOwner !== sessionId) continue
      if (this.remove(path, txn.zxid)) result.changes.push({ type: 'deleted', path }, { type: 'childrenChanged', path: parentOf(path) })
    }
  }

  // ---------------------------------------------------------------- snapshots

  /** snapshotEntries yields every node as a plain record, parent before child. */
  *snapshotEntries(): Generator<SnapshotNode> {
    const stack = [ROOT_PATH]
    for (let path = stack.pop(); path !== undefined; path = stack.pop()) {
      const node = this.nodes.get(path)
      if (node === undefined) continue // deleted while a chunked snapshot was paused
      const { children: _children, hash: _hash, ...fields } = node
      yield { path, ...fields }
      for (const child of node.children) stack.push(path === ROOT_PATH ? `/${child}` : `${path}/${child}`)
    }
  }

  /** fromSnapshot rebuilds a tree from snapshot records (parents first). */
  static fromSnapshot(entries: Iterable<SnapshotNode>, appliedZxid: Zxid): DataTree {
    const tree = new DataTree({ empty: true })
    for (const entry of entries) {
      const { path, ...fields } = entry
      const node: ZNode = { ...fields, acl: [...fields.acl], children: new Set(), hash: 0n }
      if (path !== ROOT_PATH) {
        const parentPath = parentOf(path)
        const parent = tree.nodes.get(parentPath)
        if (parent === undefined) throw new TreeAssertionError(`snapshot lists ${path} before its parent`)
        tree.update(parentPath, parent, (p) => p.children.add(baseName(path)))
      }
      tree.insert(path, node)
    }
    if (!tree.nodes.has(ROOT_PATH)) throw new TreeAssertionError('snapshot has no root node')
    tree.appliedZxid = appliedZxid
    return tree
  }

  // ---------------------------------------------------------------- bookkeeping

  /** insert adds a node (its parent is linked by the caller) and indexes it. */
  private insert(path: string, node: ZNode): void {
    this.nodes.set(path, node)
    node.hash = nodeHash(path, node)
    this.digestValue = addHash(this.digestValue, node.hash, 1)
    if (node.ephemeralOwner !== 0n) {
      let owned = this.ephemerals.get(node.ephemeralOwner)
      if (owned === undefined) this.ephemerals.set(node.ephemeralOwner, (owned = new Set()))
      owned.add(path)
    }
    if (node.container || node.ttlMs > 0) this.reapCandidates.add(path)
  }

  /** detach unindexes a node about to be replaced or removed. */
  private detach(path: string, node: ZNode): void {
    this.digestValue = addHash(this.digestValue, node.hash, -1)
    if (node.ephemeralOwner !== 0n) {
      const owned = this.ephemerals.get(node.ephemeralOwner)
      owned?.delete(path)
      if (owned?.size === 0) this.ephemerals.delete(node.ephemeralOwner)
    }
    this.reapCandidates.delete(path)
    this.nodes.delete(path)
  }

  /** update mutates a node and refreshes its share of the digest. */
  private update(path: string, node: ZNode, change: (node: ZNode) => void): void {
    this.digestValue = addHash(this.digestValue, node.hash, -1)
    change(node)
    node.hash = nodeHash(path, node)
    this.digestValue = addHash(this.digestValue, node.hash, 1)
  }

  /** remove deletes a childless node and links it out of its parent; false if it was missing. */
  private remove(path: string, zxid: Zxid): boolean {
    const node = this.nodes.get(path)
    if (node === undefined) return false
    if (node.children.size > 0) {
      if (this.replaying) {
        // A later txn of this replay deleted the children first in real history; remove the subtree.
        for (const child of [...node.children]) this.remove(path === ROOT_PATH ? `/${child}` : `${path}/${child}`, zxid)
      } else {
        throw new TreeAssertionError(`delete ${path} at ${zxid}: it has children`)
      }
    }
    this.detach(path, node)
    const parentPath = parentOf(path)
    const parent = this.nodes.get(parentPath)
    if (parent !== undefined) {
      this.update(parentPath, parent, (p) => {
        p.children.delete(baseName(path))
        p.pzxid = zxid
      })
    }
    return true
  }
}

/** isReservedPath tells whether a path is `/zookeeper` or below it. */
export function isReservedPath(path: string): boolean {
  return isAncestorOrSelf(RESERVED_PATH, path)
}
