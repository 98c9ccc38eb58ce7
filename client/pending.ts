/**
 * The xid table: every request from the moment it is issued until it is answered or
 * given up. Requests wait in `unsent` while there is no connection and move to
 * `inFlight` when written. A server answers one session's requests in order, so a
 * reply must match the oldest in-flight request; anything else is a protocol error.
 */
import { WRITE_OPS, type Request, type Result } from '../protocol/index.js'
import type { ConclaveError } from './errors.js'

/** PendingCall is one request and the callbacks that settle it. */
export interface PendingCall {
  readonly xid: number
  readonly request: Request
  /** resolve delivers the reply's result (the one ResultMap gives for `request.op`) and zxid. */
  resolve(result: Result, zxid: bigint): void
  reject(error: ConclaveError): void
  /** sent is set once the request went out on a connection. */
  sent: boolean
  /** abandoned calls were given up (timeout/abort) after being sent; their reply is ignored. */
  abandoned: boolean
}

/** XID_MAX is the largest xid before the counter wraps (xids are positive int32s on the wire). */
const XID_MAX = 0x7fff_ffff

/** ReplyMatch is what an incoming reply's xid means for the table. */
export type ReplyMatch =
  { kind: 'call'; call: PendingCall } | { kind: 'unexpected'; expectedXid: number | undefined }

/** PendingTable allocates xids and tracks unsent and in-flight calls. */
export class PendingTable {
  private nextXid = 1
  /** Calls waiting for a connection, in issue order. */
  private readonly unsent: PendingCall[] = []
  /** Calls written on the current connection, in send order: replies come back in this order. */
  private readonly inFlight: PendingCall[] = []

  /** create makes a call with the next xid; it is not queued yet. */
  create(
    request: Request,
    resolve: PendingCall['resolve'],
    reject: PendingCall['reject'],
  ): PendingCall {
    const xid = this.nextXid
    this.nextXid = xid >= XID_MAX ? 1 : xid + 1
    return { xid, request, resolve, reject, sent: false, abandoned: false }
  }

  /** queue parks a call until the next connection. */
  queue(call: PendingCall): void {
    this.unsent.push(call)
  }

  /** takeUnsent empties the unsent queue, oldest first. */
  takeUnsent(): PendingCall[] {
    return this.unsent.splice(0)
  }

  /** markSent records that a call was written; its reply is expected after every earlier one. */
  markSent(call: PendingCall): void {
    call.sent = true
    this.inFlight.push(call)
  }

  /** matchReply takes the oldest in-flight call if `xid` is its xid. */
  matchReply(xid: number): ReplyMatch {
    const oldest = this.inFlight[0]
    if (oldest === undefined || oldest.xid !== xid)
      return { kind: 'unexpected', expectedXid: oldest?.xid }
    this.inFlight.shift()
    return { kind: 'call', call: oldest }
  }

  /** abandon gives up on a call: an unsent one is dropped, a sent one's reply will be ignored. */
  abandon(call: PendingCall): void {
    const index = this.unsent.indexOf(call)
    if (index >= 0) this.unsent.splice(index, 1)
    else call.abandoned = true
  }

  /** failInFlight rejects every in-flight call (not abandoned ones) with the error `makeError` builds for it. */
  failInFlight(makeError: (call: PendingCall) => ConclaveError): void {
    for (const call of this.inFlight.splice(0)) if (!call.abandoned) call.reject(makeError(call))
  }

  /** failUnsent rejects every call still waiting for a connection. */
  failUnsent(error: ConclaveError): void {
    for (const call of this.unsent.splice(0)) call.reject(error)
  }

  /** inFlightCount is the number of calls written and not answered yet. */
  get inFlightCount(): number {
    return this.inFlight.length
  }

  /** unsentCount is the number of calls waiting for a connection. */
  get unsentCount(): number {
    return this.unsent.length
  }
}

/** isWrite tells whether a request may change state, so that losing it leaves its outcome unknown. */
export function isWrite(request: Request): boolean {
  return WRITE_OPS.has(request.op)
}
