/**
 * Txn: a committed write as it is logged, replicated and applied.
 *
 * Txns are state-setting records, not commands: a create carries the parent's
 * resulting child counter, a set the resulting version, a closeSession the exact
 * ephemerals it deletes. Applying a txn therefore never consults anything but the
 * txn, and applying one the tree already contains (replay after a snapshot) changes
 * nothing. Every txn, failed ones included, takes one zxid, as in ZooKeeper, so a
 * server answers each request when its txn commits, in order.
 */
import type { Zxid } from './zxid.js'
import type { Acl, SessionId } from './types.js'

/** TxnCreate creates one znode. `parentCversion` is the parent's cversion after the create. */
export interface TxnCreate {
  type: 'create'
  path: string
  data: Uint8Array
  acl: Acl[]
  /** Owning session for ephemerals, else 0n. */
  ephemeralOwner: SessionId
  container: boolean
  /** TTL in ms for TTL nodes, else 0. */
  ttlMs: number
  parentCversion: number
}

/** TxnDelete deletes one childless znode. */
export interface TxnDelete {
  type: 'delete'
  path: string
}

/** TxnSet replaces a znode's data; `version` is the version after the set. */
export interface TxnSet {
  type: 'set'
  path: string
  data: Uint8Array
  version: number
}

/** TxnSetAcl replaces a znode's ACL; `aversion` is the ACL version after the change. */
export interface TxnSetAcl {
  type: 'setAcl'
  path: string
  acl: Acl[]
  aversion: number
}

/** TxnCheck is a multi's version check; it changes nothing but keeps results aligned with ops. */
export interface TxnCheck {
  type: 'check'
  path: string
}

/** TxnMultiOp is one operation inside a successful multi. */
export type TxnMultiOp = TxnCreate | TxnDelete | TxnSet | TxnCheck

/** TxnMulti applies all its ops under one zxid, in order. */
export interface TxnMulti {
  type: 'multi'
  ops: TxnMultiOp[]
}

/** TxnCreateSession opens a session. The password travels so any member can check reconnects. */
export interface TxnCreateSession {
  type: 'createSession'
  sessionId: SessionId
  timeoutMs: number
  password: Uint8Array
}

/** TxnCloseSession ends a session (close or expiry) and deletes exactly `deletePaths`, its ephemerals. */
export interface TxnCloseSession {
  type: 'closeSession'
  sessionId: SessionId
  deletePaths: string[]
}

/**
 * TxnError records a write that failed validation. It changes nothing; it exists so
 * the failure is answered in the session's order. `opErrors` is set for a failed
 * multi: per op, 0 before the failing op, its code, then RUNTIME_INCONSISTENCY.
 */
export interface TxnError {
  type: 'error'
  code: number
  /** Why, in words, for the client's error message (e.g. which argument was bad). */
  reason?: string
  opErrors?: number[]
}

/** TxnOp is the body of a txn. */
export type TxnOp =
  | TxnCreate
  | TxnDelete
  | TxnSet
  | TxnSetAcl
  | TxnMulti
  | TxnCreateSession
  | TxnCloseSession
  | TxnError

/**
 * Txn is one entry of the replicated log. `timeMs` is the leader's clock when it
 * prepared the txn (ctime/mtime come from it, so replay is exact). `sessionId` and
 * `xid` name the request that produced it (0n/0 for the server's own txns, such as
 * container reaping) so the server holding that client connection can answer it.
 */
export interface Txn {
  zxid: Zxid
  timeMs: number
  sessionId: SessionId
  xid: number
  op: TxnOp
}
