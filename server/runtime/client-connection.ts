/**
 * ClientConnection: one client WebSocket and the requests it has in flight.
 *
 * Per-session FIFO lives here: every request joins `queue` in arrival order and is
 * answered only when it reaches the head and is ready. Reads are ready at once; a
 * write is ready when its txn has been applied here; a sync (or linearizable read) once
 * the leader confirmed a read index and this member has applied up to it. Writes are
 * forwarded as they arrive, not when they reach the head, so a session can pipeline.
 */
import type { Request, RequestOp, SessionId, Zxid } from '../../protocol/index.js'
import type { AuthId } from '../requests/index.js'
import type { ClientSocket } from '../net/client-listener.js'
import type { TimerHandle } from './clock.js'
import type { Reply } from '../requests/reads.js'

export type { Reply }

/** QueuedRequest is one request waiting for its turn to be answered. */
export type QueuedRequest =
  /** A read, answered from the tree when it reaches the head. */
  | { kind: 'read'; xid: number; request: Request }
  /** A write (or session close), forwarded unless `held`; `reply` is filled when its txn is applied here (or it is refused). */
  | {
      kind: 'write'
      xid: number
      request: Request
      reply?: Reply
      replyZxid?: Zxid
      held?: true
      frameBytes: number
    }
  /** A sync or linearizable read: ready once the read index `zxid` is known and applied. */
  | { kind: 'barrier'; xid: number; request: Request; zxid: Zxid | undefined; failed?: true }
  /** A request answered with a fixed reply in its turn (refused on arrival); `op` unless it was malformed. */
  | { kind: 'answered'; xid: number; reply: Reply; op?: RequestOp }

/** ConnectionPhase: waiting for connect, waiting for the session to be created, open, or closing. */
export type ConnectionPhase = 'handshake' | 'creating-session' | 'open' | 'closing'

/** ClientConnection holds one connection's session binding and request queue. */
export class ClientConnection {
  phase: ConnectionPhase = 'handshake'
  sessionId: SessionId = 0n
  /** Requests not yet answered, oldest first; `head` indexes the oldest. */
  private readonly queue: QueuedRequest[] = []
  /** When each request in `queue` was received (the clock's monotonic ms), at the same index: for the latency metric. */
  private readonly receivedMs: number[] = []
  private head = 0
  /** paused: the socket is not being read (too many requests in flight, or output blocked). */
  paused = false
  /** outputBlocked: more than the soft mark is queued for the client; its reads wait until it drains. */
  outputBlocked = false
  /** pumpDeferred: the pump yielded the event loop and goes on in the next turn. */
  pumpDeferred = false
  /**
   * turnScannedChanges is how many change-window entries this connection's requests
   * scanned in the current event-loop turn (replays and setWatches catch-ups); the front
   * resets it at the next turn.
   */
  turnScannedChanges = 0
  /** heldWrites counts writes queued but not yet forwarded: they wait for the reads ahead of them. */
  heldWrites = 0
  /** writeBytesInFlight is the frame bytes of this connection's writes queued and not yet applied here (or refused). */
  writeBytesInFlight = 0
  /** stallTimer closes the connection if its output stays blocked too long. */
  stallTimer: TimerHandle | undefined
  /**
   * identities are what the ACLs are checked against (ZooKeeper's authInfo): the peer's
   * address as `ip`, the verified client certificate's CN as `x509` (a TLS client port
   * with clientCertAuth), plus each identity added with an auth request.
   */
  readonly identities: AuthId[]

  constructor(
    readonly socket: ClientSocket,
    private readonly monotonicMs: () => number,
  ) {
    this.identities = [{ scheme: 'ip', id: socket.remoteAddress }]
    const commonName = socket.certificate?.commonName
    if (commonName !== undefined && commonName !== '')
      this.identities.push({ scheme: 'x509', id: commonName })
  }

  /** id is the connection id, also the watcher id for the watch registry. */
  get id(): number {
    return this.socket.id
  }

  /** pendingCount is the number of requests not yet answered. */
  get pendingCount(): number {
    return this.queue.length - this.head
  }

  /** enqueue appends a request in arrival order (it is called as the request arrives). */
  enqueue(entry: QueuedRequest): void {
    this.queue.push(entry)
    this.receivedMs.push(this.monotonicMs())
  }

  /** peek returns the oldest unanswered request. */
  peek(): QueuedRequest | undefined {
    return this.queue[this.head]
  }

  /** shift removes the oldest unanswered request and returns when it was received (monotonic ms). */
  shift(): number {
    const receivedMs = this.receivedMs[this.head]!
    this.head++
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head)
      this.receivedMs.splice(0, this.head)
      this.head = 0
    }
    return receivedMs
  }
}
