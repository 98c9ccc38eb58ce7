/**
 * Errors of the ZAB core. Three kinds, kept apart on purpose:
 * - AssertionError: an impossible state inside the core, a programmer error. The
 *   server never catches it; a simulator run that hits one has found a bug.
 * - CoreError: a caller broke the API contract in a way that can happen at run time
 *   (proposing while not the leader, advancing a Ready that was not handed out).
 * - ConfigError / RestoreError: bad configuration or a bad restored state, refused
 *   when the Peer is built.
 * Bad input from peers is never an error: the core drops it.
 */

/** AssertionError reports a violated invariant of the core. Never caught by the server. */
export class AssertionError extends Error {
  override readonly name = 'AssertionError'
}

/**
 * assert throws an AssertionError when `condition` is false. `message` says what
 * should have held, so the failure reads as the broken invariant. Asserts on the path
 * of every message or txn pass a function, so the message (zxids formatted, numbers
 * turned to text) is built only when the assertion fails.
 */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new AssertionError(typeof message === 'string' ? message : message())
}

/** CoreErrorCode names a way the core's API can be misused at run time. */
export type CoreErrorCode =
  'NOT_LEADER' | 'ZXID_MISMATCH' | 'COUNTER_EXHAUSTED' | 'READY_OUTSTANDING' | 'READY_MISMATCH'

/** CoreError is a refused API call; `code` is stable for callers to match on. */
export class CoreError extends Error {
  override readonly name = 'CoreError'
  readonly code: CoreErrorCode
  constructor(code: CoreErrorCode, message: string) {
    super(message)
    this.code = code
  }
}

/** ConfigError is an invalid PeerConfig; the message names the field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  readonly code = 'INVALID_CONFIG'
}

/** RestoreError is a restored PersistentState that cannot be right (e.g. unordered log, currentEpoch > acceptedEpoch). */
export class RestoreError extends Error {
  override readonly name = 'RestoreError'
  readonly code = 'INVALID_RESTORED_STATE'
}
