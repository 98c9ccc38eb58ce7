/**
 * Validation of single write ops against a NodeView, with ZooKeeper's
 * PrepRequestProcessor rules (reference §3, §5). Each function either records its
 * effect in the view and returns the txn op, or returns a RequestFailure and leaves
 * the view alone; nothing here throws for bad input.
 */
import {
  ErrorCode,
  NODE_MODES,
  OPEN_ACL_UNSAFE,
  Perm,
  ROOT_PATH,
  TTL_MS_MAX,
  closeSessionBytesBound,
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
  type TxnSetAcl,
  utf8Bytes,
} from '../../protocol/index.js'
import { isReservedPath } from '../tree/data-tree.js'
import { aclPermits, fixupAcl, permName, type AuthId } from './acl.js'
import type { NodeView, PendingNode } from './pending-state.js'

/** RequestFailure is a validation failure: a wire error code and the reason in words, naming the path. */
export interface RequestFailure {
  code: number
  reason: string
}

/** ValidationContext is what every rule may consult besides the view. */
export interface ValidationContext {
  sessionId: SessionId
  timeMs: number
  dataBytesMax: number
  /** txnBytesMax is the largest txn (by txnBytesBound) the leader prepares; a session's close must fit it too. */
  txnBytesMax: number
  /** ephemeralsPerSessionMax is the most ephemerals one session may own. */
  ephemeralsPerSessionMax: number
  /**
   * identities are those of the connection that sent the write (ZooKeeper's authInfo),
   * checked against the ACLs; undefined for the server's own txns (reaps, closes, trims),
   * which no ACL stops.
   */
  identities?: readonly AuthId[]
}

/** CreateSpec is a create as requested (one op of a multi, or a create request). */
export interface CreateSpec {
  path: string
  data: Uint8Array
  mode: NodeMode
  ttlMs?: number
  acl?: Acl[]
}

/** Versions and counters are Java ints in ZooKeeper; Conclave keeps their ranges. */
const INT_MAX = 0x7fff_ffff
const INT_MIN = -0x8000_0000

const fail = (code: number, reason: string): RequestFailure => ({ code, reason })

/** isFailure tells a RequestFailure from a txn op. */
export function isFailure(value: object): value is RequestFailure {
  return 'code' in value && 'reason' in value && !('type' in value)
}

function checkPath(path: string, sequential = false): RequestFailure | null {
  const problem = pathProblem(path, sequential)
  return problem === null
    ? null
    : fail(ErrorCode.BAD_ARGUMENTS, `invalid path ${JSON.stringify(path)}: ${problem}`)
}

function checkData(
  path: string,
  data: Uint8Array,
  context: ValidationContext,
): RequestFailure | null {
  if (!(data instanceof Uint8Array))
    return fail(ErrorCode.BAD_ARGUMENTS, `data for ${path} must be bytes`)
  if (data.length <= context.dataBytesMax) return null
  return fail(
    ErrorCode.BAD_ARGUMENTS,
    `data for ${path} is ${data.length} bytes, over the limit of ${context.dataBytesMax}`,
  )
}

function checkExpectedVersion(path: string, expected: number): RequestFailure | null {
  if (Number.isInteger(expected) && expected >= -1 && expected <= INT_MAX) return null
  return fail(
    ErrorCode.BAD_ARGUMENTS,
    `expected version for ${path} must be -1 or an integer in [0, ${INT_MAX}], not ${String(expected)}`,
  )
}

function checkVersion(
  path: string,
  node: Readonly<PendingNode>,
  expected: number,
): RequestFailure | null {
  if (expected === -1 || expected === node.version) return null
  return fail(ErrorCode.BAD_VERSION, `${path} is at version ${node.version}, not ${expected}`)
}

function checkAcl(
  path: string,
  acl: Acl[] | undefined,
  context: ValidationContext,
): RequestFailure | null {
  if (acl === undefined) return null
  const fixed = fixupAcl(path, acl, context.identities ?? [])
  return Array.isArray(fixed) ? null : fixed
}

/**
 * checkPerm refuses with NO_AUTH when the writer's identities lack `perm` on the node at
 * `path` as it will be (the pending state, so a pipelined setAcl counts).
 */
function checkPerm(
  node: Readonly<PendingNode>,
  path: string,
  perm: number,
  context: ValidationContext,
): RequestFailure | null {
  if (context.identities === undefined || aclPermits(node.acl, perm, context.identities))
    return null
  return fail(ErrorCode.NO_AUTH, `${permName(perm)} on ${path} is not granted to this session`)
}

/** checkCreateArguments checks what a create can be refused for before the tree is consulted (null: nothing). */
export function checkCreateArguments(
  spec: CreateSpec,
  context: ValidationContext,
): RequestFailure | null {
  if (!NODE_MODES.includes(spec.mode))
    return fail(
      ErrorCode.BAD_ARGUMENTS,
      `unknown mode ${JSON.stringify(spec.mode)} for ${spec.path}`,
    )
  const pathFailure = checkPath(spec.path, isSequentialMode(spec.mode))
  if (pathFailure !== null) return pathFailure
  if (isReservedPath(spec.path))
    return fail(ErrorCode.BAD_ARGUMENTS, `${spec.path} is in the reserved /zookeeper subtree`)
  const dataFailure = checkData(spec.path, spec.data, context)
  if (dataFailure !== null) return dataFailure
  if (spec.ttlMs !== undefined) {
    if (spec.mode !== 'persistent' && spec.mode !== 'persistent-sequential') {
      return fail(
        ErrorCode.BAD_ARGUMENTS,
        `ttlMs is only allowed with persistent modes, not ${spec.mode} (${spec.path})`,
      )
    }
    if (!Number.isInteger(spec.ttlMs) || spec.ttlMs <= 0 || spec.ttlMs > TTL_MS_MAX) {
      return fail(
        ErrorCode.BAD_ARGUMENTS,
        `ttlMs for ${spec.path} must be an integer in [1, ${TTL_MS_MAX}]`,
      )
    }
  }
  if (isEphemeralMode(spec.mode) && context.sessionId === 0n)
    return fail(ErrorCode.BAD_ARGUMENTS, `ephemeral ${spec.path} needs a session`)
  return checkAcl(spec.path, spec.acl, context)
}

/**
 * validateCreate checks a create and records the new node and its parent's new child
 * count and cversion. A sequential name is the requested path plus the parent's
 * cversion before the create, so every prefix under one parent shares one counter.
 */
export function validateCreate(
  view: NodeView,
  spec: CreateSpec,
  context: ValidationContext,
): TxnCreate | RequestFailure {
  const argumentFailure = checkCreateArguments(spec, context)
  if (argumentFailure !== null) return argumentFailure
  const parentPath = parentOf(spec.path)
  const parent = view.get(parentPath)
  if (parent === null)
    return fail(ErrorCode.NO_NODE, `parent ${parentPath} of ${spec.path} does not exist`)
  const permFailure = checkPerm(parent, parentPath, Perm.CREATE, context)
  if (permFailure !== null) return permFailure
  const path = isSequentialMode(spec.mode) ? spec.path + sequenceSuffix(parent.cversion) : spec.path
  const finalFailure = checkPath(path)
  if (finalFailure !== null) return finalFailure
  if (isReservedPath(path))
    return fail(ErrorCode.BAD_ARGUMENTS, `${path} is in the reserved /zookeeper subtree`)
  if (view.get(path) !== null) return fail(ErrorCode.NODE_EXISTS, `${path} already exists`)
  if (parent.ephemeralOwner !== 0n)
    return fail(
      ErrorCode.NO_CHILDREN_FOR_EPHEMERALS,
      `${parentPath} is ephemeral and cannot have children`,
    )
  if (isEphemeralMode(spec.mode)) {
    const quotaFailure = checkEphemeralQuota(view, path, context)
    if (quotaFailure !== null) return quotaFailure
  }

  // The counter is a Java int in ZooKeeper: past 2^31-1 it wraps to -2^31 (docs, §5).
  const parentCversion = parent.cversion >= INT_MAX ? INT_MIN : parent.cversion + 1
  const ephemeralOwner = isEphemeralMode(spec.mode) ? context.sessionId : 0n
  const container = spec.mode === 'container'
  const ttlMs = spec.ttlMs ?? 0
  const fixed =
    spec.acl === undefined
      ? [...OPEN_ACL_UNSAFE]
      : fixupAcl(path, spec.acl, context.identities ?? [])
  if (!Array.isArray(fixed)) return fixed
  view.put(parentPath, { ...parent, cversion: parentCversion, numChildren: parent.numChildren + 1 })
  view.put(path, {
    version: 0,
    cversion: 0,
    aversion: 0,
    numChildren: 0,
    ephemeralOwner,
    container,
    ttlMs,
    mtime: context.timeMs,
    acl: fixed,
  })
  return {
    type: 'create',
    path,
    data: spec.data,
    acl: fixed,
    ephemeralOwner,
    container,
    ttlMs,
    parentCversion,
  }
}

/**
 * checkEphemeralQuota refuses one more ephemeral for the session when it would own more
 * than the per-session limit, or when its closeSession txn, which lists every one of its
 * ephemeral paths, would outgrow the txn limit and so could never be sent or logged.
 */
function checkEphemeralQuota(
  view: NodeView,
  path: string,
  context: ValidationContext,
): RequestFailure | null {
  const owned = view.ephemeralFootprintOf(context.sessionId)
  const session = `0x${context.sessionId.toString(16)}`
  if (owned.count >= context.ephemeralsPerSessionMax) {
    return fail(
      ErrorCode.QUOTA_EXCEEDED,
      `session ${session} already owns ${owned.count} ephemerals, the limit per session (maxEphemeralsPerSession ${context.ephemeralsPerSessionMax})`,
    )
  }
  const closeBytes = closeSessionBytesBound(owned.count + 1, owned.pathBytes + utf8Bytes(path))
  if (closeBytes <= context.txnBytesMax) return null
  return fail(
    ErrorCode.QUOTA_EXCEEDED,
    `session ${session} owns ${owned.count} ephemerals with ${owned.pathBytes} bytes of paths; one more would make its close txn ` +
      `${closeBytes} bytes, over the txn limit of ${context.txnBytesMax} bytes`,
  )
}

/** missingAncestors lists the ancestors of `path` that do not exist in the view, outermost first. */
export function missingAncestors(view: NodeView, path: string): string[] {
  const missing: string[] = []
  for (let p = parentOf(path); p !== ROOT_PATH && view.get(p) === null; p = parentOf(p))
    missing.unshift(p)
  return missing
}

/** validateDelete checks a delete and records the removal (the parent's cversion stays, as in ZooKeeper). */
export function validateDelete(
  view: NodeView,
  path: string,
  version: number,
  context?: ValidationContext,
): TxnDelete | RequestFailure {
  const argumentFailure = checkPath(path) ?? checkExpectedVersion(path, version)
  if (argumentFailure !== null) return argumentFailure
  if (path === ROOT_PATH || isReservedPath(path))
    return fail(ErrorCode.BAD_ARGUMENTS, `${path} cannot be deleted`)
  const node = view.get(path)
  if (node === null) return fail(ErrorCode.NO_NODE, `${path} does not exist`)
  const parentPath = parentOf(path)
  const parent = view.get(parentPath)!
  if (context !== undefined) {
    const permFailure = checkPerm(parent, parentPath, Perm.DELETE, context)
    if (permFailure !== null) return permFailure
  }
  const versionFailure = checkVersion(path, node, version)
  if (versionFailure !== null) return versionFailure
  if (node.numChildren > 0)
    return fail(ErrorCode.NOT_EMPTY, `${path} has ${node.numChildren} children`)
  view.put(parentPath, { ...parent, numChildren: parent.numChildren - 1 })
  view.put(path, null)
  return { type: 'delete', path }
}

/** validateSet checks a set and records the new version and mtime. */
export function validateSet(
  view: NodeView,
  path: string,
  data: Uint8Array,
  version: number,
  context: ValidationContext,
): TxnSet | RequestFailure {
  const argumentFailure = checkPath(path) ?? checkExpectedVersion(path, version)
  if (argumentFailure !== null) return argumentFailure
  if (isReservedPath(path))
    return fail(ErrorCode.BAD_ARGUMENTS, `${path} is in the reserved /zookeeper subtree`)
  const dataFailure = checkData(path, data, context)
  if (dataFailure !== null) return dataFailure
  const node = view.get(path)
  if (node === null) return fail(ErrorCode.NO_NODE, `${path} does not exist`)
  const permFailure = checkPerm(node, path, Perm.WRITE, context)
  if (permFailure !== null) return permFailure
  const versionFailure = checkVersion(path, node, version)
  if (versionFailure !== null) return versionFailure
  // Versions wrap to 0 past 2^31-1 so -1 ("any") is never produced (ZOOKEEPER-4743).
  const next = node.version >= INT_MAX ? 0 : node.version + 1
  view.put(path, { ...node, version: next, mtime: context.timeMs })
  return { type: 'set', path, data, version: next }
}

/** validateCheck checks a multi's version check; it changes nothing. */
export function validateCheck(
  view: NodeView,
  path: string,
  version: number,
  context?: ValidationContext,
): TxnCheck | RequestFailure {
  const argumentFailure = checkPath(path) ?? checkExpectedVersion(path, version)
  if (argumentFailure !== null) return argumentFailure
  const node = view.get(path)
  if (node === null) return fail(ErrorCode.NO_NODE, `${path} does not exist`)
  // ZooKeeper checks READ for a multi's check: it reveals the node's version.
  const permFailure = context === undefined ? null : checkPerm(node, path, Perm.READ, context)
  if (permFailure !== null) return permFailure
  return checkVersion(path, node, version) ?? { type: 'check', path }
}

/**
 * validateSetAcl checks a setAcl (ADMIN on the node, `aversion` -1 or the node's ACL
 * version, a valid ACL with `auth` expanded) and records the new aversion and ACL.
 */
export function validateSetAcl(
  view: NodeView,
  path: string,
  acl: Acl[],
  aversion: number,
  context: ValidationContext,
): TxnSetAcl | RequestFailure {
  const argumentFailure = checkPath(path) ?? checkExpectedVersion(path, aversion)
  if (argumentFailure !== null) return argumentFailure
  if (isReservedPath(path))
    return fail(ErrorCode.BAD_ARGUMENTS, `${path} is in the reserved /zookeeper subtree`)
  const node = view.get(path)
  if (node === null) return fail(ErrorCode.NO_NODE, `${path} does not exist`)
  const permFailure = checkPerm(node, path, Perm.ADMIN, context)
  if (permFailure !== null) return permFailure
  const fixed = fixupAcl(path, acl, context.identities ?? [])
  if (!Array.isArray(fixed)) return fixed
  if (aversion !== -1 && aversion !== node.aversion)
    return fail(
      ErrorCode.BAD_VERSION,
      `${path} is at ACL version ${node.aversion}, not ${aversion}`,
    )
  const next = node.aversion >= INT_MAX ? 0 : node.aversion + 1
  view.put(path, { ...node, aversion: next, acl: fixed })
  return { type: 'setAcl', path, acl: fixed, aversion: next }
}
