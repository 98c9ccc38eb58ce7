/**
 * How many bytes a txn can take once encoded. Every message between members, and
 * every log record, must fit a frame, so the size of what they carry is bounded where
 * they are built: request preparation refuses a txn over the txn limit, proposal
 * batches, DIFF messages and SNAP chunks close at a byte budget. Encoding each txn a
 * second time only to measure it would cost the leader as much as the real encode, so
 * this is an upper bound computed from the fields: never below the msgpack encoding
 * (protocol/codec.ts), at most a few dozen bytes per field above it.
 */
import type { Acl } from './types.js'
import type { Txn, TxnMultiOp, TxnOp } from './txn.js'

/** FIELD_BYTES_MAX covers one map key (short ASCII name), its type marker and length prefix, or a number. */
const FIELD_BYTES_MAX = 24

/** TXN_HEADER_BYTES_MAX covers a txn's map header and its zxid, timeMs, sessionId, xid and op keys. */
const TXN_HEADER_BYTES_MAX = 6 * FIELD_BYTES_MAX

/** utf8Bytes is the UTF-8 length of a string, exactly, without allocating. */
export function utf8Bytes(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x80) bytes += 1
    else if (unit < 0x800) bytes += 2
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

function aclBytes(acl: readonly Acl[]): number {
  let bytes = FIELD_BYTES_MAX
  for (const entry of acl)
    bytes += 4 * FIELD_BYTES_MAX + utf8Bytes(entry.scheme) + utf8Bytes(entry.id)
  return bytes
}

/**
 * znodeBytesBound is an upper bound on the msgpack encoding of a map holding a znode's
 * `path`, `data` and `acl` plus `otherFields` fields of numbers and booleans: a create
 * op, or a snapshot record (SNAP chunks are cut by it).
 */
export function znodeBytesBound(
  node: { path: string; data: Uint8Array; acl: readonly Acl[] },
  otherFields: number,
): number {
  return (
    (4 + otherFields) * FIELD_BYTES_MAX +
    utf8Bytes(node.path) +
    node.data.length +
    aclBytes(node.acl)
  )
}

/** sessionRecordBytesBound is an upper bound on the msgpack encoding of a session record (id, timeout, password). */
export function sessionRecordBytesBound(record: { password: Uint8Array }): number {
  return 4 * FIELD_BYTES_MAX + record.password.length
}

function opBytes(op: TxnOp | TxnMultiOp): number {
  switch (op.type) {
    case 'create':
      return znodeBytesBound(op, 5)
    case 'delete':
    case 'check':
      return 3 * FIELD_BYTES_MAX + utf8Bytes(op.path)
    case 'set':
      return 5 * FIELD_BYTES_MAX + utf8Bytes(op.path) + op.data.length
    case 'setAcl':
      return 5 * FIELD_BYTES_MAX + utf8Bytes(op.path) + aclBytes(op.acl)
    case 'multi': {
      let bytes = 3 * FIELD_BYTES_MAX
      for (const inner of op.ops) bytes += opBytes(inner)
      return bytes
    }
    case 'createSession':
      return 5 * FIELD_BYTES_MAX + op.password.length
    case 'closeSession': {
      let pathBytes = 0
      for (const path of op.deletePaths) pathBytes += utf8Bytes(path)
      return closeSessionOpBytes(op.deletePaths.length, pathBytes)
    }
    case 'error':
      return (
        5 * FIELD_BYTES_MAX +
        (op.reason === undefined ? 0 : utf8Bytes(op.reason)) +
        (op.opErrors?.length ?? 0) * 9
      )
    default: {
      const unreachable: never = op
      return unreachable
    }
  }
}

function closeSessionOpBytes(pathCount: number, pathBytes: number): number {
  return 4 * FIELD_BYTES_MAX + pathCount * FIELD_BYTES_MAX + pathBytes
}

/**
 * closeSessionBytesBound is txnBytesBound of the closeSession txn of a session owning
 * `pathCount` ephemerals whose paths total `pathBytes` UTF-8 bytes, without building
 * the list: request preparation keeps every session's close below the txn limit.
 */
export function closeSessionBytesBound(pathCount: number, pathBytes: number): number {
  return TXN_HEADER_BYTES_MAX + closeSessionOpBytes(pathCount, pathBytes)
}

/**
 * txnBytesBound is an upper bound on the msgpack encoding of `txn` (as a log record's
 * payload and as an element of a peer message). Cheap: one pass over its strings.
 */
export function txnBytesBound(txn: Txn): number {
  return TXN_HEADER_BYTES_MAX + opBytes(txn.op)
}
