/**
 * LeaderDuties: what an established leader does besides carrying out Readys. It
 * prepares every request the core lists (writes with the TxnBuilder against the
 * pending state, session opens and closes) and proposes the txns in order; on ticks it
 * expires silent sessions by proposing their closeSession and deletes empty
 * containers and expired TTL nodes through ordinary delete txns.
 *
 * A request from a session that is closed, closing or unknown becomes an error txn
 * (SESSION_EXPIRED), so no ephemeral can be created for a session whose close is
 * already prepared. A request that arrives through a member other than the one the
 * session last resumed on becomes an error txn SESSION_MOVED (design.md §6): the old
 * member's in-flight requests must not act after the client moved on.
 *
 * The duties start only once the Ready saying `becameEstablished` has been carried out
 * (every session then gets a fresh timeout and the builder forgets the previous term's
 * prepared state) and stop at `leaderLost`. Pure: time comes in as arguments.
 */
import {
  ErrorCode,
  type ForwardedRequest,
  type ServerId,
  type SessionId,
  type Txn,
  type Zxid,
} from '../../protocol/index.js'
import type { Peer } from '../core/index.js'
import type { TxnBuilder, TxnHeader } from '../requests/index.js'
import type { SessionTable } from '../sessions/index.js'
import type { DataTree } from '../tree/index.js'
import { checkForwardPayload, isPayloadProblem } from './forward-payload.js'

/** LeaderHost is what the duties need from their member; fields may change between calls (restart, SNAP). */
export interface LeaderHost {
  readonly peer: Peer
  readonly sessions: SessionTable
  readonly builder: TxnBuilder
  readonly tree: DataTree
  /** nowMs is the member's clock, stamped on txns. */
  nowMs(): number
  /** localTick is the member's tick count since it booted, the session table's clock. */
  localTick(): number
  /** trace records a decision worth a debug log line. */
  trace(line: string): void
}

/** REAP_BATCH_MAX bounds the reap deletes proposed per sweep, so one sweep never floods the log. */
const REAP_BATCH_MAX = 1000

/** LeaderDuties prepares and proposes on an established leader. */
export class LeaderDuties {
  private active = false
  /** Sessions opened or closed by prepared txns the tree has not applied yet, with the newest such txn's zxid. */
  private readonly preparedSessions = new Map<SessionId, { state: 'open' | 'closed'; zxid: Zxid }>()
  /** The member each session last resumed on (unknown until its first request this term). */
  private readonly owners = new Map<SessionId, ServerId>()

  constructor(private readonly host: LeaderHost) {}

  /** isActive tells whether this member is an established leader carrying out duties. */
  get isActive(): boolean {
    return this.active
  }

  /** start begins a term: fresh session timeouts and a builder with nothing prepared. */
  start(): void {
    this.active = true
    this.preparedSessions.clear()
    this.owners.clear()
    this.host.builder.reset()
    this.host.sessions.refreshAll(this.host.localTick())
  }

  /** stop ends the term (leadership lost). */
  stop(): void {
    this.active = false
    this.preparedSessions.clear()
    this.owners.clear()
  }

  /** onRequests prepares and proposes the requests a Ready listed, in order. */
  onRequests(requests: readonly ForwardedRequest[]): void {
    for (const request of requests) {
      if (!this.active || !this.host.peer.canPropose()) return
      const txn = this.prepare(request)
      if (txn !== undefined) this.host.peer.propose(txn)
    }
  }

  /** onSessionsTouched refreshes sessions that followers heard from. */
  onSessionsTouched(ids: readonly SessionId[]): void {
    if (!this.active) return
    for (const id of ids) this.host.sessions.touch(id, this.host.localTick())
  }

  /** onTick expires silent sessions by proposing their closeSession txns. */
  onTick(): void {
    // expire() marks what it returns as closing, so call it only when the closes can be proposed.
    if (!this.active || !this.host.peer.canPropose()) return
    const expired = this.host.sessions.expire(this.host.localTick())
    for (const sessionId of expired) {
      if (!this.host.peer.canPropose()) return
      if (this.preparedSessions.get(sessionId)?.state === 'closed') continue // the client's own close is on its way
      const txn = this.prepareClose(sessionId, 0)
      this.host.trace(`session 0x${sessionId.toString(16)} expired`)
      this.host.peer.propose(txn)
    }
  }

  /** reap proposes deletes of empty containers and of TTL nodes unchanged for longer than their TTL at `nowMs`. */
  reap(nowMs: number): void {
    if (!this.active) return
    for (const path of this.host.tree.reapable(nowMs, REAP_BATCH_MAX)) {
      if (!this.host.peer.canPropose()) return
      const txn = this.host.builder.prepareReap({ ...this.header(0n, 0), timeMs: nowMs }, path)
      if (txn === null) continue
      this.host.trace(`reaping ${path}`)
      this.host.peer.propose(txn)
    }
  }

  /**
   * onApplied forgets what the session table now shows by itself: a prepared open or
   * close once its txn is applied (unless a newer one is prepared), and the owner of a
   * closed session.
   */
  onApplied(txn: Txn): void {
    const op = txn.op
    if (op.type !== 'createSession' && op.type !== 'closeSession') return
    if (this.preparedSessions.get(op.sessionId)?.zxid === txn.zxid)
      this.preparedSessions.delete(op.sessionId)
    if (op.type === 'closeSession') this.owners.delete(op.sessionId)
  }

  /** prepare turns one forwarded request into its txn, or undefined when it makes none (a claim). */
  private prepare(request: ForwardedRequest): Txn | undefined {
    const header = this.header(request.sessionId, request.xid)
    const payload = checkForwardPayload(request.payload)
    if (isPayloadProblem(payload))
      return { ...header, op: { type: 'error', code: payload.code, reason: payload.reason } }
    const { builder, sessions } = this.host
    if (payload.kind === 'createSession') {
      if (sessions.has(request.sessionId) || this.preparedSessions.has(request.sessionId)) {
        return {
          ...header,
          op: { type: 'error', code: ErrorCode.BAD_ARGUMENTS, reason: 'session id already in use' },
        }
      }
      const timeoutMs = sessions.negotiateTimeoutMs(payload.timeoutMs)
      this.preparedSessions.set(request.sessionId, { state: 'open', zxid: header.zxid })
      this.owners.set(request.sessionId, request.origin)
      return builder.prepareCreateSession(header, {
        sessionId: request.sessionId,
        timeoutMs,
        password: payload.password,
      })
    }
    if (payload.kind === 'claimSession') {
      this.owners.set(request.sessionId, request.origin)
      return undefined
    }
    if (!this.sessionLive(request.sessionId)) {
      return {
        ...header,
        op: {
          type: 'error',
          code: ErrorCode.SESSION_EXPIRED,
          reason: 'session is closed or closing',
        },
      }
    }
    const owner = this.owners.get(request.sessionId)
    if (owner === undefined) this.owners.set(request.sessionId, request.origin)
    else if (owner !== request.origin) {
      return {
        ...header,
        op: {
          type: 'error',
          code: ErrorCode.SESSION_MOVED,
          reason: `session moved to server ${owner}`,
        },
      }
    }
    if (payload.kind === 'closeSession') return this.prepareClose(request.sessionId, request.xid)
    return builder.prepare(payload.request, header, payload.identities)
  }

  /**
   * prepareClose prepares a session's closeSession txn, first proposing the deletes of
   * any ephemerals its close could not carry within the txn limit (created under a
   * larger limit: see TxnBuilder.prepareCloseTrim), so the close itself always fits.
   */
  private prepareClose(sessionId: SessionId, xid: number): Txn {
    const { builder, peer } = this.host
    for (
      let trim = builder.prepareCloseTrim(this.header(0n, 0), sessionId);
      trim !== null;
      trim = builder.prepareCloseTrim(this.header(0n, 0), sessionId)
    ) {
      this.host.trace(
        `session 0x${sessionId.toString(16)} owns more ephemerals than its close can carry: deleting ${trim.op.type === 'multi' ? trim.op.ops.length : 0} first`,
      )
      peer.propose(trim)
    }
    const txn = builder.prepareCloseSession(this.header(sessionId, xid), sessionId)
    this.preparedSessions.set(sessionId, { state: 'closed', zxid: txn.zxid })
    return txn
  }

  /** sessionLive tells whether requests of a session may still change the tree. */
  private sessionLive(sessionId: SessionId): boolean {
    const prepared = this.preparedSessions.get(sessionId)
    if (prepared !== undefined) return prepared.state === 'open'
    return this.host.sessions.has(sessionId) && !this.host.sessions.isClosing(sessionId)
  }

  private header(sessionId: SessionId, xid: number): TxnHeader {
    return { zxid: this.host.peer.nextZxid(), timeMs: this.host.nowMs(), sessionId, xid }
  }
}
