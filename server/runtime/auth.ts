/**
 * Authentication of client connections (ZooKeeper's addAuth). It lives in the runtime
 * because a digest needs SHA-1; the ACL check itself is pure (server/requests/acl.ts).
 * Nothing here logs or keeps a password: only the digest identity leaves.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { ErrorCode } from '../../protocol/index.js'
import { SUPER_ID, type AuthId } from '../requests/index.js'

/** AuthRefusal is why credentials were refused: always AUTH_FAILED, with a reason that never quotes them. */
export interface AuthRefusal {
  code: number
  reason: string
}

/**
 * digestOf turns `user:password` into the digest id `user:base64(sha1(user:password))`,
 * ZooKeeper's DigestAuthenticationProvider.generateDigest: the hash covers the whole
 * string, user included.
 */
export function digestOf(credentials: string): string {
  const user = credentials.slice(0, credentials.indexOf(':'))
  return `${user}:${createHash('sha1').update(credentials, 'utf8').digest('base64')}`
}

/**
 * authenticate returns the identities `scheme`/`credentials` give a connection, or why
 * they cannot. Only `digest` can be added by a client: `ip` is the connection's address
 * and `x509` (with TLS) its certificate, both given by the listener. A digest is
 * refused only when malformed (no `user:password` shape): as in ZooKeeper a wrong
 * password is not an error, it just yields an identity no ACL names, so a refusal
 * never says whether a user exists. The super digest also grants SUPER_ID.
 */
export function authenticate(
  scheme: string,
  credentials: string,
  superDigest: string,
): AuthId[] | AuthRefusal {
  if (scheme !== 'digest')
    return {
      code: ErrorCode.AUTH_FAILED,
      reason: `scheme ${JSON.stringify(scheme.slice(0, 64))} cannot be added (only 'digest')`,
    }
  const colon = credentials.indexOf(':')
  if (colon <= 0 || colon === credentials.length - 1)
    return { code: ErrorCode.AUTH_FAILED, reason: "digest credentials must be 'user:password'" }
  const id = digestOf(credentials)
  const ids: AuthId[] = [{ scheme: 'digest', id }]
  if (superDigest !== '' && sameText(id, superDigest)) ids.push(SUPER_ID)
  return ids
}

/** sameText compares in constant time for equal lengths, so the super digest cannot be guessed by timing. */
function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
