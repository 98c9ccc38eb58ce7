/**
 * The options of PeerLinks.start, their defaults, and their validation: a bad option
 * is a PeerLinksError (INVALID_OPTIONS) naming it, never a late surprise on the wire.
 */
import type { TlsMaterial } from './tls-material.js'
import type { Logger } from 'pino'
import { DEFAULT_BACKOFF, type BackoffPolicy } from './peer-backoff.js'
import { PeerLinksError } from './peer-errors.js'
import { ENSEMBLE_ID_LENGTH_MAX, HANDSHAKE_FRAME_BYTES_MAX } from './peer-handshake.js'
import type { PeerMember, ServerId } from './peer-members.js'

/** DialAddress is where to dial a member: host and TCP port. */
export interface DialAddress {
  host: string
  port: number
}

/** PeerLinksOptions configure the peer port. Times are in ms, sizes in bytes. */
export interface PeerLinksOptions {
  /** selfId is this member's id; it must be in `members`. */
  selfId: ServerId
  /** host and peerPort are where to listen (peerPort 0 picks a free port; see `port`). */
  host: string
  peerPort: number
  /** members is the whole ensemble, this member included, as every member's config lists it. */
  members: readonly PeerMember[]
  /** secret is the ensemble's shared secret (see readSecretFile); it is never logged or sent. */
  secret: Uint8Array
  /** ensembleId optionally names the ensemble; members with different ids refuse each other. Default ''. */
  ensembleId?: string
  /** frameBytesMax is the largest frame sent or accepted (at least 128 KiB); a single message must fit in one. */
  frameBytesMax: number
  logger: Logger
  /**
   * handshakeTimeoutMs bounds a handshake: for an accepted connection from the TCP
   * accept to authentication (a silent or trickling stranger is cut then); a dial gets
   * twice this from its start, as it may first wait in the acceptor's accept queue.
   * Default 1500 (a member's takes a few ms on a LAN).
   */
  handshakeTimeoutMs?: number
  /** keepAliveMs: ping every this often, close a link silent for a whole interval; 0 disables. Default 1000. */
  keepAliveMs?: number
  /** sendQueueBytesMax bounds the messages waiting for one peer; past it the link is closed. Default 16 frames. */
  sendQueueBytesMax?: number
  /** handshakesPerAddressMax bounds unauthenticated inbound connections from one non-member address. Default 8. */
  handshakesPerAddressMax?: number
  /** memberHandshakesPerAddressMax bounds them from one member address (a host or dial address of another member). Default 64. */
  memberHandshakesPerAddressMax?: number
  /**
   * strangerHandshakesMax bounds them from all non-member addresses together. Past a
   * bound, a newcomer displaces the oldest connection that sent no hello, or gets HTTP
   * 503 (peer-admission.ts). Default 32.
   */
  strangerHandshakesMax?: number
  /** backoff sets the re-dial delays. Default 50 ms doubling to a 1000 ms cap. */
  backoff?: BackoffPolicy
  /** random feeds the re-dial jitter; default Math.random. */
  random?: () => number
  /**
   * dialAddress maps a member to the address actually dialed; default its host and
   * peerPort. For NAT or port mapping, and for tests that put a fault proxy on a link
   * (the member list, and so the fingerprint, keeps the advertised address).
   */
  dialAddress?: (member: PeerMember) => DialAddress
  /**
   * tls, when set, makes links TLS: each side presents its certificate and verifies the
   * other's against the CA (a connection without a valid certificate never reaches the
   * HMAC handshake, which still runs inside TLS). Reloads apply to new links.
   */
  tls?: TlsMaterial
}

/** DEFAULT_HANDSHAKE_LIMITS are the defaults of the handshake deadline and slot bounds (config.ts uses them too). */
export const DEFAULT_HANDSHAKE_LIMITS = {
  handshakeTimeoutMs: 1500,
  handshakesPerAddressMax: 8,
  memberHandshakesPerAddressMax: 64,
  strangerHandshakesMax: 32,
} as const

/** PeerLinksSettings are the tunables of PeerLinksOptions with every default filled in. */
export interface PeerLinksSettings {
  handshakeTimeoutMs: number
  keepAliveMs: number
  frameBytesMax: number
  sendQueueBytesMax: number
  handshakesPerAddressMax: number
  memberHandshakesPerAddressMax: number
  strangerHandshakesMax: number
  backoff: BackoffPolicy
  random: () => number
  dialAddress: (member: PeerMember) => DialAddress
}

/** resolvePeerLinksOptions checks the tunables and fills in defaults; it throws INVALID_OPTIONS naming the bad one. */
export function resolvePeerLinksOptions(options: PeerLinksOptions): PeerLinksSettings {
  const invalid = (message: string) => new PeerLinksError('INVALID_OPTIONS', message)
  const positive = (name: string, value: number | undefined, fallback: number, min = 1): number => {
    const v = value ?? fallback
    if (!Number.isInteger(v) || v < min)
      throw invalid(`${name} must be an integer of at least ${min}, got ${String(value)}`)
    return v
  }
  if (!Number.isInteger(options.peerPort) || options.peerPort < 0 || options.peerPort > 65535) {
    throw invalid(`peerPort must be an integer in [0, 65535], got ${String(options.peerPort)}`)
  }
  if (typeof options.host !== 'string' || options.host === '')
    throw invalid('host must be a non-empty string')
  if (!(options.secret instanceof Uint8Array) || options.secret.length === 0)
    throw invalid('secret must be a non-empty Uint8Array')
  const ensembleId = options.ensembleId ?? ''
  if (typeof ensembleId !== 'string' || ensembleId.length > ENSEMBLE_ID_LENGTH_MAX) {
    throw invalid(`ensembleId must be a string of at most ${ENSEMBLE_ID_LENGTH_MAX} characters`)
  }
  const frameBytesMax = positive(
    'frameBytesMax',
    options.frameBytesMax,
    0,
    HANDSHAKE_FRAME_BYTES_MAX,
  )
  const backoff = options.backoff ?? DEFAULT_BACKOFF
  positive('backoff.baseMs', backoff.baseMs, 0)
  positive('backoff.capMs', backoff.capMs, 0, backoff.baseMs)
  return {
    frameBytesMax,
    handshakeTimeoutMs: positive(
      'handshakeTimeoutMs',
      options.handshakeTimeoutMs,
      DEFAULT_HANDSHAKE_LIMITS.handshakeTimeoutMs,
    ),
    keepAliveMs: positive('keepAliveMs', options.keepAliveMs, 1000, 0),
    sendQueueBytesMax: positive(
      'sendQueueBytesMax',
      options.sendQueueBytesMax,
      16 * frameBytesMax,
      frameBytesMax,
    ),
    handshakesPerAddressMax: positive(
      'handshakesPerAddressMax',
      options.handshakesPerAddressMax,
      DEFAULT_HANDSHAKE_LIMITS.handshakesPerAddressMax,
    ),
    memberHandshakesPerAddressMax: positive(
      'memberHandshakesPerAddressMax',
      options.memberHandshakesPerAddressMax,
      DEFAULT_HANDSHAKE_LIMITS.memberHandshakesPerAddressMax,
    ),
    strangerHandshakesMax: positive(
      'strangerHandshakesMax',
      options.strangerHandshakesMax,
      DEFAULT_HANDSHAKE_LIMITS.strangerHandshakesMax,
    ),
    backoff,
    random: options.random ?? Math.random,
    dialAddress: options.dialAddress ?? ((m) => ({ host: m.host, port: m.peerPort })),
  }
}
