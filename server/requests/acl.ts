/**
 * The ACL check, with ZooKeeper's rules (ZooKeeperServer.checkACL and fixupACL,
 * reference §9). Pure: the identities a connection holds are computed by the runtime
 * (a digest needs SHA-1) and passed in.
 */
import { ErrorCode, Perm, type Acl } from '../../protocol/index.js'

/** AuthId is one identity a connection holds, e.g. `digest:alice:<base64 sha1>` or `ip:10.0.0.7`. */
export interface AuthId {
  scheme: string
  id: string
}

/** SUPER_ID is the identity a connection gets when it authenticates as the configured super user; it passes every check. */
export const SUPER_ID: AuthId = Object.freeze({ scheme: 'super', id: '' })

/**
 * ACL_SCHEMES are the schemes an ACL entry may name. `auth` is expanded at create and
 * setAcl time and never stored. `x509` names a client certificate by its subject's CN:
 * a connection to a TLS client port that presented a verified certificate holds the
 * identity `x509:<CN>`, and the exact match below grants it.
 */
export const ACL_SCHEMES: ReadonlySet<string> = new Set(['world', 'auth', 'digest', 'ip', 'x509'])

/**
 * aclPermits tells whether a connection holding `ids` may do what needs `perm` on a
 * node with `acl`: an empty ACL allows everything, the super identity allows
 * everything, otherwise one entry with the bit must match one identity.
 */
export function aclPermits(acl: readonly Acl[], perm: number, ids: readonly AuthId[]): boolean {
  if (acl.length === 0) return true
  // Plain loops: this runs for every write and every watch event, and a callback allocates.
  for (let i = 0; i < ids.length; i++) if (ids[i]!.scheme === SUPER_ID.scheme) return true
  for (const entry of acl) {
    if ((entry.perms & perm) === 0) continue
    if (entry.scheme === 'world' && entry.id === 'anyone') return true
    for (const id of ids) if (idMatches(entry, id)) return true
  }
  return false
}

function idMatches(entry: Acl, id: AuthId): boolean {
  if (entry.scheme !== id.scheme) return false
  return entry.scheme === 'ip' ? ipMatches(id.id, entry.id) : entry.id === id.id
}

/**
 * ipMatches tells whether `address` (IPv4, possibly IPv4-mapped IPv6, or IPv6 text)
 * falls in `pattern`: an address, or an IPv4 `a.b.c.d/bits` range, as ZooKeeper's
 * IPAuthenticationProvider. IPv6 addresses match only exactly.
 */
export function ipMatches(address: string, pattern: string): boolean {
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address
  const [base, bitsText] = pattern.split('/', 2)
  if (bitsText === undefined) return plain === base || address === base
  const bits = Number(bitsText)
  const a = ipv4Value(plain)
  const b = ipv4Value(base ?? '')
  if (a === null || b === null || !Number.isInteger(bits) || bits < 0 || bits > 32) return false
  if (bits === 0) return true
  const mask = (0xffff_ffff << (32 - bits)) >>> 0
  return (a & mask) >>> 0 === (b & mask) >>> 0
}

function ipv4Value(text: string): number | null {
  const parts = text.split('.')
  if (parts.length !== 4) return null
  let value = 0
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null
    const n = Number(part)
    if (n > 255) return null
    value = value * 256 + n
  }
  return value
}

/** AclProblem says why an ACL cannot be stored (always INVALID_ACL). */
export interface AclProblem {
  code: number
  reason: string
}

/**
 * fixupAcl checks an ACL given to create or setAcl and expands `auth` into every
 * identity the connection authenticated with (digest, x509; not its ip or super), as
 * ZooKeeper's fixupACL: an empty ACL, an unknown scheme, a malformed id, or `auth`
 * without such an identity is INVALID_ACL.
 */
export function fixupAcl(
  path: string,
  acl: readonly Acl[],
  ids: readonly AuthId[],
): Acl[] | AclProblem {
  const bad = (reason: string): AclProblem => ({ code: ErrorCode.INVALID_ACL, reason })
  if (acl.length === 0) return bad(`the ACL for ${path} needs at least one entry`)
  const out: Acl[] = []
  for (const entry of acl) {
    if (!ACL_SCHEMES.has(entry.scheme))
      return bad(`unknown scheme ${JSON.stringify(entry.scheme)} in the ACL for ${path}`)
    if ((entry.perms & ~Perm.ALL) !== 0)
      return bad(`permission bits ${entry.perms} in the ACL for ${path} are not in 0-31`)
    if (entry.scheme === 'auth') {
      const authenticated = ids.filter((id) => id.scheme === 'digest' || id.scheme === 'x509')
      if (authenticated.length === 0)
        return bad(
          `scheme 'auth' in the ACL for ${path} needs an authenticated identity; this connection has none`,
        )
      for (const id of authenticated) out.push({ perms: entry.perms, scheme: id.scheme, id: id.id })
      continue
    }
    if (entry.scheme === 'world' && entry.id !== 'anyone')
      return bad(`scheme 'world' takes only the id 'anyone' (ACL for ${path})`)
    if (entry.scheme === 'digest' && !/^[^:]+:[^:]+$/.test(entry.id))
      return bad(`a digest id is user:base64(sha1(user:password)) (ACL for ${path})`)
    if (entry.scheme === 'ip' && !validIpPattern(entry.id))
      return bad(`${JSON.stringify(entry.id)} is not an address or IPv4 range (ACL for ${path})`)
    out.push({ perms: entry.perms, scheme: entry.scheme, id: entry.id })
  }
  return out
}

function validIpPattern(pattern: string): boolean {
  const [base, bits] = pattern.split('/', 2)
  if (bits !== undefined)
    return ipv4Value(base ?? '') !== null && /^\d{1,2}$/.test(bits) && Number(bits) <= 32
  return ipv4Value(pattern) !== null || /^[0-9a-fA-F:.]+$/.test(pattern)
}

/** permName names a permission bit for error messages. */
export function permName(perm: number): string {
  const names = Object.entries(Perm).filter(([name, bit]) => name !== 'ALL' && bit === perm)
  return names[0]?.[0] ?? String(perm)
}
