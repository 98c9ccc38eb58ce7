/**
 * LeaderDuties: what the leader's runtime does besides carrying out Readys, as
 * server/runtime will: it prepares every request the core lists (writes with the
 * real TxnBuilder against the pending state, session opens and closes) and proposes
 * the txns in order, and on ticks it expires silent sessions by proposing their
 * closeSession. A request from a session that is closed, closing or unknown becomes
 * an error txn (SESSION_EXPIRED), so no ephemeral can be created for a session whose
 * close is already prepared.
 *
 * The duties start only once the Ready saying `becameEstablished` has been carried
 * out (every session then gets a fresh timeout and the builder forgets the previous
 * term's prepared state) and stop at `leaderLost`.
 */
import { ErrorCode, type ForwardedRequest, type SessionId, type Txn } from '../../protocol/index.js'
import type { Peer } from '../../server/core/index.js'
import type { TxnBuilder, TxnHeader } from '../../server/requests/index.js'
import type { SessionTable } from '../../server/sessions/index.js'
import type { ForwardPayload } from './messages.js'

/** LeaderHost is what the duties need from their server; fields may change between calls (restart, SNAP). */
export interface LeaderHost {
  readonly peer: Peer
  readonly sessions: SessionTable
  readonly builder: TxnBuilder
  /** nowMs is the server's clock, stamped on txns. */
  nowMs(): number
  /** localTick is the server's tick count since it booted, the session table's clock. */
  localTick(): number
  trace(line: string): void
}

/** LeaderDuties prepares and proposes on an established leader. */
export class LeaderDuties {
  private active = false
  /** Sessions opened or closed by prepared txns the tree has not applied yet. */
  private readonly preparedSessions = new Map<SessionId, 'open' | 'closed'>()

  constructor(private readonly host: LeaderHost) {}

  /** isActive tells whether this server is an established leader carrying out duties. */
  get isActive(): boolean {
    return this.active
  }

  /** start begins a term: fresh session timeouts and a builder with nothing prepared. */
  start(): void {
    this.active = true
    this.preparedSessions.clear()
    this.host.builder.reset()
    this.host.sessions.refreshAll(this.host.localTick())
  }

  /** stop ends the term (leadership lost). */
  stop(): void {
    this.active = false
    this.preparedSessions.clear()
  }

  /** onRequests prepares and proposes the requests a Ready listed, in order. */
  onRequests(requests: readonly ForwardedRequest[]): void {
    for (const request of requests) {
      if (!this.active || !this.host.peer.canPropose()) return
      this.host.peer.propose(this.prepare(request))
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
      if (this.preparedSessions.get(sessionId) === 'closed') continue // the client's own close is on its way
      const header = this.header(sessionId, 0)
      this.preparedSessions.set(sessionId, 'closed')
      this.host.trace(`expire session ${sessionId.toString(16)}`)
      this.host.peer.propose(this.host.builder.prepareCloseSession(header, sessionId))
    }
  }

  private prepare(request: ForwardedRequest): Txn {
    const payload = request.payload as ForwardPayload
    const header = this.header(request.sessionId, request.xid)
    const { builder, sessions } = this.host
    if (payload.kind === 'createSession') {
      const timeoutMs = sessions.negotiateTimeoutMs(payload.timeoutMs)
      this.preparedSessions.set(request.sessionId, 'open')
      return builder.prepareCreateSession(header, { sessionId: request.sessionId, timeoutMs, password: payload.password })
    }
    if (!this.sessionLive(request.sessionId)) {
      return { ...header, op: { type: 'error', code: ErrorCode.SESSION_EXPIRED, reason: 'session is closed or closing' } }
    }
    if (payload.kind === 'closeSession') {
      this.preparedSessions.set(request.sessionId, 'closed')
      return builder.prepareCloseSession(header, request.sessionId)
    }
    return builder.prepare(payload.request, header)
  }

  /** sessionLive tells whether requests of a session may still change the tree. */
  private sessionLive(sessionId: SessionId): boolean {
    const prepared = this.preparedSessions.get(sessionId)
    if (prepared !== undefined) return prepared === 'open'
    return this.host.sessions.has(sessionId) && !this.host.sessions.isClosing(sessionId)
  }

  private header(sessionId: SessionId, xid: number): TxnHeader {
    return { zxid: this.host.peer.nextZxid(), timeMs: this.host.nowMs(), sessionId, xid }
  }
}
