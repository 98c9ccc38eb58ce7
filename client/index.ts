/**
 * conclave/client: the TypeScript SDK for Conclave. See docs/api.md.
 */
export { connect, Client, type ConnectOptions, type CallOptions, type WatchEvent } from './client.js'
export type { ConnectionState, Logger } from './session.js'
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
  UnimplementedError,
  SessionExpiredError,
  SessionMovedError,
  ConnectionLossError,
  OperationTimeoutError,
  ClientClosedError,
  AbortedError,
  type ConclaveErrorOptions,
} from './errors.js'
export type { Stat, Acl, NodeMode, MultiOp, MultiResult, WatchEventType } from '../protocol/index.js'
