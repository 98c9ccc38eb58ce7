/**
 * The admission token: how a member's connection is told from a stranger's before the
 * handshake, on the very first bytes it sends. A dialing member puts it in a header of
 * its WebSocket upgrade request:
 *
 *   x-conclave-peer-admission: <dialerId>.<acceptorId>.<timeMs>.<nonce hex>.<mac hex>
 *   mac = HMAC-SHA256(secret, label, ensembleId, fingerprint, dialerId, acceptorId, timeMs, nonce)
 *
 * The acceptor checks the ids, that timeMs is within TOKEN_WINDOW_MS of its own clock,
 * that the nonce was not seen in that window (no replay), and the MAC in constant time.
 * A valid token only vouches for the connection's slot (peer-admission.ts: it is never
 * displaced by strangers); the full handshake (peer-handshake.ts) still authenticates
 * the link. A missing or invalid token is not refused: the connection is handled as a
 * stranger's until its handshake proves otherwise, so a member with a badly set clock,
 * or of an older version, still links (without the protection).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { LocalIdentity } from './peer-handshake.js'
import type { ServerId } from './peer-members.js'

/** ADMISSION_HEADER is the upgrade request header carrying the token (lower case, as node reports headers). */
export const ADMISSION_HEADER = 'x-conclave-peer-admission'

/** TOKEN_WINDOW_MS is how far a token's time may be from the acceptor's clock: members' clocks must agree this well for the protection. */
export const TOKEN_WINDOW_MS = 60_000

const NONCE_BYTES = 16
const TOKEN_LENGTH_MAX = 200
const TOKEN_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,15})\.([0-9a-f]{32})\.([0-9a-f]{64})$/

function mac(
  secret: Uint8Array,
  local: LocalIdentity,
  dialerId: ServerId,
  acceptorId: ServerId,
  timeMs: number,
  nonceHex: string,
): Buffer {
  const fields = [
    'conclave-peer-admission-v1',
    local.ensembleId,
    Buffer.from(local.fingerprint).toString('hex'),
    dialerId,
    acceptorId,
    timeMs,
    nonceHex,
  ]
  // Every field is length-prefixed, so no two different token bodies give the same bytes.
  return createHmac('sha256', secret)
    .update(fields.map((f) => `${String(f).length}:${String(f)}`).join('|'))
    .digest()
}

/** createAdmissionToken makes the header value a dialer sends to `acceptorId`. */
export function createAdmissionToken(
  secret: Uint8Array,
  local: LocalIdentity,
  acceptorId: ServerId,
  nowMs: number,
): string {
  const nonceHex = randomBytes(NONCE_BYTES).toString('hex')
  const timeMs = Math.floor(nowMs)
  return `${local.selfId}.${acceptorId}.${timeMs}.${nonceHex}.${mac(secret, local, local.selfId, acceptorId, timeMs, nonceHex).toString('hex')}`
}

/** TokenVerdict is a vouched dialer id, or why the token does not vouch (for debug logs; never the token's bytes). */
export type TokenVerdict =
  | { ok: true; dialerId: ServerId }
  | { ok: false; why: 'missing' | 'malformed' | 'wrong ids' | 'stale' | 'replayed' | 'bad mac' }

/**
 * AdmissionTokens verifies tokens on the acceptor and remembers the nonces of valid ones
 * for the window, so a token seen on the wire cannot vouch twice.
 */
export class AdmissionTokens {
  private readonly seen = new Map<string, number>()

  constructor(
    private readonly secret: Uint8Array,
    private readonly local: LocalIdentity,
  ) {}

  /** verify checks a header value (or its absence) at `nowMs`. */
  verify(header: string | string[] | undefined, nowMs: number): TokenVerdict {
    if (header === undefined) return { ok: false, why: 'missing' }
    if (typeof header !== 'string' || header.length > TOKEN_LENGTH_MAX)
      return { ok: false, why: 'malformed' }
    const match = TOKEN_PATTERN.exec(header)
    if (match === null) return { ok: false, why: 'malformed' }
    const [, dialer, acceptor, time, nonceHex, macHex] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
    ]
    const dialerId = Number(dialer)
    const timeMs = Number(time)
    const { selfId, members } = this.local
    if (
      Number(acceptor) !== selfId ||
      dialerId <= selfId ||
      !members.some((m) => m.id === dialerId)
    )
      return { ok: false, why: 'wrong ids' }
    if (Math.abs(nowMs - timeMs) > TOKEN_WINDOW_MS) return { ok: false, why: 'stale' }
    const expected = mac(this.secret, this.local, dialerId, selfId, timeMs, nonceHex)
    if (!timingSafeEqual(expected, Buffer.from(macHex, 'hex'))) return { ok: false, why: 'bad mac' }
    this.forgetBefore(nowMs - 2 * TOKEN_WINDOW_MS)
    if (this.seen.has(nonceHex)) return { ok: false, why: 'replayed' }
    this.seen.set(nonceHex, nowMs)
    return { ok: true, dialerId }
  }

  private forgetBefore(cutoffMs: number): void {
    // Map order is insertion order, which is time order here.
    for (const [nonce, atMs] of this.seen) {
      if (atMs >= cutoffMs) break
      this.seen.delete(nonce)
    }
  }
}
