/**
 * conclave/client: the TypeScript SDK for Conclave. See docs/api.md.
 */
import './disposable.js'
export { connect, Client, type CreateOptions, type Watcher } from './client.js'
export type { ConnectOptions, AuthInfo } from './options.js'
export type { TlsOptions } from './transport.js'
export type { CallOptions } from './call.js'
export type { WatchEvent } from './watch-stream.js'
export type { ConnectionState } from './session.js'
export type { Logger } from './connection.js'
export { CreateMode } from './create-mode.js'
export { op } from './multi-op.js'
export type { Data } from './data.js'
export {
  ConclaveError,
  errors,
  errorFromCode,
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
  type ConclaveErrorOptions,
} from './errors.js'
export type {
  Stat,
  Acl,
  NodeMode,
  MultiOp,
  MultiResult,
  WatchEventType,
} from '../protocol/index.js'
export { Perm, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, CREATOR_ALL_ACL } from '../protocol/types.js'
export * from './recipes/index.js'
