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

/**
 * parseZxid reads a zxid as a person types it, in any of the forms Conclave prints or
 * other tools use: formatZxid's `0x<epoch>_<counter>` (hex halves, e.g. `0x1_0000000a`
 * or `0x1_a`), one 64-bit hex number (`0x10000000a`, ZooKeeper's form) or decimal
 * (`4294967306`). Returns undefined for anything else, a negative number or a value
 * beyond 64 bits, so the caller can name the flag in its message.
 */
export function parseZxid(text: string): Zxid | undefined {
  const s = text.trim()
  const halves = /^0x([0-9a-f]{1,8})_([0-9a-f]{1,8})$/i.exec(s)
  if (halves !== null) return (BigInt(`0x${halves[1]}`) << 32n) | BigInt(`0x${halves[2]}`)
  if (/^0x[0-9a-f]{1,16}$/i.test(s)) return BigInt(s)
  if (/^[0-9]{1,20}$/.test(s)) {
    const value = BigInt(s)
    return value <= 0xffff_ffff_ffff_ffffn ? value : undefined
  }
  return undefined
}

/** maxZxid returns the larger of two zxids. */
export function maxZxid(a: Zxid, b: Zxid): Zxid {
  return a > b ? a : b
}
