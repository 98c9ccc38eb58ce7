/**
 * The peer-link handshake: mutual HMAC challenge-response over the ensemble's shared
 * secret, run on every new connection before any election or sync message is accepted.
 *
 *   dialer (larger id)                                   acceptor (smaller id)
 *   hello {fromId, toId, ensembleId, fingerprint,  ──►   checks ids, ensemble, direction
 *          members, nonceD}
 *                                                 ◄──   challenge {fromId, toId, fingerprint,
 *                                                                  nonceA, proof_A}
 *   checks proof_A
 *   proof {proof_D}                               ──►   checks proof_D
 *                                                 ◄──   ready
 *
 * proof_R = HMAC-SHA256(secret, transcript(R, ensembleId, fingerprint, dialerId,
 * acceptorId, nonceD, nonceA)) with R the prover's role. Both nonces are fresh and
 * random, so a proof cannot be replayed on another connection; the role label keeps
 * one side's proof from being reflected back as the other's. Proofs are compared with
 * crypto.timingSafeEqual.
 *
 * The acceptor never reveals its member list before the dialer has proven the secret
 * (only the fingerprint, a hash); the dialer sends its list so a misconfigured member
 * can be refused with a log line naming the difference.
 *
 * NB: this authenticates the two ends when the connection opens; it does not encrypt
 * or sign the frames that follow. An attacker who can already sit on the path between
 * two members (relay or rewrite their TCP stream) could inject frames after the
 * handshake. Run the peer port on a private network, or under TLS when it comes
 * (design.md §2 names TLS client certificates as the other option).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { decodeMessage, encodeMessage } from '../../protocol/codec.js'
import {
  ShapeError,
  arrayOf,
  bytes,
  int,
  isRecord,
  object,
  oneOf,
  str,
  tagged,
  type Check,
} from '../../protocol/schema.js'
import { PeerCloseCode, type PeerCloseCodeValue } from './peer-errors.js'
import {
  HOST_LENGTH_MAX,
  SERVER_ID_MAX,
  describeMemberDifference,
  type PeerMember,
  type ServerId,
} from './peer-members.js'

/** PEER_PROTOCOL_VERSION is the version of this handshake and of the frames that follow it. */
export const PEER_PROTOCOL_VERSION = 1

/** NONCE_BYTES is the length of each side's random challenge. */
export const NONCE_BYTES = 32

/** PROOF_BYTES is the length of an HMAC-SHA256 proof (and of the ensemble fingerprint). */
export const PROOF_BYTES = 32

/** HANDSHAKE_FRAME_BYTES_MAX bounds a handshake frame: a hello with 255 long host names fits. */
export const HANDSHAKE_FRAME_BYTES_MAX = 128 * 1024

/** ENSEMBLE_ID_LENGTH_MAX bounds the optional ensemble id. */
export const ENSEMBLE_ID_LENGTH_MAX = 256

/** PeerHello opens a connection: the dialer says who it is, whom it meant to reach, and its nonce. */
export interface PeerHello {
  type: 'hello'
  version: number
  fromId: ServerId
  toId: ServerId
  ensembleId: string
  fingerprint: Uint8Array
  members: PeerMember[]
  nonce: Uint8Array
}

/** PeerChallenge answers a hello: the acceptor's nonce and its proof over both nonces. */
export interface PeerChallenge {
  type: 'challenge'
  version: number
  fromId: ServerId
  toId: ServerId
  fingerprint: Uint8Array
  nonce: Uint8Array
  proof: Uint8Array
}

/** PeerProof is the dialer's proof over both nonces. */
export interface PeerProof {
  type: 'proof'
  proof: Uint8Array
}

/** PeerReady tells the dialer its proof was accepted: the link is up on both sides. */
export interface PeerReady {
  type: 'ready'
}

/** HandshakeMessage is any message sent before a link is authenticated. */
export type HandshakeMessage = PeerHello | PeerChallenge | PeerProof | PeerReady

/** HandshakeRole is which side of a link we are: the dialer or the acceptor. */
export type HandshakeRole = 'dialer' | 'acceptor'

/** HandshakeTranscript is everything both proofs cover. */
export interface HandshakeTranscript {
  ensembleId: string
  fingerprint: Uint8Array
  dialerId: ServerId
  acceptorId: ServerId
  dialerNonce: Uint8Array
  acceptorNonce: Uint8Array
}

/** LocalIdentity is what one member knows about itself and its ensemble. */
export interface LocalIdentity {
  selfId: ServerId
  members: readonly PeerMember[]
  ensembleId: string
  fingerprint: Uint8Array
}

/** Refusal is why a handshake failed: a close code, a short close reason, and a log detail. */
export interface Refusal {
  code: PeerCloseCodeValue
  /** reason is the WebSocket close reason (short, no secrets, at most 123 bytes). */
  reason: string
  /** detail is the full explanation for the log line. */
  detail: string
}

// ---------------------------------------------------------------- shapes

const serverId = int(1, SERVER_ID_MAX)
const fixedBytes =
  (length: number): Check<Uint8Array> =>
  (v, where) => {
    const b = bytes(length)(v, where)
    if (b.length !== length)
      throw new ShapeError(`${where}: expected ${length} bytes, got ${b.length}`)
    return b
  }
const member: Check<PeerMember> = object<PeerMember>({
  id: serverId,
  host: str(HOST_LENGTH_MAX),
  peerPort: int(1, 65535),
})

const handshakeMessage: Check<HandshakeMessage> = tagged<HandshakeMessage>(
  'type',
  {
    hello: object<PeerHello>({
      type: oneOf(['hello'] as const),
      version: int(0, 0xffff),
      fromId: serverId,
      toId: serverId,
      ensembleId: str(ENSEMBLE_ID_LENGTH_MAX),
      fingerprint: fixedBytes(PROOF_BYTES),
      members: arrayOf(member, SERVER_ID_MAX),
      nonce: fixedBytes(NONCE_BYTES),
    }),
    challenge: object<PeerChallenge>({
      type: oneOf(['challenge'] as const),
      version: int(0, 0xffff),
      fromId: serverId,
      toId: serverId,
      fingerprint: fixedBytes(PROOF_BYTES),
      nonce: fixedBytes(NONCE_BYTES),
      proof: fixedBytes(PROOF_BYTES),
    }),
    proof: object<PeerProof>({ type: oneOf(['proof'] as const), proof: fixedBytes(PROOF_BYTES) }),
    ready: object<PeerReady>({ type: oneOf(['ready'] as const) }),
  },
  (type, where) =>
    new ShapeError(`${where}.type: unknown handshake message '${type.slice(0, 32)}'`),
)

/** HandshakeDecodeResult is a decoded handshake message or a refusal to close the link with. */
export type HandshakeDecodeResult =
  { ok: true; message: HandshakeMessage } | { ok: false; refusal: Refusal }

/**
 * decodeHandshakeMessage decodes one handshake frame. Never throws: garbage, an
 * oversized frame or a wrong shape is a PROTOCOL_ERROR refusal, and a message of another
 * protocol version a VERSION_MISMATCH refusal (checked first, so a newer peer is told so).
 */
export function decodeHandshakeMessage(frame: Uint8Array): HandshakeDecodeResult {
  if (frame.length > HANDSHAKE_FRAME_BYTES_MAX) {
    return refuse(
      PeerCloseCode.PROTOCOL_ERROR,
      'handshake frame too large',
      `handshake frame of ${frame.length} bytes exceeds ${HANDSHAKE_FRAME_BYTES_MAX}`,
    )
  }
  const unpacked = decodeMessage(frame)
  if (!unpacked.ok)
    return refuse(
      PeerCloseCode.PROTOCOL_ERROR,
      'undecodable handshake frame',
      unpacked.error.message,
    )
  const value = unpacked.value
  if (isRecord(value) && 'version' in value && value.version !== PEER_PROTOCOL_VERSION) {
    const version =
      typeof value.version === 'number' ? value.version : String(value.version).slice(0, 16)
    return refuse(
      PeerCloseCode.VERSION_MISMATCH,
      'peer protocol version mismatch',
      `peer speaks peer protocol version ${version}; this member speaks ${PEER_PROTOCOL_VERSION}`,
    )
  }
  try {
    return { ok: true, message: handshakeMessage(value, 'handshake') }
  } catch (err) {
    return refuse(
      PeerCloseCode.PROTOCOL_ERROR,
      'malformed handshake message',
      err instanceof Error ? err.message : String(err),
    )
  }
}

/** encodeHandshakeMessage packs a handshake message into one frame. */
export function encodeHandshakeMessage(message: HandshakeMessage): Uint8Array {
  return encodeMessage(message)
}

/** createNonce draws a fresh random challenge from the operating system's CSPRNG. */
export function createNonce(): Uint8Array {
  return new Uint8Array(randomBytes(NONCE_BYTES))
}

// ---------------------------------------------------------------- proofs

/**
 * transcriptBytes is the canonical byte string a proof covers: a label with the
 * prover's role, then each field length-prefixed (u32 big-endian) so no two different
 * transcripts can produce the same bytes.
 */
export function transcriptBytes(role: HandshakeRole, t: HandshakeTranscript): Uint8Array {
  const text = (s: string) => Buffer.from(s, 'utf8')
  const id = (n: number) => Buffer.from([n & 0xff])
  const fields = [
    text(`conclave-peer-auth-v${PEER_PROTOCOL_VERSION}`),
    text(role),
    text(t.ensembleId),
    Buffer.from(t.fingerprint),
    id(t.dialerId),
    id(t.acceptorId),
    Buffer.from(t.dialerNonce),
    Buffer.from(t.acceptorNonce),
  ]
  const parts: Buffer[] = []
  for (const field of fields) {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(field.length)
    parts.push(length, field)
  }
  return new Uint8Array(Buffer.concat(parts))
}

/** computeProof is HMAC-SHA256(secret, transcript) for the side `role` proving itself. */
export function computeProof(
  secret: Uint8Array,
  role: HandshakeRole,
  t: HandshakeTranscript,
): Uint8Array {
  return new Uint8Array(createHmac('sha256', secret).update(transcriptBytes(role, t)).digest())
}

/** verifyProof tells, in constant time, whether `proof` is the right proof for `role` over `t`. */
export function verifyProof(
  secret: Uint8Array,
  role: HandshakeRole,
  t: HandshakeTranscript,
  proof: Uint8Array,
): boolean {
  const expected = computeProof(secret, role, t)
  return proof.length === expected.length && timingSafeEqual(expected, proof)
}

// ---------------------------------------------------------------- checks

/**
 * checkHello decides, on the acceptor, whether a hello may proceed to the challenge.
 * In order: the claimed id must be another member, the hello must be meant for us,
 * the ensemble id and member list must match ours, and the dialer must be the larger
 * id (the one-connection-per-pair rule). Returns null when all hold.
 */
export function checkHello(hello: PeerHello, local: LocalIdentity): Refusal | null {
  const ids = local.members.map((m) => m.id).join(', ')
  if (hello.fromId === local.selfId) {
    return refusal(
      PeerCloseCode.UNKNOWN_MEMBER,
      'unknown member id',
      `peer claims our own id ${hello.fromId}`,
    )
  }
  if (!local.members.some((m) => m.id === hello.fromId)) {
    return refusal(
      PeerCloseCode.UNKNOWN_MEMBER,
      'unknown member id',
      `peer claims id ${hello.fromId}, which is not a member of this ensemble (members: ${ids})`,
    )
  }
  if (hello.toId !== local.selfId) {
    return refusal(
      PeerCloseCode.WRONG_TARGET,
      'wrong member reached',
      `member ${hello.fromId} meant to reach member ${hello.toId} but reached member ${local.selfId}`,
    )
  }
  if (hello.ensembleId !== local.ensembleId) {
    return refusal(
      PeerCloseCode.ENSEMBLE_MISMATCH,
      'ensemble id differs',
      `member ${hello.fromId} belongs to ensemble '${hello.ensembleId}' but this is ensemble '${local.ensembleId}'`,
    )
  }
  if (!bytesEqual(hello.fingerprint, local.fingerprint)) {
    const difference =
      describeMemberDifference(local.members, hello.members) ||
      'the lists look equal but the fingerprints differ'
    return refusal(
      PeerCloseCode.ENSEMBLE_MISMATCH,
      'ensemble member list differs',
      `member ${hello.fromId} has a different member list: ${difference}`,
    )
  }
  if (hello.fromId < local.selfId) {
    return refusal(
      PeerCloseCode.WRONG_DIRECTION,
      'only the larger id dials',
      `member ${hello.fromId} dialed member ${local.selfId}, but only the larger id of a pair dials`,
    )
  }
  return null
}

/**
 * checkChallenge decides, on the dialer, whether the acceptor's challenge is from the
 * member we dialed, for our ensemble, and carries a valid proof. Returns null when so.
 */
export function checkChallenge(
  challenge: PeerChallenge,
  local: LocalIdentity,
  dialedId: ServerId,
  secret: Uint8Array,
  dialerNonce: Uint8Array,
): Refusal | null {
  if (challenge.fromId !== dialedId || challenge.toId !== local.selfId) {
    return refusal(
      PeerCloseCode.WRONG_TARGET,
      'wrong member reached',
      `dialed member ${dialedId} but member ${challenge.fromId} answered (for member ${challenge.toId})`,
    )
  }
  if (!bytesEqual(challenge.fingerprint, local.fingerprint)) {
    return refusal(
      PeerCloseCode.ENSEMBLE_MISMATCH,
      'ensemble member list differs',
      `member ${dialedId} has a different member list (fingerprints differ)`,
    )
  }
  const transcript = transcriptFor(local, local.selfId, dialedId, dialerNonce, challenge.nonce)
  if (!verifyProof(secret, 'acceptor', transcript, challenge.proof)) {
    return refusal(
      PeerCloseCode.AUTH_FAILED,
      'authentication failed',
      `member ${dialedId} failed to prove the shared secret (wrong secret?)`,
    )
  }
  return null
}

/** transcriptFor builds the transcript of one link from our identity and both nonces. */
export function transcriptFor(
  local: LocalIdentity,
  dialerId: ServerId,
  acceptorId: ServerId,
  dialerNonce: Uint8Array,
  acceptorNonce: Uint8Array,
): HandshakeTranscript {
  return {
    ensembleId: local.ensembleId,
    fingerprint: local.fingerprint,
    dialerId,
    acceptorId,
    dialerNonce,
    acceptorNonce,
  }
}

function refusal(code: PeerCloseCodeValue, reason: string, detail: string): Refusal {
  return { code, reason, detail }
}

function refuse(
  code: PeerCloseCodeValue,
  reason: string,
  detail: string,
): { ok: false; refusal: Refusal } {
  return { ok: false, refusal: refusal(code, reason, detail) }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}
