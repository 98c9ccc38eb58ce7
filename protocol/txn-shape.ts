/**
 * The shape check for a Txn received from a peer or read back from the log. A txn
 * that is not well formed (a bug, a future format, damage that kept its checksum) must
 * be refused, not applied, so every field is checked and normalized.
 */
import { ERROR_REASON_CHARS_MAX, MULTI_OPS_MAX } from './limits.js'
import {
  ShapeError,
  arrayOf,
  bool,
  bytes,
  int,
  object,
  optional,
  path,
  str,
  tagged,
  u64,
  type Check,
} from './schema.js'
import type {
  Txn,
  TxnCheck,
  TxnCloseSession,
  TxnCreate,
  TxnCreateSession,
  TxnDelete,
  TxnError,
  TxnMulti,
  TxnMultiOp,
  TxnOp,
  TxnSet,
  TxnSetAcl,
} from './txn.js'
import type { Acl } from './types.js'

const tag =
  <T extends string>(value: T): Check<T> =>
  (v, where) => {
    if (v !== value) throw new ShapeError(`${where}: expected '${value}'`)
    return value
  }
// The data limit is the server's own setting (it may exceed DATA_BYTES_MAX); the frame
// and record sizes bound what arrives here.
const data = bytes(Number.MAX_SAFE_INTEGER)
const znodePath = path(false)
const acl: Check<Acl> = object<Acl>({ perms: int(0, 31), scheme: str(64), id: str(1024) })
const aclList = arrayOf(acl, 64)
const unknownOp = (type: string, where: string) =>
  new ShapeError(`${where}.type: unknown txn op '${type.slice(0, 64)}'`)

const txnCreate = object<TxnCreate>({
  type: tag('create'),
  path: znodePath,
  data,
  acl: aclList,
  ephemeralOwner: u64,
  container: bool,
  ttlMs: int(0),
  parentCversion: int(),
})
const txnDelete = object<TxnDelete>({ type: tag('delete'), path: znodePath })
const txnSet = object<TxnSet>({ type: tag('set'), path: znodePath, data, version: int() })
const txnCheckOp = object<TxnCheck>({ type: tag('check'), path: znodePath })
const txnMultiOp = tagged<TxnMultiOp>(
  'type',
  { create: txnCreate, delete: txnDelete, set: txnSet, check: txnCheckOp },
  unknownOp,
)

const txnOp = tagged<TxnOp>(
  'type',
  {
    create: txnCreate,
    delete: txnDelete,
    set: txnSet,
    setAcl: object<TxnSetAcl>({
      type: tag('setAcl'),
      path: znodePath,
      acl: aclList,
      aversion: int(),
    }),
    multi: object<TxnMulti>({ type: tag('multi'), ops: arrayOf(txnMultiOp, MULTI_OPS_MAX) }),
    createSession: object<TxnCreateSession>({
      type: tag('createSession'),
      sessionId: u64,
      timeoutMs: int(0),
      password: bytes(64),
    }),
    closeSession: object<TxnCloseSession>({
      type: tag('closeSession'),
      sessionId: u64,
      deletePaths: arrayOf(znodePath, 1_000_000),
    }),
    error: object<TxnError>({
      type: tag('error'),
      code: int(),
      reason: optional(str(ERROR_REASON_CHARS_MAX)),
      opErrors: optional(arrayOf(int(), MULTI_OPS_MAX)),
    }),
  },
  unknownOp,
)

/** txnCheck checks and normalizes a whole Txn (bigint ids, plain Uint8Array data); it throws ShapeError. */
export const txnCheck: Check<Txn> = object<Txn>({
  zxid: u64,
  timeMs: int(),
  sessionId: u64,
  xid: int(),
  op: txnOp,
})

/**
 * checkTxn returns the value as a well-formed Txn, or a string saying which field is
 * wrong. Never throws.
 */
export function checkTxn(value: unknown): Txn | string {
  try {
    return txnCheck(value, 'txn')
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  }
}
