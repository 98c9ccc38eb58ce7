/**
 * The adjacency rule for logged zxids. Within an epoch the counter goes up by one per
 * txn; a new epoch's first txn has counter 1 (a new leader starts at counter 0 and
 * proposes from 1). Anything else between two consecutive records is a gap: a lost or
 * misplaced txn, which recovery must report instead of replaying around it.
 */
import { counterOf, epochOf, type Zxid } from '../../protocol/zxid.js'

/** followsZxid tells whether `next` may directly follow `previous` in a log. */
export function followsZxid(previous: Zxid, next: Zxid): boolean {
  if (next === previous + 1n) return true
  return epochOf(next) > epochOf(previous) && counterOf(next) === 1
}

/** zxidHex16 renders a zxid as 16 lowercase hex digits, the form used in file names. */
export function zxidHex16(zxid: Zxid): string {
  return zxid.toString(16).padStart(16, '0')
}

/** parseZxidHex16 reads the 16-hex-digit zxid of a file name, or undefined. */
export function parseZxidHex16(text: string): Zxid | undefined {
  return /^[0-9a-f]{16}$/.test(text) ? BigInt(`0x${text}`) : undefined
}
