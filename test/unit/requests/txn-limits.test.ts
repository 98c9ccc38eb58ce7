/**
 * The txn limits of request preparation (issue 9): a write whose txn could not be
 * logged or sent between members is refused before it is proposed, with a reason
 * naming the size and the limit; makeParents never builds a multi over MULTI_OPS_MAX;
 * and no session may own more ephemerals than maxEphemeralsPerSession, nor more path
 * bytes than its closeSession txn can carry within the txn limit — counted in the
 * pending state, so pipelined creates, creates inside a multi and sequential names
 * are held to the same limits. The property test across all limits at once is
 * test/unit/txn-validity.test.ts.
 */
import { describe, expect, it } from 'vitest'
import {
  ERROR_REASON_CHARS_MAX,
  ErrorCode,
  MULTI_OPS_MAX,
  closeSessionBytesBound,
  decodeMessage,
  decodePeerMessage,
  encodeMessage,
  txnBytesBound,
  utf8Bytes,
  type CreateRequest,
  type NodeMode,
  type SessionId,
  type Txn,
} from '../../../protocol/index.js'
import { checkTxn } from '../../../protocol/txn-shape.js'
import { encodeRecord, readRecord } from '../../../server/storage/record.js'
import {
  DEFAULT_CONFIG,
  peerMessageBudgetBytesFor,
  txnBytesMaxFor,
} from '../../../server/runtime/config.js'
import { DataTree } from '../../../server/tree/data-tree.js'
import { Kit, bytes, codeOfTxn } from './builder-kit.js'

const create = (
  path: string,
  mode: NodeMode = 'persistent',
  extra: Partial<CreateRequest> = {},
): CreateRequest => ({
  op: 'create',
  path,
  data: bytes(''),
  mode,
  ...extra,
})
const reasonOf = (txn: Txn) => (txn.op.type === 'error' ? (txn.op.reason ?? '') : '')
/** chain is a path of `depth` segments named `segment`. */
const chain = (depth: number, segment = 'a') =>
  '/' + Array.from({ length: depth }, () => segment).join('/')

/** expectSendable checks a txn passes the shape check, fits its bound and the limit, and survives the log and peer codecs. */
function expectSendable(txn: Txn, txnBytesMax: number): void {
  expect(checkTxn(txn)).toEqual(txn)
  const encoded = encodeMessage(txn).length
  expect(encoded).toBeLessThanOrEqual(txnBytesBound(txn))
  expect(txnBytesBound(txn)).toBeLessThanOrEqual(txnBytesMax)
  expect(readRecord(encodeRecord(txn), 0)).toMatchObject({ kind: 'ok', txn })
  const proposal = encodeMessage({ type: 'proposal', epoch: 1, txns: [txn] })
  expect(proposal.length).toBeLessThanOrEqual(peerMessageBudgetBytesFor(DEFAULT_CONFIG))
  const unpacked = decodeMessage(proposal)
  expect(unpacked.ok && decodePeerMessage(unpacked.value)).toEqual({
    type: 'proposal',
    epoch: 1,
    txns: [txn],
  })
}

describe('makeParents', () => {
  it(`creates up to ${MULTI_OPS_MAX - 1} missing ancestors in one multi, and refuses one more before anything is proposed`, () => {
    const k = new Kit()
    const deepest = k.prepare(create(chain(MULTI_OPS_MAX), 'persistent', { makeParents: true }))
    expect(deepest.op).toMatchObject({ type: 'multi' })
    expect(deepest.op.type === 'multi' && deepest.op.ops.length).toBe(MULTI_OPS_MAX)
    expectSendable(deepest, txnBytesMaxFor(DEFAULT_CONFIG))

    const k2 = new Kit()
    const tooDeep = k2.prepare(
      create(chain(MULTI_OPS_MAX + 1, 'b'), 'persistent', { makeParents: true }),
    )
    expect(tooDeep.op).toMatchObject({ type: 'error', code: ErrorCode.BAD_ARGUMENTS })
    expect(reasonOf(tooDeep)).toMatch(
      `makeParents would create ${MULTI_OPS_MAX} missing ancestors; one create makes at most ${MULTI_OPS_MAX - 1}`,
    )
    expectSendable(tooDeep, txnBytesMaxFor(DEFAULT_CONFIG))
    k2.apply(tooDeep)
    expect(k2.tree.getNode('/b')).toBeUndefined()
    expect(k2.builder.pendingRecords).toBe(0)
  })

  it('counts only the missing ancestors: the same deep path is fine once most of it exists', () => {
    const k = new Kit()
    const half = chain(600)
    expect(codeOfTxn(k.prepare(create(half, 'persistent', { makeParents: true })))).toBe(0)
    // Not applied yet: the pending state already holds the first 600 levels.
    expect(codeOfTxn(k.prepare(create(chain(1200), 'persistent', { makeParents: true })))).toBe(0)
  })
})

describe('the txn limit', () => {
  it('refuses a create whose makeParents ancestors and data together outgrow it, naming the size and the limit', () => {
    const k = new Kit()
    const limit = txnBytesMaxFor(DEFAULT_CONFIG)
    // 819 segments of 4 letters: 818 ancestors, ~2 KiB each, plus 1 MiB of data.
    const path = chain(819, 'abcd')
    expect(utf8Bytes(path)).toBe(4095)
    const txn = k.prepare(
      create(path, 'persistent', {
        makeParents: true,
        data: new Uint8Array(DEFAULT_CONFIG.maxDataBytes),
      }),
    )
    expect(txn.op).toMatchObject({ type: 'error', code: ErrorCode.BAD_ARGUMENTS })
    expect(reasonOf(txn)).toMatch(
      new RegExp(
        `^this create makes a txn of up to (\\d+) bytes, over the txn limit of ${limit} bytes$`,
      ),
    )
    expect(Number(/up to (\d+)/.exec(reasonOf(txn))![1])).toBeGreaterThan(limit)
    // Nothing of it is pending: the same path without the data goes through.
    expect(k.builder.pendingRecords).toBe(0)
    const small = k.prepare(create(path, 'persistent', { makeParents: true }))
    expect(codeOfTxn(small)).toBe(0)
    expectSendable(small, limit)
  })

  it('refuses a multi whose txn outgrows it, and keeps none of its ops', () => {
    const k = new Kit(1024 * 1024, undefined, { txnBytesMax: 3 * 1024 * 1024 })
    const big = new Uint8Array(1024 * 1024)
    const ops = ['/x', '/y', '/z'].map((path) => ({
      op: 'create' as const,
      path,
      data: big,
      mode: 'persistent' as const,
    }))
    const txn = k.prepare({ op: 'multi', ops })
    expect(txn.op).toMatchObject({ type: 'error', code: ErrorCode.BAD_ARGUMENTS })
    expect(reasonOf(txn)).toMatch(
      /^this multi makes a txn of up to \d+ bytes, over the txn limit of 3145728 bytes$/,
    )
    expect(codeOfTxn(k.prepare({ op: 'multi', ops: ops.slice(0, 2) }))).toBe(0)
  })

  it('clips an error reason to what the txn shape accepts, so a refusal quoting a 4 KiB path is still logged', () => {
    const k = new Kit()
    // A quote is a valid path character that JSON.stringify doubles; the sequential suffix makes the final path invalid.
    const quoted = '/' + '"'.repeat(4094)
    const txn = k.prepare(create(quoted + '/', 'persistent-sequential'))
    expect(txn.op).toMatchObject({ type: 'error', code: ErrorCode.NO_NODE })
    k.create('/p')
    const long = '/p/' + 'x'.repeat(4093)
    expect(codeOfTxn(k.prepare(create(long)))).toBe(0)
    const exists = k.prepare(create(long))
    expect(exists.op).toMatchObject({ type: 'error', code: ErrorCode.NODE_EXISTS })
    const sequential = k.prepare(create('/p/' + '"'.repeat(4090), 'persistent-sequential'))
    expect(sequential.op).toMatchObject({ type: 'error', code: ErrorCode.BAD_ARGUMENTS })
    expect(reasonOf(sequential).length).toBeLessThanOrEqual(ERROR_REASON_CHARS_MAX)
    expect(reasonOf(sequential)).toMatch(/^invalid path "\/p\/(\\"){10,}.* \[\.\.\.\]$/)
    for (const t of [txn, exists, sequential]) expectSendable(t, txnBytesMaxFor(DEFAULT_CONFIG))
  })
})

describe('ephemerals per session', () => {
  it('refuses the ephemeral past maxEphemeralsPerSession with QUOTA_EXCEEDED naming the limit, pipelined or applied', () => {
    const k = new Kit(1024 * 1024, undefined, { ephemeralsPerSessionMax: 3 })
    k.create('/p')
    k.create('/p/applied', '', 'ephemeral', {}, 7n)
    // Two more pipelined (prepared, not applied) reach the limit; the fourth is refused.
    expect(codeOfTxn(k.prepare(create('/p/e1', 'ephemeral'), 7n))).toBe(0)
    expect(codeOfTxn(k.prepare(create('/p/s-', 'ephemeral-sequential'), 7n))).toBe(0)
    const refused = k.prepare(create('/p/e3', 'ephemeral'), 7n)
    expect(refused.op).toMatchObject({ type: 'error', code: ErrorCode.QUOTA_EXCEEDED })
    expect(reasonOf(refused)).toBe(
      'session 0x7 already owns 3 ephemerals, the limit per session (maxEphemeralsPerSession 3)',
    )
    expect(codeOfTxn(k.prepare(create('/p/e4', 'ephemeral-sequential'), 7n))).toBe(
      ErrorCode.QUOTA_EXCEEDED,
    )
    // Other sessions and persistent nodes are not affected.
    expect(codeOfTxn(k.prepare(create('/p/other', 'ephemeral'), 8n))).toBe(0)
    expect(codeOfTxn(k.prepare(create('/p/persistent'), 7n))).toBe(0)
    // A pending delete frees a slot before it is applied.
    expect(codeOfTxn(k.prepare({ op: 'delete', path: '/p/applied', version: -1 }, 7n))).toBe(0)
    expect(codeOfTxn(k.prepare(create('/p/e5', 'ephemeral'), 7n))).toBe(0)
    expect(codeOfTxn(k.prepare(create('/p/e6', 'ephemeral'), 7n))).toBe(ErrorCode.QUOTA_EXCEEDED)
  })

  it('holds the ephemerals inside a multi to the same limit, failing the op that crosses it', () => {
    const k = new Kit(1024 * 1024, undefined, { ephemeralsPerSessionMax: 2 })
    k.create('/p')
    k.create('/p/one', '', 'ephemeral', {}, 5n)
    const txn = k.prepare(
      {
        op: 'multi',
        ops: [
          create('/p/two', 'ephemeral'),
          create('/p/plain'),
          create('/p/three-', 'ephemeral-sequential'),
        ],
      },
      5n,
    )
    expect(txn.op).toMatchObject({
      type: 'error',
      code: ErrorCode.QUOTA_EXCEEDED,
      opErrors: [0, 0, ErrorCode.QUOTA_EXCEEDED],
    })
    expect(reasonOf(txn)).toMatch(/^op 2 \(create\): session 0x5 already owns 2 ephemerals/)
    // The failed multi left nothing pending: one more ephemeral still fits.
    expect(codeOfTxn(k.prepare(create('/p/two', 'ephemeral'), 5n))).toBe(0)
  })

  it('refuses the ephemeral whose path would make its session close outgrow the txn limit, counting UTF-8 bytes', () => {
    const txnBytesMax = 20_000
    const k = new Kit(1024 * 1024, undefined, { txnBytesMax })
    k.create('/p')
    // 'é' is two UTF-8 bytes: each path is 3 + 2 * 1900 = 3803 bytes, so the close of five is ~19.3 KB.
    const name = (i: number) => `/p/${i}${'é'.repeat(1900)}`.slice(0, 1903)
    const created: string[] = []
    const queued: Txn[] = []
    for (let i = 0; ; i++) {
      const txn = k.prepare(create(name(i), 'ephemeral'), 9n)
      if (txn.op.type === 'error') {
        expect(txn.op.code).toBe(ErrorCode.QUOTA_EXCEEDED)
        expect(reasonOf(txn)).toMatch(
          new RegExp(
            `^session 0x9 owns ${created.length} ephemerals with \\d+ bytes of paths; one more would make its close txn \\d+ bytes, over the txn limit of ${txnBytesMax} bytes$`,
          ),
        )
        break
      }
      created.push(name(i))
      queued.push(txn)
      if (i % 2 === 0) k.apply(queued.shift()!) // in order; some stay pending
    }
    while (queued.length > 0) k.apply(queued.shift()!)
    expect(created.length).toBe(5)
    const pathBytes = created.reduce((sum, p) => sum + utf8Bytes(p), 0)
    expect(closeSessionBytesBound(created.length, pathBytes)).toBeLessThanOrEqual(txnBytesMax)
    expect(
      closeSessionBytesBound(created.length + 1, pathBytes + utf8Bytes(name(5))),
    ).toBeGreaterThan(txnBytesMax)
    const close = k.prepareClose(9n)
    expect(close.op).toMatchObject({ type: 'closeSession', deletePaths: [...created].sort() })
    expectSendable(close, txnBytesMax)
    // A short name still fits where a long one does not.
    expect(codeOfTxn(k.prepare(create('/p/short', 'ephemeral'), 10n))).toBe(0)
  })

  it('a session filled to the default limits with ~3.9 KB names closes with a txn that fits the txn limit and every codec', () => {
    const k = new Kit()
    const limit = txnBytesMaxFor(DEFAULT_CONFIG)
    k.create('/locks')
    const name = (i: number) => `/locks/${String(i).padStart(6, '0')}-${'n'.repeat(3900)}`
    let created = 0
    for (; ; created++) {
      const txn = k.prepare(create(name(created), 'ephemeral'), 0x1234n)
      if (txn.op.type === 'error') {
        expect(txn.op.code).toBe(ErrorCode.QUOTA_EXCEEDED)
        expect(reasonOf(txn)).toMatch(`over the txn limit of ${limit} bytes`)
        break
      }
      k.apply(txn)
    }
    // ~2.1 MiB / (3,914 bytes + 24) ~ 566: the byte guarantee binds long before the count limit.
    expect(created).toBeGreaterThan(500)
    expect(created).toBeLessThan(DEFAULT_CONFIG.maxEphemeralsPerSession)
    const close = k.prepareClose(0x1234n)
    expect(close.op.type === 'closeSession' && close.op.deletePaths.length).toBe(created)
    expect(txnBytesBound(close)).toBeGreaterThan(limit - 4000)
    expectSendable(close, limit)
    k.apply(close)
    expect(k.tree.ephemeralsOf(0x1234n)).toEqual([])
  })

  it('keeps the pending footprint equal to the listed ephemerals through creates, deletes, closes and applies', () => {
    const k = new Kit(1024 * 1024, undefined, { ephemeralsPerSessionMax: 1000 })
    k.create('/p')
    const sessions: SessionId[] = [1n, 2n, 3n]
    let random = 42
    const next = (n: number) => {
      random = (random * 1_103_515_245 + 12_345) % 2 ** 31
      return random % n
    }
    const queued: Txn[] = []
    for (let step = 0; step < 600; step++) {
      const sessionId = sessions[next(3)]!
      const roll = next(10)
      if (roll < 5)
        queued.push(
          k.prepare(
            create(
              `/p/${next(40)}${'ü'.repeat(next(5))}`,
              next(2) === 0 ? 'ephemeral' : 'ephemeral-sequential',
            ),
            sessionId,
          ),
        )
      else if (roll < 8)
        queued.push(k.prepare({ op: 'delete', path: `/p/${next(40)}`, version: -1 }, sessionId))
      else if (roll < 9) queued.push(k.prepareClose(sessionId))
      else while (queued.length > 0) k.apply(queued.shift()!)
      if (next(3) === 0 && queued.length > 0) k.apply(queued.shift()!)
      for (const s of sessions) {
        // The builder's view, as the validator reads it, against a full listing.
        const listed = (
          k.builder as unknown as {
            pending: {
              ephemeralsOf(s: SessionId): string[]
              ephemeralFootprintOf(s: SessionId): unknown
            }
          }
        ).pending
        const paths = listed.ephemeralsOf(s)
        expect(listed.ephemeralFootprintOf(s)).toEqual({
          count: paths.length,
          pathBytes: paths.reduce((sum, p) => sum + utf8Bytes(p), 0),
        })
      }
    }
    while (queued.length > 0) k.apply(queued.shift()!)
    for (const s of sessions) {
      const paths = k.tree.ephemeralsOf(s)
      expect(k.tree.ephemeralFootprintOf(s)).toEqual({
        count: paths.length,
        pathBytes: paths.reduce((sum, p) => sum + utf8Bytes(p), 0),
      })
    }
  })
})

describe('prepareCloseTrim', () => {
  it('deletes, in multis within the txn limit, the ephemerals a close could not carry (created under a larger limit), pipelined', () => {
    const tree = new DataTree()
    const before = new Kit(1024 * 1024, tree, { txnBytesMax: 1_000_000 })
    before.create('/p')
    for (let i = 0; i < 40; i++)
      before.create(`/p/${i}-${'é'.repeat(2000)}`, '', 'ephemeral', {}, 3n)
    before.create('/p/other', '', 'ephemeral', {}, 4n)
    // Restarted with a lower limit: the same tree, a builder with a 30 KB txn limit.
    const k = new Kit(1024 * 1024, tree, { txnBytesMax: 30_000 })
    expect(k.prepareCloseTrim(4n)).toBeNull()
    const trims: Txn[] = []
    const queued: Txn[] = []
    for (let trim = k.prepareCloseTrim(3n); trim !== null; trim = k.prepareCloseTrim(3n)) {
      expect(trim.op.type).toBe('multi')
      expectSendable(trim, 30_000)
      trims.push(trim)
      queued.push(trim)
      if (trims.length % 2 === 0) k.apply(queued.shift()!) // in order; some stay pending
    }
    expect(trims.length).toBeGreaterThan(2)
    const close = k.prepareClose(3n)
    expectSendable(close, 30_000)
    for (const t of [...queued, close]) k.apply(t)
    expect(tree.ephemeralsOf(3n)).toEqual([])
    expect(tree.ephemeralsOf(4n)).toEqual(['/p/other'])
  })
})

describe('closeSessionBytesBound', () => {
  it('is txnBytesBound of the close txn it stands for', () => {
    const paths = ['/a', '/é/ü', '/' + 'x'.repeat(4000)]
    const txn: Txn = {
      zxid: 2n ** 63n,
      timeMs: 2 ** 52,
      sessionId: 2n ** 64n - 1n,
      xid: 0,
      op: { type: 'closeSession', sessionId: 2n ** 64n - 1n, deletePaths: paths },
    }
    expect(
      closeSessionBytesBound(
        paths.length,
        paths.reduce((sum, p) => sum + utf8Bytes(p), 0),
      ),
    ).toBe(txnBytesBound(txn))
    expect(closeSessionBytesBound(0, 0)).toBe(
      txnBytesBound({ ...txn, op: { type: 'closeSession', sessionId: 1n, deletePaths: [] } }),
    )
  })
})
