/**
 * Validation of single write ops against a NodeView, ZooKeeper's PrepRequestProcessor
 * rules. Each function either returns the txn op (and records its effect in the view)
 * or a RequestFailure; nothing here throws for bad input.
 */
import {
  ErrorCode,
  OPEN_ACL_UNSAFE,
  ROOT_PATH,
  TTL_MS_MAX,
  isEphemeralMode,
  isSequentialMode,
  parentOf,
  pathProblem,
  sequenceSuffix,
  type Acl,
  type NodeMode,
  type SessionId,
  type TxnCheck,
  type TxnCreate,
  type TxnDelete,
  type TxnSet,
} from '../../protocol/index.js'
import { isReservedPath } from '../tree/data-tree.js'
import type { NodeView, PendingNode } from './pending-state.js'

/** RequestFailure is a validation failure: a wire error code and the reason in words. */
export interface RequestFailure {
  code: number
  reason: string
}

/** ValidationContext is what every rule may consult besides the view. */
export interface ValidationContext {
  sessionId: SessionId
  timeMs: number
  dataBytesMax: number
}

/** CreateSpec is a create as requested (one op of a multi, or a create request). */
export interface CreateSpec {
  path: string
  data: Uint8Array
  mode: NodeMode
  ttlMs?: number
  acl?: Acl[]
}

const VERSION_MAX = 0x7fff_ffff

const fail = (code: number, reason: string): RequestFailure => ({ code, reason })

/** isFailure tells a RequestFailure from a txn op. */
export function isFailure(value: object): value is RequestFailure {
  return 'code' in value && 'reason' in value && !('type' in value)
}

function checkAcl(acl: Acl[] | undefined): RequestFailure | null {
  if (acl === undefined) return null
  if (acl.length === 0) return fail(ErrorCode.INVALID_ACL, 'an ACL needs at least one entry')
  for (const entry of acl) {
    if (entry.scheme === 'auth') return fail(ErrorCode.INVALID_ACL, "scheme 'auth' needs an authenticated identity; this connection has none")
  }
  return null
}

/** validateCreate checks a create and records the new node and its parent's new counters. */
export function validateCreate(view: NodeView, spec: CreateSpec, context: ValidationContext): TxnCreate | RequestFailure {
  const sequential = isSequentialMode(spec.mode)
  const problem = pathProblem(spec.path, sequential)
  if (problem !== null) return fail(ErrorCode.BAD_ARGUMENTS, `invalid path ${JSON.stringify(spec.path)}: ${problem}`)
  if (spec.data.length > context.dataBytesMax) {
    return fail(ErrorCode.BAD_ARGUMENTS, `data of ${spec.data.length} bytes exceeds the limit of ${context.dataBytesMax}`)
  }
  if (spec.ttlMs !== undefined) {
    if (spec.mode !== 'persistent' && spec.mode !== 'persistent-sequential') {
      return fail(ErrorCode.BAD_ARGUMENTS, `ttlMs is only allowed with persistent modes, not ${spec.mode}`)
    }
    if (!Number.isInteger(spec.ttlMs) || spec.ttlMs <= 0 || spec.ttlMs > TTL_MS_MAX) {
      return fail(ErrorCode.BAD_ARGUMENTS, `ttlMs must be an integer in [1, ${TTL_MS_MAX}]`)
    }
  }
  if (isEphemeralMode(spec.mode) && context.sessionId === 0n) return fail(ErrorCode.BAD_ARGUMENTS, 'ephemeral nodes need a session')
  const aclProblem = checkAcl(spec.acl)
  if (aclProblem !== null) return aclProblem
  const parentPath = parentOf(spec.path)
  const parent = view.get(parentPath)
  if (parent === null) return fail(ErrorCode.NO_NODE, `parent ${parentPath} does not exist`)
  const path = sequential ? spec.path + sequenceSuffix(parent.cversion) : spec.path
  const finalProblem = pathProblem(path)
  if (finalProblem !== null) return fail(ErrorCode.BAD_ARGUMENTS, `invalid path ${JSON.stringify(path)}: ${finalProblem}`)
  if (isReservedPath(path)) return fail(ErrorCode.BAD_ARGUMENTS, `${path} is reserved`)
  if (view.get(path) !== null) return fail(ErrorCode.NODE_EXISTS, `${path} already exists`)
  if (parent.ephemeralOwner !== 0n) return fail(ErrorCode.NO_CHILDREN_FOR_EPHEMERALS, `${parentPath} is ephemeral and cannot have children`)

  const parentCversion = parent.cversion + 1
  const ephemeralOwner = isEphemeralMode(spec.mode) ? context.sessionId : 0n
  const container = spec.mode === 'container'
  const ttlMs = spec.ttlMs ?? 0
  view.put(parentPath, { ...parent, cversion: parentCversion, numChildren: parent.numChildren + 1 })
  view.put(path, { version: 0, cversion: 0, aversion: 0, numChildren: 0, ephemeralOwner, container, ttlMs, mtime: context.timeMs })
  return {
    type: 'create',
    path,
    data: spec.data,
    acl: spec.acl ?? [...OPEN_ACL_UNSAFE],
    ephemeralOwner,
    container,
    ttlMs,
    parentCversion,
  }
}

/** missingAncestors lists the ancestors of `path` that do not exist in the view, outermost first. */
export function missingAncestors(view: NodeView, path: string): string[] {
  const missing: string[] = []
  for (let p = parentOf(path); p !== ROOT_PATH && view.get(p) === null; p = parentOf(p)) missing.unshift(p)
  return missing
}

function checkVersion(path: string, node: PendingNode, expected: number): RequestFailure | null {
  if (expected !== -1 && expected !== node.version) return fail(ErrorCode.BAD_VERSION, `${path} is at version ${node.version}, not ${expected}`)
  return null
}

/** validateDelete checks a delete and records the removal. */
export function validateDelete(view: NodeView, path: string, version: number): TxnDelete | RequestFailure {
  const problem = pathProblem(path)
  if (problem !== null) return fail(ErrorCode.BAD_ARGUMENTS, `invalid path ${JSON.stringify(path)}: ${problem}`)
  if (path === ROOT_PATH || isReservedPath(path)) return fail(ErrorCode.BAD_ARGUMENTS, `${path} cannot be deleted`)
  const node = view.get(path)
  if (node === null) return fail(ErrorCode.NO_NODE, `${path} does not exist`)
  const versionProblem = checkVersion(path, node, version)
  if (versionProblem !== null) return versionProblem
  if (node.numChildren > 0) return fail(ErrorCode.NOT_EMPTY, `${path} has ${node.numChildren} children`)
  const parentPath = parentOf(path)
  const parent = view.get(parentPath)!
  view.put(parentPath, { ...parent, numChildren: parent.numChildren - 1 })
  view.put(path, null)
  return { type: 'delete', path }
}

/** validateSet checks a set and records the new version. */
export function validateSet(view: NodeView, path: string, data: Uint8Array, version: number, context: ValidationContext): TxnSet | RequestFailure {
  const problem = pathProblem(path)
  if (problem !== null) return fail(ErrorCode.BAD_ARGUMENTS, `invalid path ${JSON.stringify(path)}: ${problem}`)
  if (isReservedPath(path)) return fail(ErrorCode.BAD_ARGUMENTS, `${path} is reserved`)
  if (data.length > context.dataBytesMax) {
    return fail(ErrorCode.BAD_ARGUMENTS, `data of ${data.length} bytes exceeds the limit of ${context.dataBytesMax}`)
  }
  const node = view.get(path)
  if (node === null) return fail(ErrorCode.NO_NODE, `${path} does not exist`)
  const versionProblem = checkVersion(path, node, version)
  if (versionProblem !== null) return versionProblem
  // Versions wrap to 0 past 2^31-1 so -1 ("any") is never produced (ZOOKEEPER-4743).
  const next = node.version >= VERSION_MAX ? 0 : node.version + 1
  view.put(path, { ...node, version: next, mtime: context.timeMs })
  return { type: 'set', path, data, version: next }
}

/** validateCheck checks a multi's version check. */
export function validateCheck(view: NodeView, path: string, version: number): TxnCheck | RequestFailure {
  const problem = pathProblem(path)
  if (problem !== null) return fail(ErrorCode.BAD_ARGUMENTS, `invalid path ${JSON.stringify(path)}: ${problem}`)
  const node = view.get(path)
  if (node === null) return fail(ErrorCode.NO_NODE, `${path} does not exist`)
  return checkVersion(path, node, version) ?? { type: 'check', path }
}
