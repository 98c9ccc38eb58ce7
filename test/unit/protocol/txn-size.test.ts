/**
 * txnBytesBound must never be below the real encoding (every byte budget between
 * members and every refusal of an oversized txn relies on it), and must stay close to
 * it, or budgets would refuse what fits.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  encodeMessage,
  txnBytesBound,
  utf8Bytes,
  type Acl,
  type Txn,
  type TxnMultiOp,
  type TxnOp,
} from '../../../protocol/index.js'

const text = fc.string({ unit: 'binary', maxLength: 300 })
const path = text.map((s) => '/' + s)
const data = fc.uint8Array({ maxLength: 2000 })
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
const int = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
const acl: fc.Arbitrary<Acl[]> = fc.array(
  fc.record({ perms: fc.integer({ min: 0, max: 31 }), scheme: text, id: text }),
  { maxLength: 5 },
)
const create = fc.record({
  type: fc.constant('create' as const),
  path,
  data,
  acl,
  ephemeralOwner: u64,
  container: fc.boolean(),
  ttlMs: fc.nat(),
  parentCversion: int,
})
const remove = fc.record({ type: fc.constant('delete' as const), path })
const set = fc.record({ type: fc.constant('set' as const), path, data, version: int })
const multiOp: fc.Arbitrary<TxnMultiOp> = fc.oneof(
  create,
  remove,
  set,
  fc.record({ type: fc.constant('check' as const), path }),
)
const op: fc.Arbitrary<TxnOp> = fc.oneof(
  create,
  remove,
  set,
  fc.record({ type: fc.constant('setAcl' as const), path, acl, aversion: int }),
  fc.record({ type: fc.constant('multi' as const), ops: fc.array(multiOp, { maxLength: 20 }) }),
  fc.record({
    type: fc.constant('createSession' as const),
    sessionId: u64,
    timeoutMs: fc.nat(),
    password: fc.uint8Array({ maxLength: 64 }),
  }),
  fc.record({
    type: fc.constant('closeSession' as const),
    sessionId: u64,
    deletePaths: fc.array(path, { maxLength: 30 }),
  }),
  fc.record(
    {
      type: fc.constant('error' as const),
      code: int,
      reason: text,
      opErrors: fc.array(int, { maxLength: 30 }),
    },
    { requiredKeys: ['type', 'code'] },
  ),
)
const txn: fc.Arbitrary<Txn> = fc.record({
  zxid: u64,
  timeMs: fc.integer({ min: 0, max: 2 ** 52 }),
  sessionId: u64,
  xid: int,
  op,
})

describe('txnBytesBound', () => {
  it('utf8Bytes is the UTF-8 length, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => utf8Bytes(s) === Buffer.byteLength(s)),
    )
    for (const s of ['\ud800', 'a\udc00b', '\ud83d\ude00', 'é', '€'])
      expect(utf8Bytes(s)).toBe(Buffer.byteLength(s))
  })

  it('property: never below the encoding, and within 40 bytes a field above it', () => {
    fc.assert(
      fc.property(txn, (t) => {
        const encoded = encodeMessage(t).length
        const bound = txnBytesBound(t)
        expect(bound).toBeGreaterThanOrEqual(encoded)
        expect(bound).toBeLessThan(encoded + 40 * fieldsOf(t))
      }),
      { numRuns: 500 },
    )
  })

  it('counts every byte of large data and long paths', () => {
    const big: Txn = {
      zxid: 1n,
      timeMs: 0,
      sessionId: 0n,
      xid: 0,
      op: {
        type: 'set',
        path: '/' + 'x'.repeat(4000),
        data: new Uint8Array(1_000_000),
        version: 1,
      },
    }
    expect(txnBytesBound(big)).toBeGreaterThanOrEqual(encodeMessage(big).length)
    expect(txnBytesBound(big)).toBeLessThan(encodeMessage(big).length + 400)
  })
})

/** fieldsOf counts the fields and list entries of a txn, the unit the bound's slack is allowed per. */
function fieldsOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + value.reduce((n: number, v) => n + fieldsOf(v), 0)
  if (value instanceof Uint8Array || typeof value !== 'object' || value === null) return 1
  return 1 + Object.values(value).reduce((n: number, v) => n + fieldsOf(v), 0)
}
