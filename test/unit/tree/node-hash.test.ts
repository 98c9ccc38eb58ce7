/**
 * nodeHash's bytes must never change: snapshots store each node's hash and a restart
 * trusts them. nodeHash builds its JSON header by hand (no arrays, no byte array per
 * call), so it is pinned two ways: golden values computed by the JSON.stringify form it
 * replaced, and agreement with that form (written out below) on random nodes, with
 * paths and ACL strings that need JSON escaping, non-ASCII text and long paths.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { crc32 } from 'node:zlib'
import type { Acl } from '../../../protocol/index.js'
import { murmur3, nodeHash } from '../../../server/tree/digest.js'
import type { ZNode } from '../../../server/tree/znode.js'

/** referenceHash is the definition: MurmurHash3 lanes over the UTF-8 of JSON.stringify of the header array. */
function referenceHash(path: string, node: ZNode): bigint {
  const header = new TextEncoder().encode(
    JSON.stringify([
      path,
      String(node.czxid),
      String(node.mzxid),
      String(node.pzxid),
      node.ctime,
      node.mtime,
      node.version,
      node.cversion,
      node.aversion,
      String(node.ephemeralOwner),
      node.container,
      node.ttlMs,
      node.acl.map((entry) => [entry.perms, entry.scheme, entry.id]),
      node.data.length,
      node.data.length === 0 ? 0 : crc32(node.data),
    ]),
  )
  return (BigInt(murmur3(header, 0x9e37_79b9)) << 32n) | BigInt(murmur3(header, 0x0c0f_fee5))
}

const BASE: ZNode = {
  czxid: 0x1_0000_0001n,
  mzxid: 0x2_0000_0005n,
  pzxid: 0x2_0000_0007n,
  ctime: 1_764_000_000_123,
  mtime: 1_764_000_000_456,
  version: 3,
  cversion: 2,
  aversion: 1,
  ephemeralOwner: 0n,
  container: false,
  ttlMs: 0,
  acl: [{ perms: 31, scheme: 'world', id: 'anyone' }],
  data: new TextEncoder().encode('hello'),
  children: new Set(),
} as unknown as ZNode

describe('nodeHash', () => {
  it('gives the hashes snapshots already store', () => {
    expect(nodeHash('/app/config', BASE).toString(16)).toBe('b86e1eb48b6eb264')
    const escaped = {
      ...BASE,
      ephemeralOwner: 0x0100_0000_0000_0abcn,
      container: true,
      ttlMs: 60_000,
      acl: [
        { perms: 1, scheme: 'digest', id: 'user:"x"\\y' },
        { perms: 17, scheme: 'ip', id: '10.0.0.1' },
      ],
      data: new Uint8Array(0),
    }
    expect(nodeHash('/q/"quoted"\\back/é/😀', escaped).toString(16)).toBe('922216114f409895')
    const long = { ...BASE, version: -1, mzxid: 0xffff_ffff_ffff_ffffn }
    expect(nodeHash('/' + 'long-'.repeat(300), long).toString(16)).toBe('37ee0264e373d37b')
  })

  it('agrees with the JSON.stringify form on random nodes', () => {
    // Pieces JSON escapes or UTF-8 encodes specially: quotes, backslashes, control
    // characters, lone and paired surrogates, 2- and 3-byte characters.
    const tricky = fc.constantFrom(
      '"',
      '\\',
      '\n',
      '\u0000',
      '\u001f',
      '\ud800',
      '\udfff',
      '😀',
      'é',
      '\u2028',
      '€',
      '\u007f',
      'a/',
    )
    const text = fc
      .array(fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), tricky), { maxLength: 8 })
      .map((parts) => parts.join(''))
    const number = fc.oneof(
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: -1000, max: 0 }),
      fc.double(),
    )
    const acl: fc.Arbitrary<Acl> = fc.record({
      perms: fc.integer({ min: 0, max: 31 }),
      scheme: text,
      id: text,
    })
    const zxid = fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn })
    const node = fc.record({
      czxid: zxid,
      mzxid: zxid,
      pzxid: zxid,
      ctime: number,
      mtime: number,
      version: fc.integer({ min: -1, max: 0x7fff_ffff }),
      cversion: fc.integer({ min: -1, max: 0x7fff_ffff }),
      aversion: fc.integer({ min: -1, max: 0x7fff_ffff }),
      ephemeralOwner: zxid,
      container: fc.boolean(),
      ttlMs: fc.integer({ min: 0, max: 2 ** 40 }),
      acl: fc.array(acl, { maxLength: 3 }),
      data: fc.uint8Array({ maxLength: 64 }),
    })
    const path = fc.oneof(
      text.map((s) => '/' + s),
      fc.string({ unit: 'binary', minLength: 400, maxLength: 1200 }).map((s) => '/' + s),
    )
    fc.assert(
      fc.property(path, node, (p, fields) => {
        const n = { ...fields, children: new Set() } as unknown as ZNode
        expect(nodeHash(p, n)).toBe(referenceHash(p, n))
      }),
      { numRuns: 2000 },
    )
  })
})
