/**
 * ClientFrontEnd: the part of a simulated server's runtime that faces clients. It
 * does what server/runtime does for an ensemble member: accepts connects (opening a
 * session through the leader, or resuming one after checking it is live and the
 * client has not seen a newer zxid), forwards writes and session closes, starts
 * linearizable reads and syncs through the core's read index, answers plain reads
 * from the local tree, and answers each write when its txn is applied here.
 *
 * Per-session FIFO (design.md §1.2) is kept with one queue per connection: a reply is
 * released only when every earlier request of that connection has been answered, and
 * a read is computed only when it reaches the head of the queue, so it sees the
 * session's earlier writes and none of its later ones.
 */
import {
  ErrorCode,
  type Request,
  type ServerId,
  type SessionId,
  type Txn,
  type Zxid,
} from '../../protocol/index.js'
import type { Peer } from '../../server/core/index.js'
import { answerRead, replyForWrite, type Reply } from '../../server/requests/index.js'
import type { SessionTable } from '../../server/sessions/index.js'
import type { ApplyResult, DataTree } from '../../server/tree/index.js'
import type { ForwardPayload } from '../../server/member/index.js'
import type { ToClient, ToServer } from './messages.js'

/** FrontEndHost is what the front end needs from its server. */
export interface FrontEndHost {
  readonly id: ServerId
  readonly peer: Peer
  readonly tree: DataTree
  readonly sessions: SessionTable
  /** serving tells whether this server may answer clients (an established leader or a follower that got UPTODATE). */
  serving(): boolean
  sendClient(connId: number, message: ToClient): void
  /** touch records client activity on a session (the leader refreshes it, a follower tells the leader). */
  touch(sessionId: SessionId): void
  newSession(): { sessionId: SessionId; password: Uint8Array }
}

/**
 * FrontEndFault plants a deliberate bug in the simulated runtime (not in the core),
 * to prove that the history checkers are wired in and can fail:
 * - `linearizable-read-is-local`: linearizable reads and syncs skip the read index
 *   and answer from the local tree, like ZooKeeper's plain `sync` semantics done wrong;
 * - `connect-ignores-zxid`: a server accepts a session whose client has seen a newer
 *   zxid than the server applied, so the session can see time go back.
 */
export type FrontEndFault = 'linearizable-read-is-local' | 'connect-ignores-zxid'

/** FRONT_END_FAULTS lists every FrontEndFault. */
export const FRONT_END_FAULTS: readonly FrontEndFault[] = [
  'linearizable-read-is-local',
  'connect-ignores-zxid',
]

/** ReadToken identifies a linearizable read or sync in the core's read index. */
interface ReadToken {
  readonly connId: number
  readonly xid: number
}

interface QueuedRequest {
  readonly xid: number
  readonly request: Request
  reply: { reply: Reply; zxid: Zxid } | undefined
  /** readZxid is set once the core confirmed a linearizable read: answer when applied. */
  readZxid: Zxid | undefined
}

interface Connection {
  readonly connId: number
  sessionId: SessionId | undefined
  /** pendingSession is the session being opened for this connection. */
  pendingSession: SessionId | undefined
  readonly queue: QueuedRequest[]
}

/** ClientFrontEnd serves the clients connected to one simulated server. */
export class ClientFrontEnd {
  private readonly conns = new Map<number, Connection>()
  private readonly pendingWrites = new Map<string, { conn: Connection; entry: QueuedRequest }>()
  private readonly pendingConnects = new Map<SessionId, Connection>()

  constructor(
    private readonly host: FrontEndHost,
    private readonly fault: FrontEndFault | undefined = undefined,
  ) {}

  /** connectionCount is the number of open client connections. */
  get connectionCount(): number {
    return this.conns.size
  }

  /** onMessage handles one message from a client connection. */
  onMessage(connId: number, message: ToServer): void {
    if (message.type === 'connect')
      return this.onConnect(
        connId,
        message.sessionId,
        message.password,
        message.lastZxidSeen,
        message.timeoutMs,
      )
    const conn = this.conns.get(connId)
    if (conn === undefined) return // the connection was closed; the client will learn it
    if (message.type === 'disconnect') {
      this.forget(conn)
      return
    }
    if (conn.sessionId === undefined)
      return this.close(conn, ErrorCode.BAD_ARGUMENTS, 'request before the session was open')
    this.host.touch(conn.sessionId)
    if (message.type === 'ping') {
      this.host.sendClient(connId, { type: 'pong', zxid: this.host.tree.appliedZxid })
      return
    }
    this.onRequest(conn, conn.sessionId, message.xid, message.request)
  }

  private onConnect(
    connId: number,
    sessionId: SessionId,
    password: Uint8Array,
    lastZxidSeen: Zxid,
    timeoutMs: number,
  ): void {
    const refuse = (code: number, why: string) =>
      this.host.sendClient(connId, { type: 'connectRefused', code, message: why })
    if (this.conns.has(connId)) return refuse(ErrorCode.BAD_ARGUMENTS, 'connect twice')
    if (!this.host.serving())
      return refuse(ErrorCode.NOT_SERVING, `server ${this.host.id} is not serving`)
    if (lastZxidSeen > this.host.tree.appliedZxid && this.fault !== 'connect-ignores-zxid')
      return refuse(ErrorCode.ZXID_AHEAD, 'client has seen a newer zxid')
    const conn: Connection = { connId, sessionId: undefined, pendingSession: undefined, queue: [] }
    if (sessionId === 0n) {
      const fresh = this.host.newSession()
      const payload: ForwardPayload = { kind: 'createSession', timeoutMs, password: fresh.password }
      if (
        !this.host.peer.forward({
          origin: this.host.id,
          sessionId: fresh.sessionId,
          xid: 0,
          payload,
        })
      ) {
        return refuse(ErrorCode.NOT_SERVING, 'no leader to open a session')
      }
      conn.pendingSession = fresh.sessionId
      this.conns.set(connId, conn)
      this.pendingConnects.set(fresh.sessionId, conn)
      return
    }
    const record = this.host.sessions.get(sessionId)
    if (record === undefined) return refuse(ErrorCode.SESSION_EXPIRED, 'session expired')
    if (!this.host.sessions.passwordMatches(sessionId, password))
      return refuse(ErrorCode.AUTH_FAILED, 'wrong password')
    // Like the real front end: the leader learns this server now owns the session.
    if (
      !this.host.peer.forward({
        origin: this.host.id,
        sessionId,
        xid: 0,
        payload: { kind: 'claimSession' } satisfies ForwardPayload,
      })
    ) {
      return refuse(ErrorCode.NOT_SERVING, 'no leader to resume the session')
    }
    conn.sessionId = sessionId
    this.conns.set(connId, conn)
    this.host.touch(sessionId)
    this.host.sendClient(connId, {
      type: 'connected',
      sessionId,
      password,
      timeoutMs: record.timeoutMs,
      serverId: this.host.id,
      zxid: this.host.tree.appliedZxid,
      readOnly: false,
    })
  }

  private onRequest(conn: Connection, sessionId: SessionId, xid: number, request: Request): void {
    const entry: QueuedRequest = { xid, request, reply: undefined, readZxid: undefined }
    conn.queue.push(entry)
    const notServing = () =>
      (entry.reply = {
        reply: { err: ErrorCode.NOT_SERVING, message: 'not serving' },
        zxid: this.host.tree.appliedZxid,
      })
    if (!this.host.serving()) notServing()
    else if (
      request.op === 'create' ||
      request.op === 'set' ||
      request.op === 'delete' ||
      request.op === 'multi' ||
      request.op === 'closeSession'
    ) {
      const payload: ForwardPayload =
        request.op === 'closeSession'
          ? { kind: 'closeSession' }
          : { kind: 'write', request, identities: [] }
      if (this.host.peer.forward({ origin: this.host.id, sessionId, xid, payload }))
        this.pendingWrites.set(requestKey(sessionId, xid), { conn, entry })
      else notServing()
    } else if ((request.op === 'get' && request.linearizable === true) || request.op === 'sync') {
      const token: ReadToken = { connId: conn.connId, xid }
      if (this.fault === 'linearizable-read-is-local') entry.readZxid = 0n
      else if (!this.host.peer.readIndex(token)) notServing()
    }
    this.flush(conn)
  }

  /** onApplied answers what txn `txn` settles on this server: a write, a session opened, a session ended. */
  onApplied(txn: Txn, result: ApplyResult): void {
    const op = txn.op
    if (op.type === 'createSession') {
      const conn = this.pendingConnects.get(op.sessionId)
      if (conn !== undefined) {
        this.pendingConnects.delete(op.sessionId)
        conn.pendingSession = undefined
        conn.sessionId = op.sessionId
        this.host.sendClient(conn.connId, {
          type: 'connected',
          sessionId: op.sessionId,
          password: op.password,
          timeoutMs: op.timeoutMs,
          serverId: this.host.id,
          zxid: txn.zxid,
          readOnly: false,
        })
      }
      return
    }
    const key = requestKey(txn.sessionId, txn.xid)
    const pending = this.pendingWrites.get(key)
    if (pending !== undefined) {
      this.pendingWrites.delete(key)
      pending.entry.reply = {
        reply: replyForWrite(pending.entry.request, txn, result),
        zxid: txn.zxid,
      }
      this.flush(pending.conn)
    }
    if (op.type === 'closeSession') {
      for (const conn of this.conns.values()) {
        if (conn.sessionId === op.sessionId)
          this.close(conn, ErrorCode.SESSION_EXPIRED, 'session closed')
      }
    }
  }

  /** onReadReady records that a linearizable read may be answered once `zxid` is applied. */
  onReadReady(token: unknown, zxid: Zxid): void {
    const entry = this.findRead(token)
    if (entry === undefined) return
    entry.entry.readZxid = zxid
    this.flush(entry.conn)
  }

  /** onReadFailed answers a linearizable read the core could not confirm. */
  onReadFailed(token: unknown): void {
    const entry = this.findRead(token)
    if (entry === undefined) return
    entry.entry.reply = {
      reply: { err: ErrorCode.NOT_SERVING, message: 'read index failed' },
      zxid: this.host.tree.appliedZxid,
    }
    this.flush(entry.conn)
  }

  /** flushAll releases every answer that became possible (after applying txns). */
  flushAll(): void {
    for (const conn of this.conns.values()) this.flush(conn)
  }

  /** closeAll closes every connection: the server lost its leader, or is going down. */
  closeAll(code: number, reason: string): void {
    for (const conn of [...this.conns.values()]) this.close(conn, code, reason)
  }

  private findRead(token: unknown): { conn: Connection; entry: QueuedRequest } | undefined {
    const t = token as ReadToken
    const conn = this.conns.get(t.connId)
    const entry = conn?.queue.find((e) => e.xid === t.xid)
    return conn === undefined || entry === undefined ? undefined : { conn, entry }
  }

  /** flush sends answers from the head of the queue while the head can be answered. */
  private flush(conn: Connection): void {
    const tree = this.host.tree
    while (this.conns.get(conn.connId) === conn) {
      const head = conn.queue[0]
      if (head === undefined) return
      if (head.reply === undefined) {
        const op = head.request.op
        const linearizable = (op === 'get' && head.request.linearizable === true) || op === 'sync'
        if (linearizable && (head.readZxid === undefined || tree.appliedZxid < head.readZxid))
          return
        if (op === 'sync')
          head.reply = { reply: { err: ErrorCode.OK, result: {} }, zxid: tree.appliedZxid }
        else if (op === 'get' || op === 'exists')
          head.reply = {
            reply: answerRead(tree, head.request, conn.sessionId ?? 0n),
            zxid: tree.appliedZxid,
          }
        else return // a write waits for its txn
      }
      conn.queue.shift()
      const { reply, zxid } = head.reply
      this.host.sendClient(conn.connId, {
        type: 'reply',
        xid: head.xid,
        zxid,
        err: reply.err,
        ...(reply.result === undefined ? {} : { result: reply.result }),
        ...(reply.message === undefined ? {} : { message: reply.message }),
      })
      if (head.request.op === 'closeSession' && reply.err === ErrorCode.OK)
        this.close(conn, ErrorCode.SESSION_EXPIRED, 'session closed')
    }
  }

  private close(conn: Connection, code: number, reason: string): void {
    if (this.forget(conn)) this.host.sendClient(conn.connId, { type: 'closed', code, reason })
  }

  /** forget drops a connection and what it waited for; returns false if it was already gone. */
  private forget(conn: Connection): boolean {
    if (this.conns.get(conn.connId) !== conn) return false
    this.conns.delete(conn.connId)
    for (const entry of conn.queue)
      if (conn.sessionId !== undefined)
        this.pendingWrites.delete(requestKey(conn.sessionId, entry.xid))
    if (conn.pendingSession !== undefined) this.pendingConnects.delete(conn.pendingSession)
    return true
  }
}

function requestKey(sessionId: SessionId, xid: number): string {
  return `${sessionId}:${xid}`
}
