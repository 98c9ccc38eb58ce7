/**
 * DataTree: the znode tree and the one way it changes, `apply(txn)`.
 *
 * Pure and synchronous. Txns are state-setting records (protocol/txn.ts), so apply
 * never decides anything: it copies the txn's state in. That makes replay safe:
 * applying a txn the tree already reflects changes nothing, and with `{ replay: true }`
 * a txn whose target a later txn of the same replay already removed is skipped
 * (recovery over a fuzzy snapshot, reference §2 "Fuzzy snapshots").
 */
import {
  type Acl,
  OPEN_ACL_UNSAFE,
  RESERVED_PATH,
  ROOT_PATH,
  baseName,
  isAncestorOrSelf,
  joinPath,
  parentOf,
  type SessionId,
  type Stat,
  type Txn,
  type TxnCheck,
  type TxnCreate,
  type TxnOp,
  type TxnSet,
  type TxnSetAcl,
  type WatchEventType,
  type Zxid,
  utf8Bytes,
} from '../../protocol/index.js'
import { addHash, nodeHash } from './digest.js'
import { TreeAssertionError } from './errors.js'
import {
  checkSnapshotNode,
  statOf,
  type SnapshotNode,
  type ZNode,
  type ZNodeView,
} from './znode.js'

/** TreeChange is one watch-relevant change, in the order watches must fire. */
export interface TreeChange {
  type: WatchEventType
  path: string
  /**
   * acl is the ACL of the change's node: a deleted node's as it was (only those who
   * could read it may hear of its deletion), any other's as it is right after the txn.
   * Undefined when the node is gone and was not deleted by this change, or in replay.
   */
  acl?: readonly Acl[]
}

/**
 * OpOutcome is what one applied op produced, for shaping the reply to its request.
 * `stat` of set/setAcl is undefined only in replay mode, when the node was already gone.
 */
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

/**
 * ApplyOptions tunes apply. `replay` is for recovery replaying the log over a fuzzy
 * snapshot: a create whose parent is gone and a set of a missing node are skipped
 * instead of asserting, and a delete of a node that has children removes the subtree
 * (a later txn of the same replay re-creates what it needs). A txn whose zxid is not
 * newer than `appliedZxid` is a re-application and is always applied this way, so
 * applying a txn twice is harmless even when it deleted what it had created.
 */
export interface ApplyOptions {
  replay?: boolean
}

/**
 * NoChildren is the one shared children set of every childless node: most nodes are
 * leaves, and an empty Set per leaf costs more memory than the rest of the node. A
 * node gets a Set of its own when its first child is added (`addChild`); adding to the
 * shared one is a bug and throws.
 */
class NoChildren extends Set<string> {
  override add(name: string): this {
    throw new TreeAssertionError(`child ${name} added to the shared empty children set`)
  }
}
const NO_CHILDREN: Set<string> = new NoChildren()

/** addChild links a child name into a node, giving the node its own children set if it had none. */
function addChild(node: ZNode, name: string): void {
  if (node.children === NO_CHILDREN) node.children = new Set([name])
  else node.children.add(name)
}

/** removeChild unlinks a child name; a node left without children goes back to the shared empty set. */
function removeChild(node: ZNode, name: string): void {
  if (node.children.delete(name) && node.children.size === 0) node.children = NO_CHILDREN
}

/**
 * Loaded node data of at most SLAB_DATA_BYTES_MAX bytes is copied into shared slabs of
 * SLAB_BYTES: one ArrayBuffer per small node costs several times its bytes. A slab
 * lives while any of its nodes keeps its data, so what it can hold on to beyond the
 * live data is bounded by the data loaded with it.
 */
const SLAB_BYTES = 64 * 1024
const SLAB_DATA_BYTES_MAX = 1024
const NO_DATA = new Uint8Array(0)

/** ACL_INTERNED_MAX bounds the ACL intern table; past it the table starts over (entries stay shared by their nodes). */
const ACL_INTERNED_MAX = 4096

/** HASH_CHECK_EVERY: a loader recomputes every this many stored hashes (and the first) to catch a digest algorithm that changed without a format change. */
const HASH_CHECK_EVERY = 64

/** OPEN_ACL_UNSAFE_SHARED is the ACL of `/` and `/zookeeper` in a fresh tree, frozen like every interned ACL. */
const OPEN_ACL_UNSAFE_SHARED: Acl[] = Object.freeze(
  OPEN_ACL_UNSAFE.map((entry) => Object.freeze({ ...entry })),
) as Acl[]

function emptyNode(zxid: Zxid, timeMs: number): ZNode {
  return {
    data: new Uint8Array(0),
    acl: OPEN_ACL_UNSAFE_SHARED,
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
    children: NO_CHILDREN,
    hash: 0n,
  }
}

/**
 * ownedBytes returns data the tree may keep: a plain Uint8Array over its own memory.
 * A view into a larger buffer (a decoded frame) is copied so the node neither pins the
 * frame nor shares its memory, and a Buffer becomes a plain Uint8Array (NB:
 * Buffer#slice makes a view, so the copy goes through the Uint8Array constructor).
 */
function ownedBytes(data: Uint8Array): Uint8Array {
  const plain = Object.getPrototypeOf(data) === Uint8Array.prototype
  return plain && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
    ? data
    : new Uint8Array(data)
}

/** EphemeralFootprint is what a session's ephemerals weigh in its closeSession txn: their number and path bytes. */
export interface EphemeralFootprint {
  count: number
  pathBytes: number
}

/** DataTree holds every znode by path. */
export class DataTree {
  private readonly nodes = new Map<string, ZNode>()
  /** Invariant: exactly the nodes with ephemeralOwner != 0n, by owner. */
  private readonly ephemerals = new Map<SessionId, Set<string>>()
  /** The UTF-8 bytes of each owner's ephemeral paths, kept with `ephemerals` (a session's close txn lists them). */
  private readonly ephemeralPathBytes = new Map<SessionId, number>()
  /** Containers and TTL nodes, so reaping never scans the whole tree. */
  private readonly reapCandidates = new Set<string>()
  private digestValue = 0n
  /** Kept with every insert, detach and update, so /status and /metrics read them in O(1). */
  private dataBytesTotal = 0
  private ephemeralCountTotal = 0
  private lastAppliedZxid: Zxid = 0n
  private replayMode = false
  /**
   * Interned ACLs, frozen, by content: most nodes share a handful of ACLs, and one
   * array per node would cost more memory than a small node's data.
   */
  private aclsInterned = new Map<string, Acl[]>()
  /** The ACL interned last, checked first. */
  private lastAclInterned: Acl[] | undefined
  /** How many snapshot records this tree has loaded (picks the stored hashes to check). */
  private recordsLoaded = 0
  /** The parent of the last node loaded (loadingParentOf). */
  private lastLoadedParent: { path: string; node: ZNode } | undefined
  /** The slab loaded node data is being copied into, and how much of it is used. */
  private slab: { buffer: ArrayBuffer; usedBytes: number } | undefined

  /**
   * The tree starts with `/` and the reserved `/zookeeper`, all zxids 0. `empty` (for
   * fromSnapshot only) starts with no node at all.
   */
  constructor(options: { empty?: boolean } = {}) {
    if (options.empty === true) return
    const root = emptyNode(0n, 0)
    // Like ZooKeeper, /zookeeper is linked in without counting as a child creation.
    addChild(root, baseName(RESERVED_PATH))
    this.insert(ROOT_PATH, root)
    this.insert(RESERVED_PATH, emptyNode(0n, 0))
  }

  /** appliedZxid is the zxid of the newest txn applied (0n for a fresh tree). */
  get appliedZxid(): Zxid {
    return this.lastAppliedZxid
  }

  /** nodeCount is the number of znodes, `/` and `/zookeeper` included. */
  get nodeCount(): number {
    return this.nodes.size
  }

  /** dataBytes is the sum of every znode's data length. */
  get dataBytes(): number {
    return this.dataBytesTotal
  }

  /** ephemeralCount is the number of ephemeral znodes, of every session. */
  get ephemeralCount(): number {
    return this.ephemeralCountTotal
  }

  /** getNode returns a read-only view of a node, or undefined. Do not mutate it. */
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
        stack.push(joinPath(p, child))
      }
    }
    return count
  }

  /** ephemeralsOf lists a session's ephemeral paths, sorted. */
  ephemeralsOf(sessionId: SessionId): string[] {
    return [...(this.ephemerals.get(sessionId) ?? [])].sort()
  }

  /** ephemeralFootprintOf is how many ephemerals a session owns and their paths' UTF-8 bytes, in O(1). */
  ephemeralFootprintOf(sessionId: SessionId): EphemeralFootprint {
    return {
      count: this.ephemerals.get(sessionId)?.size ?? 0,
      pathBytes: this.ephemeralPathBytes.get(sessionId) ?? 0,
    }
  }

  /** ephemeralOwners lists the sessions that own at least one ephemeral, ascending. */
  ephemeralOwners(): SessionId[] {
    return [...this.ephemerals.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  }

  /** digest is the running 64-bit digest of the whole tree (see digest.ts). */
  digest(): bigint {
    return this.digestValue
  }

  /**
   * reapable lists up to `limit` nodes the leader should delete now: containers that
   * have had a child (cversion != 0) and have none, and TTL nodes with no children whose
   * last change is more than `ttlMs` before `nowMs`.
   */
  reapable(nowMs: number, limit: number): string[] {
    const out: string[] = []
    for (const path of this.reapCandidates) {
      if (out.length >= limit) break
      const node = this.nodes.get(path)!
      if (node.children.size > 0) continue
      // cversion != 0 rather than > 0: the counter wraps negative after 2^31-1 creates.
      if (node.container ? node.cversion !== 0 : nowMs - node.mtime > node.ttlMs) out.push(path)
    }
    return out
  }

  /**
   * apply applies one txn and reports its watch changes and per-op outcomes. A new txn
   * (zxid above appliedZxid) that no TxnBuilder could produce, such as a create under a
   * missing parent, a set of a missing node or a delete of a node with children, throws
   * TreeAssertionError: the caller has a bug, and the tree may already hold the ops of
   * a multi that came before the impossible one.
   */
  apply(txn: Txn, options: ApplyOptions = {}): ApplyResult {
    const result: ApplyResult = { changes: [], outcomes: [] }
    this.replayMode = options.replay === true || txn.zxid <= this.lastAppliedZxid
    try {
      this.applyOp(txn, txn.op, result)
      // Replays (recovery over a fuzzy snapshot) feed no change window: no ACLs needed.
      if (!this.replayMode) this.attachAcls(result.changes)
    } finally {
      this.replayMode = false
    }
    if (txn.zxid > this.lastAppliedZxid) this.lastAppliedZxid = txn.zxid
    return result
  }

  /** attachAcls gives each change without one its node's ACL after the txn (see TreeChange.acl). */
  private attachAcls(changes: TreeChange[]): void {
    for (const change of changes) {
      if (change.acl !== undefined) continue
      const acl = this.nodes.get(change.path)?.acl
      if (acl !== undefined) change.acl = acl
    }
  }

  private applyOp(txn: Txn, op: TxnOp | TxnCheck, result: ApplyResult): void {
    switch (op.type) {
      case 'create':
        return this.applyCreate(txn, op, result)
      case 'delete': {
        const acl = this.nodes.get(op.path)?.acl
        if (this.remove(op.path, txn.zxid)) this.reportDeleted(op.path, result, acl)
        result.outcomes.push({ type: 'delete' })
        return
      }
      case 'set':
        return this.applySet(txn, op, result)
      case 'setAcl':
        return this.applySetAcl(op, result)
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
        throw new TreeAssertionError(
          `unknown txn op ${JSON.stringify(unreachable, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
        )
      }
    }
  }

  private applyCreate(txn: Txn, op: TxnCreate, result: ApplyResult): void {
    const parentPath = parentOf(op.path)
    const parent = this.nodes.get(parentPath)
    if (parent === undefined || op.path === ROOT_PATH) {
      // Only possible while replaying past a fuzzy snapshot that already holds a later
      // delete of the parent; that later delete also removes this node in the replay.
      if (this.replayMode && parent === undefined) return
      throw new TreeAssertionError(
        `create ${op.path} at zxid ${txn.zxid}: parent ${parentPath} does not exist`,
      )
    }
    const node = emptyNode(txn.zxid, txn.timeMs)
    node.data = ownedBytes(op.data)
    node.acl = this.internAcl(op.acl)
    node.ephemeralOwner = op.ephemeralOwner
    node.container = op.container
    node.ttlMs = op.ttlMs
    const existing = this.nodes.get(op.path)
    if (existing !== undefined) {
      // Replay of a create the tree already holds: take the txn's state, keep the children.
      node.children = existing.children
      this.detach(op.path, existing)
    }
    this.insert(op.path, node)
    // Counters only move forward (ZooKeeper's DataTree.createNode): replaying an old
    // create over a newer parent must not roll back its cversion or pzxid.
    this.unhash(parent)
    addChild(parent, baseName(op.path))
    if (txn.zxid >= parent.pzxid) {
      parent.cversion = op.parentCversion
      parent.pzxid = txn.zxid
    }
    this.rehash(parentPath, parent)
    result.changes.push(
      { type: 'created', path: op.path },
      { type: 'childrenChanged', path: parentPath },
    )
    result.outcomes.push({ type: 'create', path: op.path, stat: statOf(node) })
  }

  private applySet(txn: Txn, op: TxnSet, result: ApplyResult): void {
    const node = this.nodes.get(op.path)
    if (node !== undefined) {
      this.unhash(node)
      node.data = ownedBytes(op.data)
      node.version = op.version
      node.mzxid = txn.zxid
      node.mtime = txn.timeMs
      this.rehash(op.path, node)
      result.changes.push({ type: 'dataChanged', path: op.path })
    } else if (!this.replayMode) {
      throw new TreeAssertionError(`set ${op.path} at zxid ${txn.zxid}: the node does not exist`)
    }
    result.outcomes.push({ type: 'set', stat: node === undefined ? undefined : statOf(node) })
  }

  private applySetAcl(op: TxnSetAcl, result: ApplyResult): void {
    const node = this.nodes.get(op.path)
    if (node !== undefined) {
      this.unhash(node)
      node.acl = this.internAcl(op.acl)
      node.aversion = op.aversion
      this.rehash(op.path, node)
    } else if (!this.replayMode) {
      throw new TreeAssertionError(`setAcl ${op.path}: the node does not exist`)
    }
    result.outcomes.push({ type: 'setAcl', stat: node === undefined ? undefined : statOf(node) })
  }

  private applyCloseSession(
    txn: Txn,
    sessionId: SessionId,
    deletePaths: string[],
    result: ApplyResult,
  ): void {
    // deletePaths comes first, in its order; anything else the session still owns goes
    // too, so no ephemeral outlives its session. A path now owned by someone else was
    // deleted and re-created later (replay) and stays; a missing one still raises its
    // parent's pzxid, as a delete does.
    const targets = new Set([...deletePaths, ...this.ephemeralsOf(sessionId)])
    for (const path of targets) {
      const node = this.nodes.get(path)
      if (node !== undefined && node.ephemeralOwner !== sessionId) continue
      if (this.remove(path, txn.zxid)) this.reportDeleted(path, result, node?.acl)
    }
  }

  private reportDeleted(path: string, result: ApplyResult, acl: readonly Acl[] | undefined): void {
    result.changes.push(
      acl === undefined ? { type: 'deleted', path } : { type: 'deleted', path, acl },
      { type: 'childrenChanged', path: parentOf(path) },
    )
  }

  // ---------------------------------------------------------------- snapshots

  /**
   * snapshotEntries yields every node as a plain record, parent before child. The
   * generator may be paused between records while txns keep being applied (a fuzzy
   * snapshot); each record is then the node as it was when its turn came. With
   * `hashes`, each record also carries the node's digest hash (for snapshot files, so
   * a restart need not recompute it); peers' SNAP records go without.
   */
  *snapshotEntries(options: { hashes?: boolean } = {}): Generator<SnapshotNode> {
    const withHashes = options.hashes === true
    yield* this.snapshotWith((path, node, hash) => {
      const record: SnapshotNode = {
        path,
        data: node.data,
        acl: [...node.acl],
        czxid: node.czxid,
        mzxid: node.mzxid,
        pzxid: node.pzxid,
        ctime: node.ctime,
        mtime: node.mtime,
        version: node.version,
        cversion: node.cversion,
        aversion: node.aversion,
        ephemeralOwner: node.ephemeralOwner,
        container: node.container,
        ttlMs: node.ttlMs,
      }
      if (withHashes) record.hash = hash
      return record
    })
  }

  /**
   * snapshotWith walks the tree as snapshotEntries does (parent before child, pausable
   * between nodes) and yields `form(path, node, hash)` for each node, `form` called
   * when the node's turn comes. A snapshot writer with its own record form builds it
   * straight from the node instead of from a SnapshotNode copy (a third of the CPU of
   * writing a snapshot). `node` is the live node: read it inside `form`, keep nothing.
   */
  *snapshotWith<T>(form: (path: string, node: ZNodeView, hash: bigint) => T): Generator<T> {
    const stack = [ROOT_PATH]
    for (let path = stack.pop(); path !== undefined; path = stack.pop()) {
      const node = this.nodes.get(path)
      if (node === undefined) continue // deleted while the snapshot was paused
      yield form(path, node, node.hash)
      // Read after the pause: children added meanwhile are walked too.
      for (const child of node.children) stack.push(joinPath(path, child))
    }
  }

  /**
   * fromSnapshot rebuilds a tree from snapshot records (parents first), as of
   * `appliedZxid`. It throws TreeAssertionError for a malformed record, a duplicate
   * path, a child listed before its parent, or a missing root.
   */
  static fromSnapshot(entries: Iterable<SnapshotNode>, appliedZxid: Zxid): DataTree {
    const loader = new DataTreeLoader()
    loader.add(entries)
    return loader.finish(appliedZxid)
  }

  /** emptyForLoading is the starting point of a DataTreeLoader: no nodes at all, not even the root. */
  static emptyForLoading(): DataTree {
    return new DataTree({ empty: true })
  }

  /**
   * loadSnapshotEntry adds one snapshot record to a tree being loaded (DataTreeLoader
   * only). Throws TreeAssertionError for a malformed record, a duplicate path or a
   * child listed before its parent; after that the tree must not be used.
   */
  loadSnapshotEntry(entry: SnapshotNode): void {
    checkSnapshotNode(entry)
    const path = entry.path
    // Equal zxids share one bigint: a node never changed has czxid = mzxid (= pzxid for a leaf).
    const czxid = entry.czxid
    const mzxid = entry.mzxid === czxid ? czxid : entry.mzxid
    const pzxid = entry.pzxid === czxid ? czxid : entry.pzxid === mzxid ? mzxid : entry.pzxid
    const node: ZNode = {
      data: this.loadedBytes(entry.data),
      acl: this.internAcl(entry.acl),
      czxid,
      mzxid,
      pzxid,
      ctime: entry.ctime,
      mtime: entry.mtime,
      version: entry.version,
      cversion: entry.cversion,
      aversion: entry.aversion,
      ephemeralOwner: entry.ephemeralOwner === 0n ? 0n : entry.ephemeralOwner,
      container: entry.container,
      ttlMs: entry.ttlMs,
      children: NO_CHILDREN,
      hash: 0n,
    }
    let parent: ZNode | undefined
    if (path !== ROOT_PATH) {
      parent = this.loadingParentOf(path)
      if (parent === undefined)
        throw new TreeAssertionError(`snapshot lists ${path} before its parent`)
    }
    const stored = entry.hash
    if (stored === undefined) {
      node.hash = nodeHash(path, node)
    } else {
      node.hash = stored
      // A sample is recomputed: a stored hash must mean what nodeHash means today.
      if (this.recordsLoaded % HASH_CHECK_EVERY === 0 && nodeHash(path, node) !== stored)
        throw new TreeAssertionError(
          `snapshot record ${path}: its stored hash differs from its content (written by another digest version, or damaged)`,
        )
    }
    this.recordsLoaded++
    // One map operation instead of a lookup and an insert: a duplicate shows as a size
    // that did not grow. The tree is then broken, and so is its loader (DataTreeLoader).
    const size = this.nodes.size
    this.nodes.set(path, node)
    if (this.nodes.size === size) throw new TreeAssertionError(`snapshot lists ${path} twice`)
    if (parent !== undefined) addChild(parent, baseName(path)) // children are not part of a node's hash
    this.indexBesidesMap(path, node)
  }

  /** finishLoading ends loading (DataTreeLoader only): the root must be there; the tree is as of `appliedZxid`. */
  finishLoading(appliedZxid: Zxid): void {
    if (!this.nodes.has(ROOT_PATH)) throw new TreeAssertionError('snapshot has no root node')
    this.slab = undefined
    this.lastLoadedParent = undefined
    this.lastAppliedZxid = appliedZxid
  }

  // ---------------------------------------------------------------- bookkeeping

  /**
   * loadingParentOf finds a loaded node's parent. Siblings come one after another in a
   * snapshot, so the last parent found is tried first, without slicing the path
   * (nothing is removed while loading, so it is still in the tree).
   */
  private loadingParentOf(path: string): ZNode | undefined {
    const slash = path.lastIndexOf('/')
    const last = this.lastLoadedParent
    if (last !== undefined && slash === last.path.length && path.startsWith(last.path))
      return last.node
    const parentPath = slash <= 0 ? ROOT_PATH : path.slice(0, slash)
    const node = this.nodes.get(parentPath)
    if (node !== undefined && parentPath !== ROOT_PATH)
      this.lastLoadedParent = { path: parentPath, node }
    return node
  }

  /** loadedBytes copies a loaded node's data into memory of the tree's own, small data into a shared slab. */
  private loadedBytes(data: Uint8Array): Uint8Array {
    const length = data.length
    if (length === 0) return NO_DATA
    if (length > SLAB_DATA_BYTES_MAX) return ownedBytes(data)
    let slab = this.slab
    if (slab === undefined || slab.usedBytes + length > SLAB_BYTES)
      this.slab = slab = { buffer: new ArrayBuffer(SLAB_BYTES), usedBytes: 0 }
    const bytes = new Uint8Array(slab.buffer, slab.usedBytes, length)
    bytes.set(data)
    slab.usedBytes += length
    return bytes
  }

  /**
   * internAcl returns the shared, frozen copy of an ACL. The table is bounded: past
   * ACL_INTERNED_MAX distinct ACLs it starts over, which costs sharing, never correctness.
   */
  private internAcl(acl: readonly Acl[]): Acl[] {
    // Most nodes have the ACL of the node before them (the same creator, or a snapshot's siblings).
    const last = this.lastAclInterned
    if (acl.length === 1 && last?.length === 1) {
      const [entry, lastEntry] = [acl[0]!, last[0]!]
      if (
        entry.perms === lastEntry.perms &&
        entry.scheme === lastEntry.scheme &&
        entry.id === lastEntry.id
      )
        return last
    }
    let key = ''
    // Lengths make the key unambiguous whatever the scheme and id strings contain.
    for (const { perms, scheme, id } of acl)
      key += `${perms}:${scheme.length}:${scheme}${id.length}:${id}`
    let interned = this.aclsInterned.get(key)
    if (interned === undefined) {
      if (this.aclsInterned.size >= ACL_INTERNED_MAX) this.aclsInterned = new Map()
      interned = Object.freeze(
        acl.map(({ perms, scheme, id }) => Object.freeze({ perms, scheme, id })),
      ) as Acl[]
      this.aclsInterned.set(key, interned)
    }
    this.lastAclInterned = interned
    return interned
  }

  /** insert adds a node (its parent is linked by the caller), hashes and indexes it. */
  private insert(path: string, node: ZNode): void {
    node.hash = nodeHash(path, node)
    this.index(path, node)
  }

  /** index adds a node whose hash is set to the map, the digest and the side indexes. */
  private index(path: string, node: ZNode): void {
    this.nodes.set(path, node)
    this.indexBesidesMap(path, node)
  }

  /** indexBesidesMap adds a node already in the map to the digest and the side indexes. */
  private indexBesidesMap(path: string, node: ZNode): void {
    this.digestValue = addHash(this.digestValue, node.hash, 1)
    this.dataBytesTotal += node.data.length
    if (node.ephemeralOwner !== 0n) {
      this.ephemeralCountTotal += 1
      let owned = this.ephemerals.get(node.ephemeralOwner)
      if (owned === undefined) this.ephemerals.set(node.ephemeralOwner, (owned = new Set()))
      owned.add(path)
      this.ephemeralPathBytes.set(
        node.ephemeralOwner,
        (this.ephemeralPathBytes.get(node.ephemeralOwner) ?? 0) + utf8Bytes(path),
      )
    }
    if (node.container || node.ttlMs > 0) this.reapCandidates.add(path)
  }

  /** detach unindexes a node about to be replaced or removed. */
  private detach(path: string, node: ZNode): void {
    this.digestValue = addHash(this.digestValue, node.hash, -1)
    this.dataBytesTotal -= node.data.length
    if (node.ephemeralOwner !== 0n) {
      const owned = this.ephemerals.get(node.ephemeralOwner)
      if (owned?.delete(path) === true) {
        this.ephemeralCountTotal -= 1
        this.ephemeralPathBytes.set(
          node.ephemeralOwner,
          this.ephemeralPathBytes.get(node.ephemeralOwner)! - utf8Bytes(path),
        )
      }
      if (owned?.size === 0) {
        this.ephemerals.delete(node.ephemeralOwner)
        this.ephemeralPathBytes.delete(node.ephemeralOwner)
      }
    }
    this.reapCandidates.delete(path)
    this.nodes.delete(path)
  }

  /** unhash takes a node out of the digest and data total before it is changed in place; rehash puts it back. */
  private unhash(node: ZNode): void {
    this.digestValue = addHash(this.digestValue, node.hash, -1)
    this.dataBytesTotal -= node.data.length
  }

  /** rehash puts a node changed in place back into the digest and data total (see unhash). */
  private rehash(path: string, node: ZNode): void {
    this.dataBytesTotal += node.data.length
    node.hash = nodeHash(path, node)
    this.digestValue = addHash(this.digestValue, node.hash, 1)
  }

  /**
   * remove deletes a node and links it out of its parent; false if it was missing.
   * Like ZooKeeper's DataTree.deleteNode it raises the parent's pzxid even when the
   * node is already gone: a fuzzy snapshot may hold the parent from before the delete
   * and the child from after it, and replaying the delete must still reach the parent.
   * Deletes leave the parent's cversion alone, and never lower its pzxid.
   */
  private remove(path: string, zxid: Zxid): boolean {
    if (path === ROOT_PATH)
      throw new TreeAssertionError(`delete / at zxid ${zxid}: the root cannot be deleted`)
    const parentPath = parentOf(path)
    const parent = this.nodes.get(parentPath)
    const node = this.nodes.get(path)
    if (node !== undefined && node.children.size > 0) {
      if (!this.replayMode)
        throw new TreeAssertionError(`delete ${path} at zxid ${zxid}: it has children`)
      // In real history a later txn of this replay deleted the children first.
      for (const child of [...node.children]) this.remove(joinPath(path, child), zxid)
    }
    if (node !== undefined) this.detach(path, node)
    if (parent !== undefined && (node !== undefined || zxid > parent.pzxid)) {
      this.unhash(parent)
      removeChild(parent, baseName(path))
      if (zxid > parent.pzxid) parent.pzxid = zxid
      this.rehash(parentPath, parent)
    }
    return node !== undefined
  }
}

/** isReservedPath tells whether a path is `/zookeeper` or below it. */
export function isReservedPath(path: string): boolean {
  return isAncestorOrSelf(RESERVED_PATH, path)
}

/**
 * DataTreeLoader builds a tree from snapshot records a batch at a time, so a caller
 * receiving a large snapshot in chunks can spread the work over many event-loop turns
 * instead of blocking in one `fromSnapshot` call. Records come parents first.
 */
export class DataTreeLoader {
  private readonly tree = DataTree.emptyForLoading()
  private finished = false

  /**
   * add loads records; throws TreeAssertionError as `DataTree.fromSnapshot` does. After
   * it threw, the loader is finished: the half-loaded tree may be inconsistent.
   */
  add(entries: Iterable<SnapshotNode>): void {
    if (this.finished) throw new TreeAssertionError('loader already finished')
    try {
      for (const entry of entries) this.tree.loadSnapshotEntry(entry)
    } catch (err) {
      this.finished = true
      throw err
    }
  }

  /** finish returns the loaded tree as of `appliedZxid`; the loader cannot be used again. */
  finish(appliedZxid: Zxid): DataTree {
    if (this.finished) throw new TreeAssertionError('loader already finished')
    this.finished = true
    this.tree.finishLoading(appliedZxid)
    return this.tree
  }
}
