/**
 * SDK errors. Every failure is a ConclaveError with a stable string `code` (the wire
 * error's name), `retryable` (may the same call succeed if retried) and `definite`
 * (false when a write may or may not have happened). Subclasses exist where callers
 * need `instanceof`; match on `code` otherwise.
 */
import {
  ErrorCode,
  errorCodeName,
  type ErrorCodeName,
  type MultiResult,
} from '../protocol/index.js'

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

/** NoNodeError: the node (or, for create, its parent) does not exist. */
export class NoNodeError extends ConclaveError {
  override name = 'NoNodeError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('NO_NODE', message, options)
  }
}

/** NodeExistsError: create of a path that exists. */
export class NodeExistsError extends ConclaveError {
  override name = 'NodeExistsError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('NODE_EXISTS', message, options)
  }
}

/** BadVersionError: the expected version did not match. */
export class BadVersionError extends ConclaveError {
  override name = 'BadVersionError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('BAD_VERSION', message, options)
  }
}

/** NotEmptyError: delete of a node with children. */
export class NotEmptyError extends ConclaveError {
  override name = 'NotEmptyError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('NOT_EMPTY', message, options)
  }
}

/** NoChildrenForEphemeralsError: create under an ephemeral node. */
export class NoChildrenForEphemeralsError extends ConclaveError {
  override name = 'NoChildrenForEphemeralsError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('NO_CHILDREN_FOR_EPHEMERALS', message, options)
  }
}

/** BadArgumentsError: an invalid path, data over the limit, or another invalid argument. */
export class BadArgumentsError extends ConclaveError {
  override name = 'BadArgumentsError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('BAD_ARGUMENTS', message, options)
  }
}

/** QuotaExceededError: a per-session limit was reached (e.g. the ephemerals one session may own). */
export class QuotaExceededError extends ConclaveError {
  override name = 'QuotaExceededError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('QUOTA_EXCEEDED', message, options)
  }
}

/** UnimplementedError: the server does not know the operation. */
export class UnimplementedError extends ConclaveError {
  override name = 'UnimplementedError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('UNIMPLEMENTED', message, options)
  }
}

/** SessionExpiredError: the session is gone; its ephemerals were deleted. */
export class SessionExpiredError extends ConclaveError {
  override name = 'SessionExpiredError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('SESSION_EXPIRED', message, options)
  }
}

/** SessionMovedError: the session is now served through another connection. */
export class SessionMovedError extends ConclaveError {
  override name = 'SessionMovedError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('SESSION_MOVED', message, options)
  }
}

/** ConnectionLossError: the connection dropped with the call in flight; see `definite`. */
export class ConnectionLossError extends ConclaveError {
  override name = 'ConnectionLossError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('CONNECTION_LOSS', message, options)
  }
}

/** OperationTimeoutError: no answer within the call's timeout; see `definite`. */
export class OperationTimeoutError extends ConclaveError {
  override name = 'OperationTimeoutError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('OPERATION_TIMEOUT', message, options)
  }
}

/** ClientClosedError: the client was closed. */
export class ClientClosedError extends ConclaveError {
  override name = 'ClientClosedError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('CLIENT_CLOSED', message, options)
  }
}

/** AbortedError: the call's AbortSignal fired; see `definite`. */
export class AbortedError extends ConclaveError {
  override name = 'AbortedError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('ABORTED', message, options)
  }
}

/** NoAuthError: the session's identities lack the permission the operation needs on the node's ACL. */
export class NoAuthError extends ConclaveError {
  override name = 'NoAuthError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('NO_AUTH', message, options)
  }
}

/** InvalidAclError: an ACL was empty, named an unknown scheme or a malformed id, or used `auth` without an identity. */
export class InvalidAclError extends ConclaveError {
  override name = 'InvalidAclError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('INVALID_ACL', message, options)
  }
}

/** AuthFailedError: credentials were refused (malformed, or a scheme that cannot be added); the session is closed. */
export class AuthFailedError extends ConclaveError {
  override name = 'AuthFailedError'
  constructor(message: string, options?: ConclaveErrorOptions) {
    super('AUTH_FAILED', message, options)
  }
}

/** ConclaveErrorClass is the constructor shape every subclass shares. */
type ConclaveErrorClass = new (message: string, options?: ConclaveErrorOptions) => ConclaveError

const BY_CODE: Partial<Record<ErrorCodeName, ConclaveErrorClass>> = {
  NO_NODE: NoNodeError,
  NODE_EXISTS: NodeExistsError,
  BAD_VERSION: BadVersionError,
  NOT_EMPTY: NotEmptyError,
  NO_CHILDREN_FOR_EPHEMERALS: NoChildrenForEphemeralsError,
  BAD_ARGUMENTS: BadArgumentsError,
  QUOTA_EXCEEDED: QuotaExceededError,
  UNIMPLEMENTED: UnimplementedError,
  SESSION_EXPIRED: SessionExpiredError,
  SESSION_MOVED: SessionMovedError,
  CONNECTION_LOSS: ConnectionLossError,
  OPERATION_TIMEOUT: OperationTimeoutError,
  CLIENT_CLOSED: ClientClosedError,
  ABORTED: AbortedError,
  NO_AUTH: NoAuthError,
  INVALID_ACL: InvalidAclError,
  AUTH_FAILED: AuthFailedError,
}

/** errorFromCode builds the right error for a wire error number. */
export function errorFromCode(
  codeNumber: number,
  message: string,
  options: ConclaveErrorOptions = {},
): ConclaveError {
  const code = errorCodeName(codeNumber)
  // A code from a newer server that this SDK does not know: keep the number in the message.
  if (code === undefined)
    return new ConclaveError(
      'SYSTEM_ERROR',
      `${message} (unknown error code ${codeNumber})`,
      options,
    )
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
  QuotaExceededError,
  UnimplementedError,
  SessionExpiredError,
  SessionMovedError,
  ConnectionLossError,
  OperationTimeoutError,
  ClientClosedError,
  AbortedError,
  NoAuthError,
  InvalidAclError,
  AuthFailedError,
} as const
