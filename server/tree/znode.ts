/**
 * ZNode: one node of the tree as the tree stores it, and the read-only view it hands out.
 */
import type { Acl, SessionId, Stat, Zxid } from '../../protocol/index.js'

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
  /** Containers are deleted by the server once they had a child and are empty again. */
  container: boolean
  /** TTL in ms for TTL nodes, else 0. */
  ttlMs: number
  /** Names (not paths) of the children. */
  children: Set<string>
  /** This node's contribution to the tree digest, kept so a change can subtract it. */
  hash: bigint
}

/** ZNodeView is a node as callers may read it; do not mutate. */
export type ZNodeView = Readonly<Omit<ZNode, 'children' | 'hash'>> & { readonly children: ReadonlySet<string> }

/** statOf computes a node's Stat (dataLength and numChildren are derived). */
export function statOf(node: ZNode): Stat {
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
 * SnapshotNode is one node in a snapshot: plain, msgpack-friendly fields, emitted
 * parent before child so a reader can rebuild the tree in one pass.
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
}
