/**
 * ErrorCode: every result code the service and the SDK use, with ZooKeeper's names
 * and, where ZooKeeper has one, ZooKeeper's number (reference: KeeperException.Code).
 * Codes Conclave adds live in the -200 range so they never collide with ZooKeeper's.
 */
export const ErrorCode = {
  OK: 0,
  SYSTEM_ERROR: -1,
  RUNTIME_INCONSISTENCY: -2,
  DATA_INCONSISTENCY: -3,
  CONNECTION_LOSS: -4,
  MARSHALLING_ERROR: -5,
  UNIMPLEMENTED: -6,
  OPERATION_TIMEOUT: -7,
  BAD_ARGUMENTS: -8,
  UNKNOWN_SESSION: -12,
  API_ERROR: -100,
  NO_NODE: -101,
  NO_AUTH: -102,
  BAD_VERSION: -103,
  NO_CHILDREN_FOR_EPHEMERALS: -108,
  NODE_EXISTS: -110,
  NOT_EMPTY: -111,
  SESSION_EXPIRED: -112,
  INVALID_CALLBACK: -113,
  INVALID_ACL: -114,
  AUTH_FAILED: -115,
  SESSION_MOVED: -118,
  NOT_READ_ONLY: -119,
  EPHEMERAL_ON_LOCAL_SESSION: -120,
  NO_WATCHER: -121,
  REQUEST_TIMEOUT: -122,
  QUOTA_EXCEEDED: -125,
  THROTTLED: -127,
  /** The requested history was compacted away; re-read and restart the watch. */
  COMPACTED: -200,
  /** The client closed itself; the call never reached a server. */
  CLIENT_CLOSED: -201,
  /** The server is not part of a working quorum right now; try another member. */
  NOT_SERVING: -202,
  /** The client has seen a newer zxid than this server holds; try another member. */
  ZXID_AHEAD: -203,
  /** The call was aborted through its AbortSignal. */
  ABORTED: -204,
} as const

/** ErrorCodeName is the name of one error code, e.g. `'NO_NODE'`. */
export type ErrorCodeName = keyof typeof ErrorCode
/** ErrorCodeValue is the numeric value of one error code, e.g. `-101`. */
export type ErrorCodeValue = (typeof ErrorCode)[ErrorCodeName]

const namesByValue = new Map<number, ErrorCodeName>(
  (Object.entries(ErrorCode) as [ErrorCodeName, number][]).map(([name, value]) => [value, name]),
)

/** errorCodeName returns the name of a numeric code, or undefined for an unknown number. */
export function errorCodeName(value: number): ErrorCodeName | undefined {
  return namesByValue.get(value)
}

/** isErrorCode tells whether a number is one of the known codes. */
export function isErrorCode(value: number): value is ErrorCodeValue {
  return namesByValue.has(value)
}
