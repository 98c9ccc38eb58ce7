/**
 * The tree digest: a 64-bit sum of per-node hashes, so it is updated in O(1) per
 * change and does not depend on the order nodes were created in. Two replicas with
 * equal trees have equal digests; replicas can compare them at equal zxids.
 */
import { crc32 } from 'node:zlib'
import type { ZNode } from './znode.js'

const MASK_64 = (1n << 64n) - 1n
/** A second CRC seed gives the high 32 bits; two independent CRCs make a 64-bit hash. */
const HIGH_SEED = 0x9e37_79b9
const encoder = new TextEncoder()

/** nodeHash hashes a node's path, persisted Stat fields, flags, ACL and data. */
export function nodeHash(path: string, node: ZNode): bigint {
  const acl = node.acl.map((a) => `${a.perms}:${a.scheme}:${a.id}`).join(',')
  const header = encoder.encode(
    [
      path,
      node.czxid,
      node.mzxid,
      node.pzxid,
      node.ctime,
      node.mtime,
      node.version,
      node.cversion,
      node.aversion,
      node.ephemeralOwner,
      node.container ? 1 : 0,
      node.ttlMs,
      acl,
      node.children.size,
    ].join('\u0000'),
  )
  return (BigInt(crcContinue(node.data, crc32(header, HIGH_SEED))) << 32n) | BigInt(crcContinue(node.data, crc32(header)))
}

/** addHash adds (or with `sign` -1 removes) a node hash to a digest, mod 2^64. */
export function addHash(digest: bigint, hash: bigint, sign: 1 | -1): bigint {
  return (digest + (sign === 1 ? hash : -hash)) & MASK_64
}

/**
 * crcContinue extends a running CRC over `data`. NB: Node 20's zlib.crc32 returns 0,
 * not the running value, for an empty array whose ArrayBuffer is also empty (such as
 * `new TextEncoder().encode('')`), so empty data is skipped here.
 */
function crcContinue(data: Uint8Array, running: number): number {
  return data.length === 0 ? running : crc32(data, running)
}
