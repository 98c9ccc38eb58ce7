/**
 * ServerList: which servers the connection loop tries in each round, in what order, and
 * how long each gets to answer the handshake. A member that is stopped or black-holed
 * still completes TCP connects (the kernel answers) but never answers the handshake, so
 * without care every round through the list would spend a whole handshake timeout on it
 * while the ensemble may already have a new leader elsewhere. So:
 *
 * - A server gets a few times the slowest handshake answer this client has seen (at
 *   least `minHandshakeTimeoutMs`, at most `firstHandshakeTimeoutMs`; the latter before
 *   any answer was seen). On a LAN that is `minHandshakeTimeoutMs`; on a long link it
 *   grows with the link, so live servers are not timed out on every reconnect.
 * - Each handshake a server lets time out doubles its next one, up to
 *   `handshakeTimeoutMs`: a slow but live server is reached after a round or two.
 * - A server whose handshake timed out, or whose connection was given up for not
 *   answering pings, is a suspect for `serverSuspectMs`: rounds leave it out while any
 *   other server is left to try. When every server is a suspect, all are tried.
 * - An end after the server answered (accepted, then closed; or refused) clears both
 *   marks. Other ends (the socket did not open, the client closed it) leave them.
 */
import type { Clock } from './clock.js'
import { LocalClose, shuffled, type ConnectionEnd } from './connection.js'

/** ServerListOptions configure the list (a subset of the engine's options). */
export interface ServerListOptions {
  servers: string[]
  /** minHandshakeTimeoutMs is the least time a server gets to answer the handshake. */
  minHandshakeTimeoutMs: number
  /** firstHandshakeTimeoutMs is a server's time to answer before the client has seen any answer, and the most it gets while it has not timed out. */
  firstHandshakeTimeoutMs: number
  /** handshakeTimeoutMs bounds a server's time to answer after repeated timeouts. */
  handshakeTimeoutMs: number
  /** serverSuspectMs is how long a server that timed out is left out of rounds while others remain. */
  serverSuspectMs: number
  clock: Clock
}

/** HANDSHAKE_SLACK is how many times the slowest answer seen a server gets before its handshake times out. */
const HANDSHAKE_SLACK = 4

interface ServerMarks {
  /** handshakeTimeouts counts handshakes in a row that this server let time out. */
  handshakeTimeouts: number
  /** suspectUntilMs is when the server may be tried again in any round. */
  suspectUntilMs: number
}

/** ServerList orders the servers for the connection loop; feed it every connection's end. */
export class ServerList {
  private readonly marks = new Map<string, ServerMarks>()
  /** slowestAnswerMs is the longest any server took to answer a handshake, if one has. */
  private slowestAnswerMs: number | undefined

  constructor(private readonly options: ServerListOptions) {}

  /** round is the servers to try next, in random order; suspects are left out unless all are suspects. */
  round(): string[] {
    const nowMs = this.options.clock.nowMs()
    const all = shuffled(this.options.servers)
    const trusted = all.filter((url) => (this.marks.get(url)?.suspectUntilMs ?? 0) <= nowMs)
    return trusted.length > 0 ? trusted : all
  }

  /** handshakeTimeoutMs is the time `url` gets to answer on its next attempt. */
  handshakeTimeoutMs(url: string): number {
    const { minHandshakeTimeoutMs: minMs, firstHandshakeTimeoutMs: firstMs } = this.options
    const baseMs =
      this.slowestAnswerMs === undefined
        ? firstMs
        : Math.min(firstMs, Math.max(minMs, HANDSHAKE_SLACK * this.slowestAnswerMs))
    const timeouts = this.marks.get(url)?.handshakeTimeouts ?? 0
    return Math.min(this.options.handshakeTimeoutMs, baseMs * 2 ** Math.min(timeouts, 20))
  }

  /** onEnd records how a connection to `url` ended. */
  onEnd(url: string, end: ConnectionEnd): void {
    if (end.answeredAfterMs !== undefined)
      this.slowestAnswerMs = Math.max(this.slowestAnswerMs ?? 0, end.answeredAfterMs)
    if (!(end.local && end.code === LocalClose.TIMEOUT)) {
      if (end.answeredAfterMs !== undefined) this.marks.delete(url)
      return
    }
    const marks = this.marks.get(url) ?? { handshakeTimeouts: 0, suspectUntilMs: 0 }
    marks.suspectUntilMs = this.options.clock.nowMs() + this.options.serverSuspectMs
    // A connection given up after its handshake proves the handshake was quick enough.
    marks.handshakeTimeouts = end.wasConnected ? 0 : marks.handshakeTimeouts + 1
    this.marks.set(url, marks)
  }
}
