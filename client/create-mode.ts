/**
 * CreateMode names the node modes for `create`, as constants.
 */
import type { NodeMode } from '../protocol/index.js'

/** CreateMode lists the node modes; the string values may be used directly. */
export const CreateMode = {
  PERSISTENT: 'persistent',
  PERSISTENT_SEQUENTIAL: 'persistent-sequential',
  EPHEMERAL: 'ephemeral',
  EPHEMERAL_SEQUENTIAL: 'ephemeral-sequential',
  CONTAINER: 'container',
} as const satisfies Record<string, NodeMode>
