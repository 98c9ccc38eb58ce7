/**
 * A small shape checker for decoded msgpack values. Each Check either returns the
 * normalized value or throws a ShapeError naming the offending field; codec.ts turns
 * that into a ProtocolError. Only codec.ts should need this.
 */
import { ErrorCode } from './error-codes.js'
import { pathProblem } from './paths.js'

/**
 * ShapeError says which field of a decoded message is wrong and why. `code` is
 * MARSHALLING_ERROR for a value of the wrong type and BAD_ARGUMENTS for a value of the
 * right type that is not allowed (an invalid path, data over the limit, a number out of range).
 */
export class ShapeError extends Error {
  override readonly name = 'ShapeError'
  readonly code: number
  constructor(message: string, code: number = ErrorCode.MARSHALLING_ERROR) {
    super(message)
    this.code = code
  }
}

const invalid = (message: string) => new ShapeError(message, ErrorCode.BAD_ARGUMENTS)

/** Check validates and normalizes one value found at `where`. */
export type Check<T> = (value: unknown, where: string) => T

/**
 * UNNAMED is the `where` of a first, untraced pass (see `checkValue` in codec.ts):
 * containers do not build the names of their fields, so a well-shaped message costs no
 * strings. Only a message that fails is checked again with names, for the error.
 */
export const UNNAMED = '\u0000'

/** fieldAt names field `key` of the value at `where` (UNNAMED stays UNNAMED). */
export function fieldAt(where: string, key: string): string {
  return where === UNNAMED ? UNNAMED : `${where}.${key}`
}

/** itemAt names item `index` of the array at `where` (UNNAMED stays UNNAMED). */
function itemAt(where: string, index: number): string {
  return where === UNNAMED ? UNNAMED : `${where}[${index}]`
}

function fail(where: string, expected: string, value: unknown): never {
  const got =
    value === null
      ? 'null'
      : Array.isArray(value)
        ? 'array'
        : value instanceof Uint8Array
          ? 'bytes'
          : typeof value
  throw new ShapeError(`${where}: expected ${expected}, got ${got}`)
}

/** str accepts a string of at most `maxLength` UTF-16 units. */
export const str =
  (maxLength = 1 << 20): Check<string> =>
  (v, where) => {
    if (typeof v !== 'string') fail(where, 'string', v)
    if (v.length > maxLength) throw invalid(`${where}: longer than ${maxLength}`)
    return v
  }

/** path accepts a valid znode path (`sequential` allows a trailing /). */
export const path =
  (sequential = false): Check<string> =>
  (v, where) => {
    if (typeof v !== 'string') fail(where, 'path string', v)
    const problem = pathProblem(v, sequential)
    if (problem !== null) throw invalid(`${where}: invalid path: ${problem}`)
    return v
  }

/** int accepts a safe integer within [min, max]. */
export const int =
  (min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): Check<number> =>
  (v, where) => {
    if (typeof v === 'bigint' && v >= BigInt(min) && v <= BigInt(max)) return Number(v)
    if (typeof v !== 'number' || !Number.isInteger(v)) fail(where, 'integer', v)
    if (v < min || v > max) throw invalid(`${where}: ${v} outside [${min}, ${max}]`)
    return v
  }

/** u64 accepts an unsigned 64-bit integer as a bigint, or a safe non-negative integer number. */
export const u64: Check<bigint> = (v, where) => {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v)
  if (typeof v !== 'bigint') fail(where, 'unsigned 64-bit integer', v)
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn)
    throw invalid(`${where}: outside the unsigned 64-bit range`)
  return v
}

/** bool accepts a boolean. */
export const bool: Check<boolean> = (v, where) => {
  if (typeof v !== 'boolean') fail(where, 'boolean', v)
  return v
}

/** bytes accepts a byte string of at most `maxLength` bytes. */
export const bytes =
  (maxLength: number): Check<Uint8Array> =>
  (v, where) => {
    if (!(v instanceof Uint8Array)) fail(where, 'bytes', v)
    if (v.length > maxLength)
      throw invalid(`${where}: ${v.length} bytes exceeds the limit of ${maxLength}`)
    // msgpackr hands out Node Buffers; give every caller a plain Uint8Array view (no copy).
    return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
  }

/** oneOf accepts one of a fixed set of strings. */
export const oneOf =
  <T extends string>(values: readonly T[]): Check<T> =>
  (v, where) => {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v))
      fail(where, `one of ${values.join('|')}`, v)
    return v as T
  }

/** arrayOf accepts an array of at most `maxLength` items, each checked by `item`. */
export const arrayOf =
  <T>(item: Check<T>, maxLength: number): Check<T[]> =>
  (v, where) => {
    if (!Array.isArray(v)) fail(where, 'array', v)
    if (v.length > maxLength) throw invalid(`${where}: more than ${maxLength} items`)
    const out = new Array<T>(v.length)
    for (let i = 0; i < v.length; i++) out[i] = item(v[i], itemAt(where, i))
    return out
  }

/** optional accepts undefined or null (normalized to undefined) or a value passing `check`. */
export const optional =
  <T>(check: Check<T>): Check<T | undefined> =>
  (v, where) =>
    v === undefined || v === null ? undefined : check(v, where)

/** withDefault accepts undefined or null (normalized to `fallback`) or a value passing `check`. */
export const withDefault =
  <T>(check: Check<T>, fallback: T): Check<T> =>
  (v, where) =>
    v === undefined || v === null ? fallback : check(v, where)

/** Shape maps each field of T to its check. */
export type Shape<T> = { [K in keyof T]-?: Check<T[K]> }

/** isRecord tells whether a value is a plain map (not an array, bytes or null). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
}

/**
 * object accepts a map with the given fields; unknown fields are dropped so newer
 * clients may add fields without breaking older servers. Undefined results are omitted.
 */
export const object = <T>(shape: Shape<T>): Check<T> => {
  const keys = Object.keys(shape)
  const checks = keys.map((key) => shape[key as keyof T] as Check<unknown>)
  return (v, where) => {
    if (!isRecord(v)) fail(where, 'map', v)
    const out: Record<string, unknown> = {}
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!
      const value = checks[i]!(v[key], fieldAt(where, key))
      if (value !== undefined) out[key] = value
    }
    return out as T
  }
}

/**
 * tagged accepts a map whose string field `tag` selects the check for the whole map.
 * An unknown tag throws `onUnknown(tag)`, so callers choose the error (UNIMPLEMENTED for ops).
 */
export const tagged =
  <T>(
    tag: string,
    variants: Record<string, Check<T>>,
    onUnknown: (tag: string, where: string) => Error,
  ): Check<T> =>
  (v, where) => {
    if (!isRecord(v)) fail(where, 'map', v)
    const value = v[tag]
    if (typeof value !== 'string') fail(fieldAt(where, tag), 'string', value)
    const variant = Object.hasOwn(variants, value) ? variants[value] : undefined
    if (variant === undefined) throw onUnknown(value, where)
    return variant(v, where)
  }
