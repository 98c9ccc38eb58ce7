/**
 * Builders for the operations of a multi.
 */
import type { MultiOp, NodeMode } from '../protocol/index.js'
import { toBytes, type Data } from './data.js'

/** op builds multi operations: `client.multi([op.check(...), op.create(...), ...])`. */
export const op = {
  /** check succeeds if the node is at `version` (-1: only that it exists). */
  check: (path: string, version = -1): MultiOp => ({ op: 'check', path, version }),
  /** create creates a node (no makeParents inside a multi). */
  create: (
    path: string,
    data: Data = '',
    options: { mode?: NodeMode; ttlMs?: number } = {},
  ): MultiOp => ({
    op: 'create',
    path,
    data: toBytes(data),
    mode: options.mode ?? 'persistent',
    ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
  }),
  /** set replaces data if the version matches (-1: any). */
  set: (path: string, data: Data, options: { version?: number } = {}): MultiOp => ({
    op: 'set',
    path,
    data: toBytes(data),
    version: options.version ?? -1,
  }),
  /** delete removes a childless node if the version matches (-1: any). */
  delete: (path: string, options: { version?: number } = {}): MultiOp => ({
    op: 'delete',
    path,
    version: options.version ?? -1,
  }),
}
