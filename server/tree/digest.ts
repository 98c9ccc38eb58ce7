/**
 * The tree digest: a sum mod 2^64 of per-node hashes (an AdHash, like ZooKeeper's
 * DigestCalculator), so it is updated in O(1) per change and does not depend on the
 * order nodes were created in. Replicas with equal trees have equal digests; replicas
 * compare them at equal zxids.
 *
 * A node's hash covers its path, its persisted Stat fields, its mode flags, its ACL
 * and its data. The data goes in through CRC-32 (native and fast for 1 MiB values),
 * which catches every change of up to 32 consecutive bits with certainty and any other
 * change with probability 1 - 2^-32. Everything else is hashed by two MurmurHash3
 * lanes with different seeds. NB: two CRC-32s with different seeds would not do: CRC
 * is affine, so `crc(x, s1) ^ crc(x, s2)` depends only on the length of `x`, and the
 * second lane would add no information.
 */
import { crc32 } from 'node:zlib'
import type { Acl } from '../../protocol/index.js'
import type { ZNode } from './znode.js'

const MASK_64 = (1n << 64n) - 1n
const LOW_SEED = 0x0c0f_fee5
const HIGH_SEED = 0x9e37_79b9
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER)
const SAFE_MIN = -SAFE_MAX

/**
 * header is nodeHash's scratch buffer for the UTF-8 of a node's header, written byte
 * by byte (grown for long paths): nodeHash runs for every change applied, so it builds
 * no strings and no byte arrays. `at` is the write position.
 */
let header = new Uint8Array(1024)
let at = 0
/** hashWords turns the two 32-bit lanes into one bigint with a single allocation. */
const hashWords = new DataView(new ArrayBuffer(8))

/**
 * aclJson caches the JSON text of an ACL list. Lists are shared between nodes (the
 * tree interns them), and JSON keeps the strings unambiguous whatever they contain.
 */
const aclJson = new WeakMap<readonly Acl[], string>()

/**
 * nodeHash is a node's 64-bit contribution to the digest: MurmurHash3 of the UTF-8 of
 * the JSON array `[path, "czxid", "mzxid", "pzxid", ctime, mtime, version, cversion,
 * aversion, "ephemeralOwner", container, ttlMs, [[perms, scheme, id], ...], dataLength,
 * dataCrc]` (zxids and the owner in decimal strings), exactly as JSON.stringify writes
 * it. The bytes are written here field by field instead: stored snapshots carry these
 * hashes, so the bytes hashed must never change (test/unit/tree/node-hash.test.ts).
 */
export function nodeHash(path: string, node: ZNode): bigint {
  const acl = aclText(node.acl)
  // An escaped character takes at most 6 bytes (\u001f), any other UTF-16 unit at most 3.
  const bound = 6 * path.length + 3 * acl.length + 512
  if (bound > header.length) header = new Uint8Array(bound)
  at = 0
  putByte(0x5b) // [
  if (needsJsonEscape(path)) putText(JSON.stringify(path))
  else {
    putByte(0x22)
    putText(path)
    putByte(0x22)
  }
  putQuotedU64(node.czxid)
  putQuotedU64(node.mzxid)
  putQuotedU64(node.pzxid)
  putNumber(node.ctime)
  putNumber(node.mtime)
  putNumber(node.version)
  putNumber(node.cversion)
  putNumber(node.aversion)
  putQuotedU64(node.ephemeralOwner)
  putByte(0x2c)
  putText(node.container ? 'true' : 'false')
  putNumber(node.ttlMs)
  putByte(0x2c)
  putText(acl)
  putNumber(node.data.length)
  putNumber(dataCrc(node.data))
  putByte(0x5d) // ]
  hashWords.setUint32(0, murmur3(header, HIGH_SEED, at))
  hashWords.setUint32(4, murmur3(header, LOW_SEED, at))
  return hashWords.getBigUint64(0)
}

function putByte(b: number): void {
  header[at++] = b
}

/** putText writes `text` as UTF-8, as TextEncoder does (a lone surrogate becomes U+FFFD). */
function putText(text: string): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) header[at++] = c
    else if (c < 0x800) {
      header[at++] = 0xc0 | (c >> 6)
      header[at++] = 0x80 | (c & 0x3f)
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const point = ((c - 0xd800) << 10) + (next - 0xdc00) + 0x10000
        header[at++] = 0xf0 | (point >> 18)
        header[at++] = 0x80 | ((point >> 12) & 0x3f)
        header[at++] = 0x80 | ((point >> 6) & 0x3f)
        header[at++] = 0x80 | (point & 0x3f)
        i++
      } else {
        header[at++] = 0xef
        header[at++] = 0xbf
        header[at++] = 0xbd
      }
    } else {
      header[at++] = 0xe0 | (c >> 12)
      header[at++] = 0x80 | ((c >> 6) & 0x3f)
      header[at++] = 0x80 | (c & 0x3f)
    }
  }
}

/** putNumber writes `,` and a number as JSON.stringify does. */
function putNumber(n: number): void {
  putByte(0x2c)
  putInteger(n)
}

/** putQuotedU64 writes `,` and a bigint as a JSON string of its decimal digits. */
function putQuotedU64(z: bigint): void {
  putByte(0x2c)
  putByte(0x22)
  if (z >= SAFE_MIN && z <= SAFE_MAX) putInteger(Number(z))
  else putText(String(z))
  putByte(0x22)
}

/** putInteger writes a number's decimal digits (anything but a safe integer as String or JSON would: non-finite as null). */
function putInteger(n: number): void {
  if (!Number.isSafeInteger(n)) return putText(Number.isFinite(n) ? String(n) : 'null')
  if (n < 0) {
    putByte(0x2d)
    n = -n
  }
  if (n < 1e8) return putDigits(n, 0)
  // Split so each half fits 32-bit integer arithmetic: 2^53 / 1e8 < 2^31.
  const high = Math.floor(n / 1e8)
  putDigits(high, 0)
  putDigits(n - high * 1e8, 8)
}

/** putDigits writes `n` (below 2^31) in decimal, zero-padded to `width` digits. */
function putDigits(n: number, width: number): void {
  let digits = 1
  for (let rest = (n / 10) | 0; rest > 0; rest = (rest / 10) | 0) digits++
  if (digits < width) digits = width
  at += digits
  for (let i = at - 1; i >= at - digits; i--) {
    const rest = (n / 10) | 0
    header[i] = 0x30 + n - rest * 10
    n = rest
  }
}

/** needsJsonEscape tells whether JSON.stringify would escape anything in `text` (surrogates included, to be safe). */
function needsJsonEscape(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true
  }
  return false
}

function aclText(acl: readonly Acl[]): string {
  let text = aclJson.get(acl)
  if (text === undefined) {
    text = JSON.stringify(acl.map((entry) => [entry.perms, entry.scheme, entry.id]))
    aclJson.set(acl, text)
  }
  return text
}

/** addHash adds (`sign` 1) or removes (`sign` -1) a node hash to or from a digest, mod 2^64. */
export function addHash(digest: bigint, hash: bigint, sign: 1 | -1): bigint {
  return (digest + (sign === 1 ? hash : -hash)) & MASK_64
}

/**
 * dataCrc is the CRC-32 of a node's data. NB: Node 20's zlib.crc32 misbehaves on an
 * empty array whose ArrayBuffer is also empty (such as `new TextEncoder().encode('')`),
 * so empty data maps to 0 without calling it.
 */
function dataCrc(data: Uint8Array): number {
  return data.length === 0 ? 0 : crc32(data)
}

/** murmur3 is MurmurHash3 x86_32 of the first `length` bytes of `bytes` (Austin Appleby's public-domain reference). */
export function murmur3(bytes: Uint8Array, seed: number, length = bytes.length): number {
  let h = seed | 0
  const blockEnd = length & ~3
  for (let i = 0; i < blockEnd; i += 4) {
    const k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)
    h ^= scramble(k)
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe654_6b64) | 0
  }
  let tail = 0
  const rest = length & 3
  if (rest >= 3) tail ^= bytes[blockEnd + 2]! << 16
  if (rest >= 2) tail ^= bytes[blockEnd + 1]! << 8
  if (rest >= 1) h ^= scramble(tail ^ bytes[blockEnd]!)
  h ^= length
  h ^= h >>> 16
  h = Math.imul(h, 0x85eb_ca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2_ae35)
  h ^= h >>> 16
  return h >>> 0
}

function scramble(k: number): number {
  k = Math.imul(k, 0xcc9e_2d51)
  k = (k << 15) | (k >>> 17)
  return Math.imul(k, 0x1b87_3593)
}
