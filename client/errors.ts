/**
 * SDK errors. Every failure is a ConclaveError with a stable string `code` (the wire
 * error's name), `retryable` (may the same call succeed if retried) and `definite`
 * (false when a write may or may not have happened). Subclasses exist where callers
 * need `instanceof`; match on `code` otherwise.
 */
import { ErrorCode, errorCodeName, type ErrorCodeName, type MultiResult } from '../protocol/index.js'

/** ConclaveErrorOptions are the optional details of an error. */
export interface ConclaveErrorOptions {
  path?: string
  definite?: boolean
  cause?: unknown
  results?: MultiResult[]
}

/** RETRYABLE_CODES are failures where trying the same call again may succeed. */
const RETRYABLE_CODES: ReadonlySet<ErrorCodeName> = new Set<ErrorCodeName>([
  'CONNECTION_LOSS',
  'OPERATION_TIMEOUT',
  'NOT_SERVING',
  'ZXID_AHEAD',
  'THROTTLED',
  'SESSION_MOVED',
])

/** ConclaveError is the base of every error the SDK raises. */
export class ConclaveError extends Error {
  override name = 'ConclaveError'
  /** code is the stable name of the failure, e.g. 'NO_NODE'. */
  readonly code: ErrorCodeName
  /** codeNumber is the wire number (ZooKeeper's where one exists). */
  readonly codeNumber: number
  /** retryable tells whether retrying the same call may succeed. */
  readonly retryable: boolean
  /** definite is false when a write may or may not have taken effect. */
  readonly definite: boolean
  /** path is the node the error concerns, when there is one. */
  readonly path: string | undefined
  /** results holds every op's outcome when a multi failed. */
  readonly results: MultiResult[] | undefined

  constructor(code: ErrorCodeName, message: string, options: ConclaveErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.codeNumber = ErrorCode[code]
    this.retryable = RETRYABLE_CODES.has(code)
    this.definite = options.definite ?? true
    this.path = options.path
    this.results = options.results
  }
}

function subclass(code: ErrorCodeName, name: string) {
  const cls = class extends ConclaveError {
    constructor(message: string, options?: ConclaveErrorOptions) {
      super(code, message, options)
      this.name = name
    }
  }
  Object.defineProperty(cls, 'name', { value: name })
  return cls
}

/** NoNodeError: the node (or, for create, its parent) does not exist. */
export const NoNodeError = subclass('NO_NODE', 'NoNodeError')
/** NodeExistsError: create of a path that exists. */
export const NodeExistsError = subclass('NODE_EXISTS', 'NodeExistsError')
/** BadVersionError: the expected version did not match. */
export const BadVersionError = subclass('BAD_VERSION', 'BadVersionError')
/** NotEmptyError: delete of a node with children. */
export const NotEmptyError = subclass('NOT_EMPTY', 'NotEmptyError')
/** NoChildrenForEphemeralsError: create under an ephemeral node. */
export const NoChildrenForEphemeralsError = subclass('NO_CHILDREN_FOR_EPHEMERALS', 'NoChildrenForEphemeralsError')
/** BadArgumentsError: an invalid path, data over the limit, or another invalid argument. */
export const BadArgumentsError = subclass('BAD_ARGUMENTS', 'BadArgumentsError')
/** UnimplementedError: the server does not know the operation. */
export const UnimplementedError = subclass('UNIMPLEMENTED', 'UnimplementedError')
/** SessionExpiredError: the session is gone; its ephemerals were deleted. */
export const SessionExpiredError = subclass('SESSION_EXPIRED', 'SessionExpiredError')
/** SessionMovedError: the session is now served through another connection. */
export const SessionMovedError = subclass('SESSION_MOVED', 'SessionMovedError')
/** ConnectionLossError: the connection dropped with the call in flight; see `definite`. */
export const ConnectionLossError = subclass('CONNECTION_LOSS', 'ConnectionLossError')
/** OperationTimeoutError: no answer within the call's timeout; see `definite`. */
export const OperationTimeoutError = subclass('OPERATION_TIMEOUT', 'OperationTimeoutError')
/** ClientClosedError: the client was closed. */
export const ClientClosedError = subclass('CLIENT_CLOSED', 'ClientClosedError')
/** AbortedError: the call's AbortSignal fired; see `definite`. */
export const AbortedError = subclass('ABORTED', 'AbortedError')

const BY_CODE: Partial<Record<ErrorCodeName, ReturnType<typeof subclass>>> = {
  NO_NODE: NoNodeError,
  NODE_EXISTS: NodeExistsError,
  BAD_VERSION: BadVersionError,
  NOT_EMPTY: NotEmptyError,
  NO_CHILDREN_FOR_EPHEMERALS: NoChildrenForEphemeralsError,
  BAD_ARGUMENTS: BadArgumentsError,
  UNIMPLEMENTED: UnimplementedError,
  SESSION_EXPIRED: SessionExpiredError,
  SESSION_MOVED: SessionMovedError,
  CONNECTION_LOSS: ConnectionLossError,
  OPERATION_TIMEOUT: OperationTimeoutError,
  CLIENT_CLOSED: ClientClosedError,
  ABORTED: AbortedError,
}

/** errorFromCode builds the right error for a wire error number. */
export function errorFromCode(codeNumber: number, message: string, options: ConclaveErrorOptions = {}): ConclaveError {
  const code = errorCodeName(codeNumber) ?? 'SYSTEM_ERROR'
  const cls = BY_CODE[code]
  return cls === undefined ? new ConclaveError(code, message, options) : new cls(message, options)
}

/** errors is the catalogue of error classes, for `instanceof` checks. */
export const errors = {
  ConclaveError,
  NoNodeError,
  NodeExistsError,
  BadVersionError,
  NotEmptyError,
  NoChildrenForEphemeralsError,
  BadArgumentsError,
  UnimplementedError,
  SessionExpiredError,
  SessionMovedError,
  ConnectionLossError,
  OperationTimeoutError,
  ClientClosedError,
  AbortedError,
} as const
