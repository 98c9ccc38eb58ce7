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
const encoder = new TextEncoder()

/**
 * headerBytes is nodeHash's scratch buffer for the UTF-8 of a node's header (grown for
 * long paths): nodeHash runs for every change applied, so it allocates no byte array.
 */
let headerBytes = new Uint8Array(1024)
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
 * dataCrc]` (zxids and the owner in decimal strings). The text is built by hand, field
 * by field as JSON.stringify would write it: stored snapshots carry these hashes, so
 * the bytes hashed must never change.
 */
export function nodeHash(path: string, node: ZNode): bigint {
  const text =
    `[${JSON.stringify(path)},"${node.czxid}","${node.mzxid}","${node.pzxid}",` +
    `${jsonNumber(node.ctime)},${jsonNumber(node.mtime)},${jsonNumber(node.version)},` +
    `${jsonNumber(node.cversion)},${jsonNumber(node.aversion)},"${node.ephemeralOwner}",` +
    `${node.container},${jsonNumber(node.ttlMs)},${aclText(node.acl)},` +
    `${node.data.length},${dataCrc(node.data)}]`
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  if (text.length * 3 > headerBytes.length) headerBytes = new Uint8Array(text.length * 3)
  const { written } = encoder.encodeInto(text, headerBytes)
  hashWords.setUint32(0, murmur3(headerBytes, HIGH_SEED, written))
  hashWords.setUint32(4, murmur3(headerBytes, LOW_SEED, written))
  return hashWords.getBigUint64(0)
}

/** jsonNumber writes a number as JSON.stringify does (non-finite ones as null). */
function jsonNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null'
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
