/**
 * Errors and close codes of the peer links (the WebSocket connections between
 * ensemble members on the peer port).
 *
 * Close codes live in 4100-4199 so they never collide with the client port's codes
 * (4000-4099, protocol/client-messages.ts CloseCode): a log line with a close code says
 * at once which kind of connection it was.
 */

/** PeerCloseCode lists every WebSocket close code a peer link uses, and why. */
export const PeerCloseCode = {
  /** The member is shutting down (standard "going away"). */
  SHUTDOWN: 1001,
  /** A frame exceeded the frame limit; ws itself closes with this code. */
  FRAME_TOO_LARGE: 1009,
  /** The handshake did not finish within the handshake timeout (a silent or stuck connection). */
  HANDSHAKE_TIMEOUT: 4100,
  /** A frame was not msgpack, not binary, had the wrong shape, or came at the wrong time. */
  PROTOCOL_ERROR: 4101,
  /** The peer's HMAC proof of the shared secret was missing or wrong. */
  AUTH_FAILED: 4102,
  /** The peer claimed an id that is not a member of this ensemble (or our own id). */
  UNKNOWN_MEMBER: 4103,
  /** The peer's member list or ensemble id differs from ours. */
  ENSEMBLE_MISMATCH: 4104,
  /** The peer meant to reach another member id than ours (its config points at the wrong address). */
  WRONG_TARGET: 4105,
  /** The smaller id dialed the larger; only the larger id dials, so this peer's config disagrees. */
  WRONG_DIRECTION: 4106,
  /** The peer speaks another version of the peer handshake. */
  VERSION_MISMATCH: 4107,
  /** A newer authenticated connection from the same peer replaced this one. */
  SUPERSEDED: 4108,
  /** The send queue to the peer passed its bound: the peer stopped reading. */
  SEND_QUEUE_OVERFLOW: 4109,
  /** Nothing, not even a pong, came from the peer for a whole keep-alive window. */
  PEER_SILENT: 4110,
  /** Too many connections are handshaking at once; try again later. */
  BUSY: 4111,
} as const

/** PeerCloseCodeValue is one of the PeerCloseCode numbers. */
export type PeerCloseCodeValue = (typeof PeerCloseCode)[keyof typeof PeerCloseCode]

/** peerCloseCodeName gives the PeerCloseCode name of a number, for log lines ("AUTH_FAILED"). */
export function peerCloseCodeName(code: number): string {
  for (const [name, value] of Object.entries(PeerCloseCode)) if (value === code) return name
  return `CLOSE_${code}`
}

/** PeerLinksErrorCode names what a caller of PeerLinks did wrong. */
export type PeerLinksErrorCode =
  /** The options given to PeerLinks.start are invalid (the message names the option). */
  | 'INVALID_OPTIONS'
  /** send or sendMany named an id that is not another member of the ensemble. */
  | 'UNKNOWN_PEER'
  /** One message encodes to more bytes than fit in a frame. */
  | 'MESSAGE_TOO_LARGE'
  /** The peer port could not be opened. */
  | 'LISTEN_FAILED'

/** PeerLinksError is a caller mistake or a start-up failure, with a stable `code`. */
export class PeerLinksError extends Error {
  override readonly name = 'PeerLinksError'
  readonly code: PeerLinksErrorCode
  constructor(code: PeerLinksErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

/** SecretFileErrorCode names why a shared-secret file was refused. */
export type SecretFileErrorCode =
  | 'SECRET_FILE_MISSING'
  | 'SECRET_FILE_NOT_A_FILE'
  | 'SECRET_FILE_PERMISSIONS'
  | 'SECRET_FILE_EMPTY'
  | 'SECRET_FILE_UNREADABLE'

/** SecretFileError says why the ensemble's shared-secret file cannot be used; the message names the path. */
export class SecretFileError extends Error {
  override readonly name = 'SecretFileError'
  readonly code: SecretFileErrorCode
  readonly path: string
  constructor(code: SecretFileErrorCode, path: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.path = path
  }
}
