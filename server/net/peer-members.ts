/**
 * The ensemble's member list as the peer links see it: validation, the ensemble
 * fingerprint both sides of a link must agree on, and a readable account of how two
 * member lists differ (for the log line that refuses a misconfigured member).
 */
import { createHash } from 'node:crypto'
import type { ServerId } from '../../protocol/peer-messages.js'
import { PeerLinksError } from './peer-errors.js'

/** ServerId is an ensemble member's id (1-255); the one definition lives in protocol/peer-messages.ts. */
export type { ServerId }

/** SERVER_ID_MAX is the largest member id: ids fit the top byte of a session id. */
export const SERVER_ID_MAX = 255

/** PeerMember is one ensemble member's identity: its id and its advertised peer address. */
export interface PeerMember {
  id: ServerId
  host: string
  peerPort: number
}

/** HOST_LENGTH_MAX bounds a member's host name (DNS names are at most 253 characters). */
export const HOST_LENGTH_MAX = 253

/**
 * validateMembers checks a member list and returns a copy sorted by id. It throws a
 * PeerLinksError (INVALID_OPTIONS) naming the problem: ids out of 1-255, duplicate ids,
 * empty or overlong hosts, ports outside 1-65535, or `selfId` missing from the list.
 */
export function validateMembers(members: readonly PeerMember[], selfId: ServerId): PeerMember[] {
  if (!Array.isArray(members) || members.length === 0) {
    throw new PeerLinksError(
      'INVALID_OPTIONS',
      'members must be a non-empty list of {id, host, peerPort}',
    )
  }
  const seen = new Set<ServerId>()
  for (const m of members) {
    if (!Number.isInteger(m.id) || m.id < 1 || m.id > SERVER_ID_MAX) {
      throw new PeerLinksError(
        'INVALID_OPTIONS',
        `member id must be an integer in [1, ${SERVER_ID_MAX}], got ${String(m.id)}`,
      )
    }
    if (seen.has(m.id))
      throw new PeerLinksError(
        'INVALID_OPTIONS',
        `member id ${m.id} appears twice in the member list`,
      )
    seen.add(m.id)
    if (typeof m.host !== 'string' || m.host.length === 0 || m.host.length > HOST_LENGTH_MAX) {
      throw new PeerLinksError(
        'INVALID_OPTIONS',
        `member ${m.id}: host must be a non-empty string of at most ${HOST_LENGTH_MAX} characters`,
      )
    }
    if (!Number.isInteger(m.peerPort) || m.peerPort < 1 || m.peerPort > 65535) {
      throw new PeerLinksError(
        'INVALID_OPTIONS',
        `member ${m.id}: peerPort must be an integer in [1, 65535], got ${String(m.peerPort)}`,
      )
    }
  }
  if (!seen.has(selfId)) {
    throw new PeerLinksError(
      'INVALID_OPTIONS',
      `selfId ${selfId} is not in the member list (${[...seen].sort((a, b) => a - b).join(', ')})`,
    )
  }
  return sortMembers(members)
}

/** sortMembers returns plain copies of the members sorted by id. */
export function sortMembers(members: readonly PeerMember[]): PeerMember[] {
  return members
    .map((m) => ({ id: m.id, host: m.host, peerPort: m.peerPort }))
    .sort((a, b) => a.id - b.id)
}

/**
 * ensembleFingerprint is SHA-256 over the member list sorted by id, one line per member
 * (`id host peerPort`). Two members agree on the ensemble exactly when their
 * fingerprints are equal, whatever order their config files list the members in.
 */
export function ensembleFingerprint(members: readonly PeerMember[]): Uint8Array {
  const canonical = sortMembers(members)
    .map((m) => `${m.id} ${m.host} ${m.peerPort}\n`)
    .join('')
  return new Uint8Array(
    createHash('sha256').update('conclave-ensemble-v1\n').update(canonical).digest(),
  )
}

/** formatMember renders a member as `id@host:port` for log lines. */
export function formatMember(m: PeerMember): string {
  const host = m.host.includes(':') ? `[${m.host}]` : m.host
  return `${m.id}@${host}:${m.peerPort}`
}

/**
 * describeMemberDifference names how the peer's member list differs from ours, for the
 * log line that refuses it: members only one side has, and members whose address
 * differs. It returns '' when the lists are the same.
 */
export function describeMemberDifference(
  ours: readonly PeerMember[],
  theirs: readonly PeerMember[],
): string {
  const theirById = new Map(theirs.map((m) => [m.id, m]))
  const ourById = new Map(ours.map((m) => [m.id, m]))
  const parts: string[] = []
  const onlyOurs = ours.filter((m) => !theirById.has(m.id)).map(formatMember)
  const onlyTheirs = theirs.filter((m) => !ourById.has(m.id)).map(formatMember)
  if (onlyOurs.length > 0) parts.push(`only in our list: ${onlyOurs.join(', ')}`)
  if (onlyTheirs.length > 0) parts.push(`only in the peer's list: ${onlyTheirs.join(', ')}`)
  for (const m of ours) {
    const t = theirById.get(m.id)
    if (t !== undefined && (t.host !== m.host || t.peerPort !== m.peerPort)) {
      parts.push(`member ${m.id} is ${formatMember(m)} here but ${formatMember(t)} at the peer`)
    }
  }
  return parts.join('; ')
}
