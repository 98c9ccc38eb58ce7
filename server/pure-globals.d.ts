/**
 * Everything the pure layers may use from outside the ECMAScript library, declared for
 * their compile-time fence (tsconfig.pure.json, which has no DOM and no Node.js types).
 * Deterministic functions only: text encoding, and CRC-32 for the tree digest. Adding
 * to this list is a design decision: a clock, timer, random source, socket or file must
 * come in as an argument instead. Not part of the normal build, where DOM and Node.js
 * types declare these already.
 */

/** TextEncoder encodes strings as UTF-8 (WHATWG Encoding). */
declare class TextEncoder {
  encode(input?: string): Uint8Array
}

/** TextDecoder decodes UTF-8 (WHATWG Encoding). */
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean })
  decode(input?: Uint8Array): string
}

declare module 'node:zlib' {
  /** crc32 is zlib's CRC-32 of `data`, continuing from `value`. */
  export function crc32(data: Uint8Array | string, value?: number): number
}
