/**
 * Errors of the recipes. Failures of the calls a recipe makes surface as the SDK's own
 * ConclaveError subclasses (AbortedError, ClientClosedError, BadArgumentsError, ...);
 * this module adds what only a recipe can say: that something a caller owned (a
 * leadership, a lock, a membership) has ended, and why.
 */

/**
 * LeaseEndReason says why an owned thing ended:
 * - `released`: the owner released or resigned it;
 * - `suspended`: the connection dropped and the recipe's policy treats that as loss
 *   (the session may still live, so the node is deleted once the client reconnects);
 * - `lost`: the session expired, so the server deleted the node;
 * - `deleted`: someone else deleted the node;
 * - `closed`: the client was closed.
 */
export type LeaseEndReason = 'released' | 'suspended' | 'lost' | 'deleted' | 'closed'

/** LeaseEndedError is the `reason` of an owned thing's AbortSignal once it has ended. */
export class LeaseEndedError extends Error {
  override name = 'LeaseEndedError'
  /** code is stable: 'LEASE_ENDED'. */
  readonly code = 'LEASE_ENDED'
  /** reason says what ended it. */
  readonly reason: LeaseEndReason
  /** path is the node that stood for the ownership. */
  readonly path: string

  constructor(reason: LeaseEndReason, path: string) {
    super(`${path}: ended (${reason})`)
    this.reason = reason
    this.path = path
  }
}
