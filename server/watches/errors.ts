/**
 * Errors raised by the watch registry for arguments it cannot accept. They extend
 * RangeError and carry a stable `code`. Requests from the wire are validated by the
 * codec before they get here, so these signal a bug in the caller, not a bad client.
 */

/** WatchArgumentCode names why a watch-registry argument was refused. */
export type WatchArgumentCode = 'BAD_PATH' | 'BAD_WATCHER' | 'BAD_KIND' | 'BAD_CHANGE'

/** WatchArgumentError is an argument the watch registry refused: an invalid path, watcher id, kind or change. */
export class WatchArgumentError extends RangeError {
  override readonly name = 'WatchArgumentError'
  /** code is the stable reason for the refusal. */
  readonly code: WatchArgumentCode
  constructor(code: WatchArgumentCode, message: string) {
    super(message)
    this.code = code
  }
}
