/**
 * JSON helpers for the HTTP endpoints: bigints (zxids, session ids) become decimal strings.
 */

/** toJson serializes a value with bigints as decimal strings. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
    indent,
  )
}
