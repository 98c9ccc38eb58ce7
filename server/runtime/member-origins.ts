/**
 * The web origins of an ensemble's members, for the client port's CORS rule: a console
 * page loaded from one member reads the other members' /status.
 */
import type { MemberAddress } from './config.js'

/** LOOPBACK_NAMES are the names a browser on the member's host may use for a loopback member. */
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]']

/**
 * memberOrigins lists `scheme://host:clientPort` for every member, as a browser writes
 * its Origin header (IPv6 hosts in brackets). A member advertised on a loopback address
 * also counts under the other loopback names, so a page opened as localhost works.
 */
export function memberOrigins(members: readonly MemberAddress[], tls: boolean): string[] {
  const scheme = tls ? 'https' : 'http'
  const origins = new Set<string>()
  for (const member of members) {
    const host = member.host.includes(':') ? `[${member.host}]` : member.host
    const names = LOOPBACK_NAMES.includes(host) || host.startsWith('127.') ? LOOPBACK_NAMES : []
    for (const name of [host, ...names]) origins.add(`${scheme}://${name}:${member.clientPort}`)
  }
  return [...origins]
}
