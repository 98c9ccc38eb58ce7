/**
 * Errors raised by the session module for arguments it cannot accept. They extend
 * RangeError so callers that only know the built-in class still catch them, and carry
 * a stable `code` so tests and the runtime can tell the causes apart without parsing
 * messages.
 */

/** SessionArgumentCode names why a session-module argument was refused. */
export type SessionArgumentCode =
  | 'BAD_OPTIONS'
  | 'BAD_TICK'
  | 'BAD_TIMEOUT'
  | 'BAD_RECORD'
  | 'DUPLICATE_SESSION'
  | 'BAD_SERVER_ID'
  | 'BAD_START_MS'

/**
 * SessionArgumentError is a programmer or data error handed to the session module:
 * options out of range, a tick that is not a non-negative integer, a malformed
 * session record. It is never a client-visible result code.
 */
export class SessionArgumentError extends RangeError {
  override readonly name = 'SessionArgumentError'
  /** code is the stable reason for the refusal. */
  readonly code: SessionArgumentCode
  constructor(code: SessionArgumentCode, message: string) {
    super(message)
    this.code = code
  }
}

/** checkTick throws BAD_TICK unless `tick` is a non-negative safe integer. */
export function checkTick(tick: number, what = 'tick'): void {
  if (!Number.isSafeInteger(tick) || tick < 0) {
    throw new SessionArgumentError(
      'BAD_TICK',
      `${what} must be a non-negative integer, got ${String(tick)}`,
    )
  }
}
