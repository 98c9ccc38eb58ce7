/**
 * ZNode: one node of the tree as the tree stores it, the read-only view it hands out,
 * and the plain record a snapshot holds.
 */
import {
  pathProblem,
  type Acl,
  type SessionId,
  type Stat,
  type Zxid,
} from '../../protocol/index.js'
import { TreeAssertionError } from './errors.js'

/** ZNode is the stored form of a node. Only DataTree mutates it. */
export interface ZNode {
  data: Uint8Array
  acl: Acl[]
  czxid: Zxid
  mzxid: Zxid
  pzxid: Zxid
  ctime: number
  mtime: number
  version: number
  cversion: number
  aversion: number
  /** Owning session for ephemerals, else 0n. */
  ephemeralOwner: SessionId
  /** Containers are deleted by the leader once they had a child and are empty again. */
  container: boolean
  /** TTL in ms for TTL nodes, else 0. */
  ttlMs: number
  /** Names (not paths) of the children. */
  children: Set<string>
  /** This node's contribution to the tree digest, kept so a change can subtract it. */
  hash: bigint
}

/** ZNodeView is a node as callers may read it; do not mutate. */
export type ZNodeView = Readonly<Omit<ZNode, 'children' | 'hash' | 'acl'>> & {
  readonly acl: readonly Acl[]
  readonly children: ReadonlySet<string>
}

/** statOf computes a node's Stat (dataLength and numChildren are derived). */
export function statOf(node: ZNodeView): Stat {
  return {
    czxid: node.czxid,
    mzxid: node.mzxid,
    pzxid: node.pzxid,
    ctime: node.ctime,
    mtime: node.mtime,
    version: node.version,
    cversion: node.cversion,
    aversion: node.aversion,
    ephemeralOwner: node.ephemeralOwner,
    dataLength: node.data.length,
    numChildren: node.children.size,
  }
}

/**
 * SnapshotNode is one node in a snapshot: plain, msgpack-friendly fields (bigint,
 * number, boolean, string, Uint8Array), emitted parent before child so a reader can
 * rebuild the tree in one pass. Children are implied by the paths.
 */
export interface SnapshotNode {
  path: string
  data: Uint8Array
  acl: Acl[]
  czxid: Zxid
  mzxid: Zxid
  pzxid: Zxid
  ctime: number
  mtime: number
  version: number
  cversion: number
  aversion: number
  ephemeralOwner: SessionId
  container: boolean
  ttlMs: number
  /**
   * hash is the node's digest contribution (digest.ts's nodeHash) as a snapshot file
   * stored it, so a loader need not recompute it. Only records written with
   * `snapshotEntries({ hashes: true })` carry it; without it the loader computes it.
   */
  hash?: bigint
}

const HASH_MAX = (1n << 64n) - 1n

const BIGINT_FIELDS = ['czxid', 'mzxid', 'pzxid', 'ephemeralOwner'] as const
const INTEGER_FIELDS = ['ctime', 'mtime', 'version', 'cversion', 'aversion', 'ttlMs'] as const

/**
 * checkSnapshotNode throws TreeAssertionError unless `entry` has every SnapshotNode
 * field with the right type, so a snapshot from another format version or a damaged
 * file fails loudly instead of building a tree that breaks later.
 */
export function checkSnapshotNode(entry: unknown): asserts entry is SnapshotNode {
  const bad = (why: string): never => {
    throw new TreeAssertionError(`bad snapshot record: ${why}`)
  }
  if (typeof entry !== 'object' || entry === null) return bad('not an object')
  const record = entry as Record<string, unknown>
  const problem = pathProblem(record.path)
  if (problem !== null) bad(`path ${JSON.stringify(record.path)}: ${problem}`)
  if (!(record.data instanceof Uint8Array)) bad(`${String(record.path)}: data is not bytes`)
  for (const field of BIGINT_FIELDS)
    if (typeof record[field] !== 'bigint') bad(`${String(record.path)}: ${field} is not a bigint`)
  for (const field of INTEGER_FIELDS)
    if (!Number.isSafeInteger(record[field]))
      bad(`${String(record.path)}: ${field} is not an integer`)
  if (typeof record.container !== 'boolean')
    bad(`${String(record.path)}: container is not a boolean`)
  if (
    record.hash !== undefined &&
    (typeof record.hash !== 'bigint' || record.hash < 0n || record.hash > HASH_MAX)
  )
    bad(`${String(record.path)}: hash is not a 64-bit unsigned integer`)
  if (!Array.isArray(record.acl)) bad(`${String(record.path)}: acl is not a list`)
  for (const acl of record.acl as unknown[]) {
    const a = acl as Partial<Acl> | null
    if (
      typeof a !== 'object' ||
      a === null ||
      !Number.isInteger(a.perms) ||
      typeof a.scheme !== 'string' ||
      typeof a.id !== 'string'
    ) {
      bad(`${String(record.path)}: malformed acl entry`)
    }
  }
}
