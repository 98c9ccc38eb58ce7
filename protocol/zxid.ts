/**
 * Zxid: the ZAB transaction id, `epoch × 2³² + counter`, carried as a `bigint`.
 *
 * Both halves are unsigned 32-bit numbers. A new leader starts its epoch at
 * counter 0; its first proposal gets counter 1. Comparing two zxids is plain
 * bigint comparison because the epoch sits in the high half.
 */
export type Zxid = bigint

/** ZXID_ZERO is the zxid of an empty history. */
export const ZXID_ZERO: Zxid = 0n

/** COUNTER_MAX is the largest counter an epoch may use; reaching it forces a new election. */
export const COUNTER_MAX = 0xffff_ffff

/** makeZxid builds a zxid from its epoch and counter halves. */
export function makeZxid(epoch: number, counter: number): Zxid {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffff_ffff)
    throw new RangeError(`epoch out of range: ${epoch}`)
  if (!Number.isInteger(counter) || counter < 0 || counter > COUNTER_MAX)
    throw new RangeError(`counter out of range: ${counter}`)
  return (BigInt(epoch) << 32n) | BigInt(counter)
}

/** epochOf returns the epoch half of a zxid. */
export function epochOf(zxid: Zxid): number {
  return Number(zxid >> 32n)
}

/** counterOf returns the counter half of a zxid. */
export function counterOf(zxid: Zxid): number {
  return Number(zxid & 0xffff_ffffn)
}

/** formatZxid renders a zxid the way operators read it: `0x<epoch>_<counter>` in hex. */
export function formatZxid(zxid: Zxid): string {
  return `0x${epochOf(zxid).toString(16)}_${counterOf(zxid).toString(16).padStart(8, '0')}`
}

/** maxZxid returns the larger of two zxids. */
export function maxZxid(a: Zxid, b: Zxid): Zxid {
  return a > b ? a : b
}
