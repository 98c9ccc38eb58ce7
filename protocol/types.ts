/**
 * Data-model types shared by the wire protocol, the server and the SDK.
 */
import type { Zxid } from './zxid.js'

/** SessionId is a 64-bit session id; the creating server's id sits in the top byte. */
export type SessionId = bigint

/**
 * NodeMode is how a znode lives and is named.
 * - `persistent`: lives until deleted.
 * - `ephemeral`: deleted when its owning session ends; cannot have children.
 * - `*-sequential`: the server appends the parent's child counter as 10 zero-padded digits.
 * - `container`: deleted by the server once it has had a child and is empty again.
 * Persistent modes may also carry a TTL (`ttlMs`): deleted once childless and unchanged for that long.
 */
export type NodeMode =
  'persistent' | 'persistent-sequential' | 'ephemeral' | 'ephemeral-sequential' | 'container'

/** NODE_MODES lists every NodeMode, for validation. */
export const NODE_MODES: readonly NodeMode[] = [
  'persistent',
  'persistent-sequential',
  'ephemeral',
  'ephemeral-sequential',
  'container',
]

/** isSequentialMode tells whether the server appends a sequence number for this mode. */
export function isSequentialMode(mode: NodeMode): boolean {
  return mode === 'persistent-sequential' || mode === 'ephemeral-sequential'
}

/** isEphemeralMode tells whether nodes of this mode belong to a session. */
export function isEphemeralMode(mode: NodeMode): boolean {
  return mode === 'ephemeral' || mode === 'ephemeral-sequential'
}

/**
 * Stat is a znode's metadata with ZooKeeper's meanings:
 * czxid/mzxid are the zxids of the create and the last set; pzxid the zxid of the last
 * child create or delete; ctime/mtime the leader's clock (ms since epoch) at proposal;
 * version counts sets, cversion child creations (the sequence source), aversion ACL sets;
 * ephemeralOwner is the owning session id or 0n; dataLength and numChildren are computed.
 */
export interface Stat {
  czxid: Zxid
  mzxid: Zxid
  pzxid: Zxid
  ctime: number
  mtime: number
  version: number
  cversion: number
  aversion: number
  ephemeralOwner: SessionId
  dataLength: number
  numChildren: number
}

/** Permission bits of an ACL entry, as ZooKeeper's. */
export const Perm = {
  READ: 1,
  WRITE: 2,
  CREATE: 4,
  DELETE: 8,
  ADMIN: 16,
  ALL: 31,
} as const

/** Acl is one access-control entry: permission bits granted to an identity `scheme:id`. */
export interface Acl {
  perms: number
  scheme: string
  id: string
}

/** OPEN_ACL_UNSAFE grants everything to everyone (`world:anyone`), the default until ACLs arrive. */
export const OPEN_ACL_UNSAFE: readonly Acl[] = Object.freeze([
  { perms: Perm.ALL, scheme: 'world', id: 'anyone' },
])

/** READ_ACL_UNSAFE lets everyone read and nobody change (`world:anyone` READ). */
export const READ_ACL_UNSAFE: readonly Acl[] = Object.freeze([
  { perms: Perm.READ, scheme: 'world', id: 'anyone' },
])

/**
 * CREATOR_ALL_ACL grants everything to the identities of the creating session (the
 * `auth` pseudo-scheme, expanded by the server); creating with it needs an
 * authenticated identity (INVALID_ACL otherwise).
 */
export const CREATOR_ALL_ACL: readonly Acl[] = Object.freeze([
  { perms: Perm.ALL, scheme: 'auth', id: '' },
])

/** WatchEventType names what happened to a watched node. */
export type WatchEventType = 'created' | 'deleted' | 'dataChanged' | 'childrenChanged'

/** PersistentWatchMode is the kind of a watch added with addWatch. */
export type PersistentWatchMode = 'persistent' | 'persistentRecursive'

/** WatchKind names a registered watch for removeWatches: one-shot `data`/`children`, persistent kinds, or `any`. */
export type WatchKind = 'data' | 'children' | 'any' | PersistentWatchMode
