/**
 * Session ids in ZooKeeper's layout (`SessionTrackerImpl.initializeNextSessionId`):
 *
 *   bits 63..56  the creating server's id (0-255)
 *   bits 55..16  the low 40 bits of the server's start time in ms
 *   bits 15..0   a counter, one per session
 *
 * Ids are handed out by incrementing the low 56 bits, so after 65,536 sessions the
 * counter carries into the time bits. Two servers never collide (different top byte);
 * two runs of one server collide only if the earlier run created 65,536 sessions per
 * millisecond between the two start times, which no real server does. 40 bits of
 * milliseconds wrap every ~35 years, the same horizon ZooKeeper accepts.
 */
import type { SessionId } from '../../protocol/index.js'
import { SessionArgumentError } from './errors.js'

/** SERVER_ID_MAX is the largest server id that fits the session id's top byte. */
export const SERVER_ID_MAX = 255

const LOW_BITS_MASK = (1n << 56n) - 1n
const START_MS_MASK = (1n << 40n) - 1n
const COUNTER_BITS = 16n

/** SessionIdGenerator hands out this server's new session ids. */
export class SessionIdGenerator {
  private readonly serverBits: bigint
  private readonly firstLowBits: bigint
  private issued = 0n

  /**
   * constructor takes the server id (an integer in 0..255, RangeError otherwise) and the
   * server's start time in ms since the Unix epoch (the runtime reads the clock).
   */
  constructor(serverId: number, startMs: number) {
    if (!Number.isInteger(serverId) || serverId < 0 || serverId > SERVER_ID_MAX) {
      throw new SessionArgumentError(
        'BAD_SERVER_ID',
        `server id must be an integer in [0, ${SERVER_ID_MAX}], got ${String(serverId)}`,
      )
    }
    if (!Number.isSafeInteger(startMs) || startMs < 0) {
      throw new SessionArgumentError(
        'BAD_START_MS',
        `startMs must be a non-negative integer, got ${String(startMs)}`,
      )
    }
    this.serverBits = BigInt(serverId) << 56n
    this.firstLowBits = (BigInt(startMs) & START_MS_MASK) << COUNTER_BITS
  }

  /** next returns a session id not returned before by this generator (for 2^56 ids); it is never 0n (0n means "no session"). */
  next(): SessionId {
    for (;;) {
      const id = this.serverBits | ((this.firstLowBits + this.issued) & LOW_BITS_MASK)
      this.issued += 1n
      if (id !== 0n) return id
    }
  }
}

/** serverIdOfSession returns the id of the server that created session `id` (its top byte). */
export function serverIdOfSession(id: SessionId): number {
  return Number((id >> 56n) & 0xffn)
}
