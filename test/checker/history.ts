/**
 * History format shared by the deterministic simulator, the Jepsen-style process
 * tests and the checkers in this folder.
 *
 * A history is a flat array of {@link Operation}s, one per client request, each with
 * the time it was called and the time its reply arrived (any monotonic clock: sim
 * ticks or milliseconds; only order matters). Intervals are closed: an operation that
 * returns at t and one called at t are concurrent.
 *
 * Fields beyond the basic Porcupine shape, used by the session-guarantee checker:
 * - `output.zxid` on a successful write: the zxid of the write's own txn. On a
 *   successful read (linearizable or plain): the zxid the reply carried, i.e. the
 *   serving server's last applied zxid. A session "has seen" every such zxid.
 * - `output.mzxid` on a successful read of an existing node: the node's Stat.mzxid
 *   (the zxid of the txn that last created or changed it). Lets the checker tell a
 *   reply that claims to be recent but carries old data.
 * - `plain.zxid` on a plain (non-linearizable) read: the reply zxid. Ops with `plain`
 *   are never given to the linearizability checker; only session guarantees apply.
 *   When both `plain.zxid` and `output.zxid` are given they must agree.
 *
 * Reads of a missing node may be recorded either as `{ ok: true, exists: false }` or as
 * `{ ok: false, code: 'NO_NODE' }` (what `get` answers in ZooKeeper).
 */
import type { Zxid } from '../../protocol/zxid.js'

/** OpInput is what a client asked for; `expectedVersion` -1 means "any version". */
export type OpInput =
  | { kind: 'create'; path: string; value: string }
  | { kind: 'set'; path: string; value: string; expectedVersion: number }
  | { kind: 'delete'; path: string; expectedVersion: number }
  | { kind: 'read'; path: string }

/** OpKind is the tag of an {@link OpInput}. */
export type OpKind = OpInput['kind']

/** FailureCode lists the definite failures the per-path model understands. */
export type FailureCode = 'NO_NODE' | 'NODE_EXISTS' | 'BAD_VERSION'

/** FAILURE_CODES is the set of {@link FailureCode} values, for validation. */
export const FAILURE_CODES: readonly FailureCode[] = ['NO_NODE', 'NODE_EXISTS', 'BAD_VERSION']

/**
 * OpSuccess is a successful reply. create/set: `version` is the resulting version
 * (create: 0); delete: nothing; read: `{ exists, value, version }`. `zxid` and `mzxid`
 * are described in the module comment.
 */
export interface OpSuccess {
  ok: true
  version?: number
  value?: string | null
  exists?: boolean
  zxid?: Zxid
  mzxid?: Zxid
}

/** OpFailure is a definite failure: the request was decided and had no effect. */
export interface OpFailure {
  ok: false
  code: FailureCode
}

/** OpOutput is a reply that arrived; an unknown outcome is `null` instead. */
export type OpOutput = OpSuccess | OpFailure

/** Operation is one client request in a history. */
export interface Operation {
  /** id is unique within the history. */
  id: number
  clientId: number
  sessionId: bigint
  input: OpInput
  callTime: number
  /** returnTime is null when the outcome is unknown (connection lost, timeout, crash). */
  returnTime: number | null
  /** output is null when the outcome is unknown; the op may then have happened or not. */
  output: OpOutput | null
  /** plain marks a plain (possibly stale) read and carries its reply zxid. */
  plain?: { zxid: Zxid }
}

/** History is the array of operations a run recorded, in any order. */
export type History = readonly Operation[]

/** HistoryErrorCode names the ways a history can be malformed. */
export type HistoryErrorCode =
  'DUPLICATE_ID' | 'BAD_TIME' | 'BAD_INPUT' | 'BAD_OUTPUT' | 'BAD_FORMAT' | 'BAD_OPTION'

/** HistoryError is thrown for malformed histories or options; `operationId` names the culprit. */
export class HistoryError extends Error {
  override readonly name = 'HistoryError'
  readonly code: HistoryErrorCode
  readonly operationId: number | undefined

  constructor(code: HistoryErrorCode, message: string, operationId?: number) {
    super(operationId === undefined ? message : `operation #${operationId}: ${message}`)
    this.code = code
    this.operationId = operationId
  }
}

/** isUnknown tells whether an operation's outcome is unknown (no reply arrived). */
export function isUnknown(op: Operation): boolean {
  return op.output === null
}

/** isWrite tells whether an operation may change state. */
export function isWrite(op: Operation): boolean {
  return op.input.kind !== 'read'
}

/** isPlainRead tells whether an operation is a plain (non-linearizable) read. */
export function isPlainRead(op: Operation): boolean {
  return op.plain !== undefined
}

/**
 * effectiveReturnTime is the return time the search uses: +Infinity for an unknown
 * outcome, because such an op may take effect at any point after its call, or never.
 */
export function effectiveReturnTime(op: Operation): number {
  return op.output === null || op.returnTime === null ? Number.POSITIVE_INFINITY : op.returnTime
}

/**
 * observedZxid is the zxid a session learned from an operation's reply, if any:
 * `plain.zxid` for plain reads, else `output.zxid` of a successful reply.
 */
export function observedZxid(op: Operation): Zxid | undefined {
  if (op.plain !== undefined) return op.plain.zxid
  if (op.output !== null && op.output.ok) return op.output.zxid
  return undefined
}

/**
 * readSawNode interprets a read's reply: whether the node existed, or undefined when
 * the read's outcome is unknown.
 */
export function readSawNode(output: OpOutput | null): boolean | undefined {
  if (output === null) return undefined
  if (!output.ok) return false
  return output.exists === true
}

/**
 * validateHistory checks that every operation is well formed and ids are unique;
 * it throws a {@link HistoryError} naming the first problem. Both checkers call it.
 */
export function validateHistory(history: History): void {
  if (!Array.isArray(history))
    throw new HistoryError('BAD_FORMAT', 'history must be an array of operations')
  const seen = new Set<number>()
  for (const op of history) {
    validateOperation(op)
    if (seen.has(op.id)) throw new HistoryError('DUPLICATE_ID', 'id used more than once', op.id)
    seen.add(op.id)
  }
}

function validateOperation(op: Operation): void {
  if (typeof op !== 'object' || op === null)
    throw new HistoryError('BAD_FORMAT', 'operation must be an object')
  if (!Number.isInteger(op.id))
    throw new HistoryError('BAD_FORMAT', `id must be an integer, got ${String(op.id)}`)
  if (typeof op.sessionId !== 'bigint')
    throw new HistoryError('BAD_FORMAT', 'sessionId must be a bigint', op.id)
  if (!Number.isFinite(op.callTime))
    throw new HistoryError('BAD_TIME', 'callTime must be a finite number', op.id)
  if (op.returnTime !== null) {
    if (!Number.isFinite(op.returnTime))
      throw new HistoryError('BAD_TIME', 'returnTime must be finite or null', op.id)
    if (op.returnTime < op.callTime)
      throw new HistoryError('BAD_TIME', 'returnTime is before callTime', op.id)
  } else if (op.output !== null) {
    throw new HistoryError('BAD_TIME', 'an operation with an output needs a returnTime', op.id)
  }
  validateInput(op)
  validateOutput(op)
  if (op.plain !== undefined) validatePlain(op)
}

function validateInput(op: Operation): void {
  const input = op.input as OpInput | undefined
  if (typeof input !== 'object' || input === null)
    throw new HistoryError('BAD_INPUT', 'input missing', op.id)
  if (typeof input.path !== 'string' || !input.path.startsWith('/')) {
    throw new HistoryError(
      'BAD_INPUT',
      `path must be an absolute path, got ${String(input.path)}`,
      op.id,
    )
  }
  switch (input.kind) {
    case 'create':
      if (typeof input.value !== 'string')
        throw new HistoryError('BAD_INPUT', 'create needs a string value', op.id)
      return
    case 'set':
      if (typeof input.value !== 'string')
        throw new HistoryError('BAD_INPUT', 'set needs a string value', op.id)
      validateExpectedVersion(op, input.expectedVersion)
      return
    case 'delete':
      validateExpectedVersion(op, input.expectedVersion)
      return
    case 'read':
      return
    default:
      throw new HistoryError(
        'BAD_INPUT',
        `unknown kind ${String((input as { kind: unknown }).kind)}`,
        op.id,
      )
  }
}

function validateExpectedVersion(op: Operation, expectedVersion: number): void {
  if (!Number.isInteger(expectedVersion) || expectedVersion < -1) {
    throw new HistoryError(
      'BAD_INPUT',
      `expectedVersion must be -1 or a version, got ${String(expectedVersion)}`,
      op.id,
    )
  }
}

function validateOutput(op: Operation): void {
  const output = op.output
  if (output === null) return
  if (typeof output !== 'object')
    throw new HistoryError('BAD_OUTPUT', 'output must be an object or null', op.id)
  if (!output.ok) {
    if (!FAILURE_CODES.includes(output.code)) {
      throw new HistoryError(
        'BAD_OUTPUT',
        `failure code must be one of ${FAILURE_CODES.join(', ')}`,
        op.id,
      )
    }
    if (op.input.kind === 'read' && output.code !== 'NO_NODE') {
      throw new HistoryError('BAD_OUTPUT', `a read cannot fail with ${output.code}`, op.id)
    }
    return
  }
  if (output.version !== undefined && (!Number.isInteger(output.version) || output.version < 0)) {
    throw new HistoryError('BAD_OUTPUT', 'version must be a non-negative integer', op.id)
  }
  if (output.zxid !== undefined && typeof output.zxid !== 'bigint')
    throw new HistoryError('BAD_OUTPUT', 'zxid must be a bigint', op.id)
  if (output.mzxid !== undefined && typeof output.mzxid !== 'bigint')
    throw new HistoryError('BAD_OUTPUT', 'mzxid must be a bigint', op.id)
  if (op.input.kind === 'read') validateReadSuccess(op, output)
}

function validateReadSuccess(op: Operation, output: OpSuccess): void {
  if (typeof output.exists !== 'boolean')
    throw new HistoryError('BAD_OUTPUT', 'a successful read needs exists: boolean', op.id)
  if (output.exists && typeof output.value !== 'string') {
    throw new HistoryError('BAD_OUTPUT', 'a read of an existing node needs a string value', op.id)
  }
}

function validatePlain(op: Operation): void {
  if (op.input.kind !== 'read')
    throw new HistoryError('BAD_INPUT', 'only reads can be plain', op.id)
  if (typeof op.plain?.zxid !== 'bigint')
    throw new HistoryError('BAD_OUTPUT', 'plain.zxid must be a bigint', op.id)
  const output = op.output
  if (output !== null && output.ok && output.zxid !== undefined && output.zxid !== op.plain.zxid) {
    throw new HistoryError('BAD_OUTPUT', 'plain.zxid and output.zxid disagree', op.id)
  }
}
