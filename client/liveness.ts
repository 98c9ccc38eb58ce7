/**
 * Liveness rules of one connection, kept apart from sockets and timers so they can be
 * read (and tested) as rules over times. The connection reports what it sends and
 * receives; `check` says whether to ping, whether the server is to be given up on, and
 * when to look again.
 *
 * - Keepalive: a client that has sent nothing for a third of the session timeout pings,
 *   so the server hears from the session well before it would expire it.
 * - Probe: while a call waits for its reply, a client that has received nothing for
 *   `pingIntervalMs` pings, even if it keeps sending. A server that keeps sending data
 *   is never probed; one stopped (SIGSTOP, a frozen VM, a black-holed host) is.
 * - Deadline: a ping that gets nothing at all back within `pingTimeoutMs` ends the
 *   connection, and the session moves to another member. Any frame counts as an answer:
 *   a pong, a reply or an event all show the server is running.
 * - Backstop: nothing received for two thirds of the session timeout ends it too
 *   (ZooKeeper's client rule), so the last third is left for reaching another member.
 *
 * Why probe only while a call waits: an idle client then costs the server no more pings
 * than the keepalive (one per third of the session timeout), and still notices a stalled
 * member within a third of the timeout plus the deadline; a client that is waiting for an
 * answer, which is where a stall hurts, notices it within `pingIntervalMs` plus the
 * deadline (1.5 s with the defaults).
 */

/** LivenessOptions are the user's overrides (ConnectOptions); unset ones follow the session timeout. */
export interface LivenessOptions {
  pingIntervalMs?: number
  pingTimeoutMs?: number
}

/** LivenessSettings are the rules' durations for one negotiated session timeout. */
export interface LivenessSettings {
  /** keepaliveMs is how long the client may send nothing before it pings. */
  keepaliveMs: number
  /** pingIntervalMs is how long a waiting call may see nothing received before the client pings. */
  pingIntervalMs: number
  /** pingTimeoutMs is how long a ping may go without anything received before the connection is given up. */
  pingTimeoutMs: number
  /** silentMaxMs gives the connection up after this long without receiving anything, whatever else holds. */
  silentMaxMs: number
}

/** PING_INTERVAL_MAX_MS caps the default pingIntervalMs (a third of the session timeout below 1.5 s). */
const PING_INTERVAL_MAX_MS = 500
/**
 * PING_TIMEOUT_MAX_MS caps the default pingTimeoutMs (a third of the session timeout
 * below 3 s). A server whose event loop stalls this long has also dropped out of its
 * ensemble's quorum with the server defaults (leader timeout 1 s), so a live member is
 * not given up on for a pause its own ensemble would tolerate.
 */
const PING_TIMEOUT_MAX_MS = 1000

/** livenessSettings derives the rules' durations from the negotiated session timeout and the user's overrides. */
export function livenessSettings(
  sessionTimeoutMs: number,
  options: LivenessOptions = {},
): LivenessSettings {
  const silentMaxMs = (sessionTimeoutMs * 2) / 3
  return {
    keepaliveMs: sessionTimeoutMs / 3,
    pingIntervalMs: options.pingIntervalMs ?? Math.min(sessionTimeoutMs / 3, PING_INTERVAL_MAX_MS),
    // Past two thirds of the timeout the backstop rules anyway.
    pingTimeoutMs: Math.min(
      silentMaxMs,
      options.pingTimeoutMs ?? Math.min(sessionTimeoutMs / 3, PING_TIMEOUT_MAX_MS),
    ),
    silentMaxMs,
  }
}

/** LivenessVerdict is what a check asks of the connection. */
export type LivenessVerdict =
  { action: 'none' | 'ping'; nextCheckAtMs: number } | { action: 'dead'; reason: string }

/** Liveness tracks one connection's traffic against the rules. */
export class Liveness {
  private lastSentMs: number
  private lastReceivedMs: number
  /** outstanding counts requests sent and not yet answered (replies come in request order, one each). */
  private outstanding = 0
  /** waitingSinceMs is when `outstanding` last went from 0 to 1. */
  private waitingSinceMs = 0
  /** pingSentMs is when the unanswered ping went out, if one has. */
  private pingSentMs: number | undefined

  /** The rules start at `nowMs`, when the handshake was accepted: the connection has just been heard. */
  constructor(
    readonly settings: LivenessSettings,
    nowMs: number,
  ) {
    this.lastSentMs = nowMs
    this.lastReceivedMs = nowMs
  }

  /** onSent records a frame sent; `request` tells whether it expects a reply. */
  onSent(nowMs: number, request: boolean): void {
    this.lastSentMs = nowMs
    if (!request) return
    if (this.outstanding === 0) this.waitingSinceMs = nowMs
    this.outstanding++
  }

  /** onReceived records a frame received; `reply` tells whether it answers a request. */
  onReceived(nowMs: number, reply: boolean): void {
    this.lastReceivedMs = nowMs
    this.pingSentMs = undefined
    if (reply && this.outstanding > 0) this.outstanding--
  }

  /** probeDueMs is when a waiting call makes a ping due, if a call is waiting. */
  private probeDueMs(): number {
    if (this.outstanding === 0) return Number.POSITIVE_INFINITY
    return Math.max(this.lastReceivedMs, this.waitingSinceMs) + this.settings.pingIntervalMs
  }

  /**
   * check applies the rules at `nowMs`. A 'ping' verdict counts the ping as sent (the
   * caller sends it and reports it with onSent too); `nextCheckAtMs` is `dueMs()` after it.
   */
  check(nowMs: number): LivenessVerdict {
    const { pingTimeoutMs, silentMaxMs, keepaliveMs } = this.settings
    if (this.pingSentMs !== undefined && nowMs - this.pingSentMs >= pingTimeoutMs)
      return { action: 'dead', reason: `no answer to a ping within ${pingTimeoutMs} ms` }
    if (nowMs - this.lastReceivedMs >= silentMaxMs)
      return { action: 'dead', reason: `nothing received for ${Math.round(silentMaxMs)} ms` }
    let action: 'none' | 'ping' = 'none'
    if (
      this.pingSentMs === undefined &&
      nowMs >= Math.min(this.lastSentMs + keepaliveMs, this.probeDueMs())
    ) {
      action = 'ping'
      this.pingSentMs = nowMs
      this.lastSentMs = nowMs
    }
    return { action, nextCheckAtMs: this.dueMs() }
  }

  /**
   * dueMs is the earliest time a rule can fire, given the traffic so far: the unanswered
   * ping's deadline, or else the next ping (keepalive or probe); and the backstop.
   */
  dueMs(): number {
    const { pingTimeoutMs, silentMaxMs, keepaliveMs } = this.settings
    const pingDueMs =
      this.pingSentMs !== undefined
        ? this.pingSentMs + pingTimeoutMs
        : Math.min(this.lastSentMs + keepaliveMs, this.probeDueMs())
    return Math.min(pingDueMs, this.lastReceivedMs + silentMaxMs)
  }
}
