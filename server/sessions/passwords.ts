/**
 * Password comparison for session reconnects. A reconnect presents the session id and
 * its password; comparing byte by byte with an early exit would let a client measure
 * how many leading bytes it guessed right, so the comparison always touches every byte.
 */

/**
 * equalBytesConstantTime tells whether two byte strings are equal, taking the same time
 * for every pair of equal-length inputs. Lengths are not secret (passwords are always
 * 16 bytes), so unequal lengths return false at once.
 */
export function equalBytesConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let difference = 0
  for (let i = 0; i < a.length; i++) difference |= (a[i] as number) ^ (b[i] as number)
  return difference === 0
}
