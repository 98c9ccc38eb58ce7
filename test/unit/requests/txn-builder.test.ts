/**
 * TxnBuilder: every write rule and error ZooKeeper defines (reference §3
 * PrepRequestProcessor, §5 limits and node types, §8 multi), checked through the real
 * builder and, where the resulting state matters, applied through the real tree.
 * Pipelining against the pending state has its own file (pipelining.test.ts).
 */
import { describe, expect, it } from 'vitest'
import {
  ErrorCode,
  MULTI_OPS_MAX,
  OPEN_ACL_UNSAFE,
  TTL_MS_MAX,
  type CreateRequest,
  type MultiResult,
} from '../../../protocol/index.js'
import { DataTree } from '../../../server/tree/data-tree.js'
import { PendingStateError } from '../../../server/requests/pending-state.js'
import { Kit, bytes, codeOfTxn } from './builder-kit.js'

const codeOf = (k: Kit, request: Parameters<Kit['prepare']>[0], sessionId = 1n) =>
  codeOfTxn(k.prepare(request, sessionId))
const create = (path: string, extra: Partial<CreateRequest> = {}): CreateRequest => ({
  op: 'create',
  path,
  data: bytes(''),
  mode: 'persistent',
  ...extra,
})

describe('create', () => {
  it('builds a state-setting txn: owner, flags, ACL and the parent cversion after the create', () => {
    const k = new Kit()
    k.create('/p')
    expect(k.prepare(create('/p/e', { mode: 'ephemeral', data: bytes('d') }), 6n).op).toEqual({
      type: 'create',
      path: '/p/e',
      data: bytes('d'),
      acl: [...OPEN_ACL_UNSAFE],
      ephemeralOwner: 6n,
      container: false,
      ttlMs: 0,
      parentCversion: 1,
    })
    expect(k.prepare(create('/p/c', { mode: 'container' })).op).toMatchObject({
      container: true,
      ephemeralOwner: 0n,
      parentCversion: 2,
    })
    expect(k.prepare(create('/p/t', { ttlMs: 500 })).op).toMatchObject({
      ttlMs: 500,
      container: false,
    })
    const acl = [{ perms: 1, scheme: 'world', id: 'anyone' }]
    expect(k.prepare(create('/p/acl', { acl })).op).toMatchObject({ acl })
  })

  it('refuses what ZooKeeper refuses, with the code and a reason naming the path', () => {
    const k = new Kit(16)
    k.create('/p')
    k.create('/p/eph', '', 'ephemeral')
    const cases: [CreateRequest, number, RegExp, bigint?][] = [
      [
        create('/missing/child'),
        ErrorCode.NO_NODE,
        /parent \/missing of \/missing\/child does not exist/,
      ],
      [create('/p'), ErrorCode.NODE_EXISTS, /\/p already exists/],
      [create('/p/eph/kid'), ErrorCode.NO_CHILDREN_FOR_EPHEMERALS, /\/p\/eph is ephemeral/],
      [create('/zookeeper'), ErrorCode.BAD_ARGUMENTS, /reserved/],
      [create('/zookeeper/x'), ErrorCode.BAD_ARGUMENTS, /reserved/],
      [create('/zookeeper/deep/er'), ErrorCode.BAD_ARGUMENTS, /reserved/],
      [
        create('/big', { data: bytes('x'.repeat(17)) }),
        ErrorCode.BAD_ARGUMENTS,
        /17 bytes, over the limit of 16/,
      ],
      [
        create('/ttl', { mode: 'ephemeral', ttlMs: 10 }),
        ErrorCode.BAD_ARGUMENTS,
        /ttlMs is only allowed with persistent modes/,
      ],
      [create('/ttl', { mode: 'container', ttlMs: 10 }), ErrorCode.BAD_ARGUMENTS, /ttlMs/],
      [
        create('/ttl', { mode: 'ephemeral-sequential', ttlMs: 10 }),
        ErrorCode.BAD_ARGUMENTS,
        /ttlMs/,
      ],
      [create('/ttl', { ttlMs: 0 }), ErrorCode.BAD_ARGUMENTS, /ttlMs for \/ttl must be an integer/],
      [create('/ttl', { ttlMs: TTL_MS_MAX + 1 }), ErrorCode.BAD_ARGUMENTS, /ttlMs/],
      [create('/ttl', { ttlMs: 1.5 }), ErrorCode.BAD_ARGUMENTS, /ttlMs/],
      [
        create('/e', { mode: 'ephemeral' }),
        ErrorCode.BAD_ARGUMENTS,
        /ephemeral \/e needs a session/,
        0n,
      ],
      [
        create('/e', { mode: 'ephemeral-sequential' }),
        ErrorCode.BAD_ARGUMENTS,
        /needs a session/,
        0n,
      ],
      [create('/acl', { acl: [] }), ErrorCode.INVALID_ACL, /at least one entry/],
      [create('/bad//path'), ErrorCode.BAD_ARGUMENTS, /empty segment/],
      [create('/trailing/'), ErrorCode.BAD_ARGUMENTS, /must not end with/],
      [create('relative'), ErrorCode.BAD_ARGUMENTS, /must start with/],
      [create('/a/../b'), ErrorCode.BAD_ARGUMENTS, /\.\./],
      [create('/mode', { mode: 'sticky' as never }), ErrorCode.BAD_ARGUMENTS, /unknown mode/],
    ]
    for (const [request, code, reason, sessionId] of cases) {
      const txn = k.prepare(request, sessionId ?? 1n)
      expect(txn.op, request.path).toMatchObject({ type: 'error', code })
      expect(txn.op.type === 'error' ? txn.op.reason : '', request.path).toMatch(reason)
    }
    expect(codeOf(k, create('/ok', { ttlMs: 10 }))).toBe(0)
    expect(codeOf(k, create('/ok-seq-', { mode: 'persistent-sequential', ttlMs: 10 }))).toBe(0)
    expect(codeOf(k, create('/exact', { data: bytes('x'.repeat(16)) }))).toBe(0)
    expect(codeOf(k, create('/zookeeper-is-not-reserved'))).toBe(0)
  })

  it('names sequential nodes from the parent cversion, shared across prefixes, never reused', () => {
    const k = new Kit()
    k.create('/q')
    const name = (
      prefix: string,
      mode: 'persistent-sequential' | 'ephemeral-sequential' = 'persistent-sequential',
    ) => (k.create(prefix, '', mode).result as { path: string }).path
    expect(name('/q/a-')).toBe('/q/a-0000000000')
    expect(name('/q/b-', 'ephemeral-sequential')).toBe('/q/b-0000000001')
    k.create('/q/plain') // a plain create advances the counter too
    expect(name('/q/')).toBe('/q/0000000003') // a trailing slash is allowed for sequential modes
    k.remove('/q/0000000003')
    expect(name('/q/a-')).toBe('/q/a-0000000004')
    expect(k.tree.stat('/q')).toMatchObject({ cversion: 5, numChildren: 4 })
    expect(name('/')).toMatch(/^\/\d{10}$/) // sequential children of the root
  })

  it('wraps the sequence counter like a Java int: 2^31-1, then -2^31', () => {
    const records = [...new DataTree().snapshotEntries()].map((r) =>
      r.path === '/' ? { ...r, cversion: 0x7fff_ffff } : r,
    )
    const k = new Kit(1024, DataTree.fromSnapshot(records, 0n))
    expect(k.prepare(create('/s-', { mode: 'persistent-sequential' })).op).toMatchObject({
      path: '/s-2147483647',
      parentCversion: -0x8000_0000,
    })
    k.apply(k.log[0]!)
    expect(k.prepare(create('/s-', { mode: 'persistent-sequential' })).op).toMatchObject({
      path: '/s--2147483648',
      parentCversion: -0x7fff_ffff,
    })
  })

  it('makeParents creates missing ancestors as persistent nodes in one multi txn', () => {
    const k = new Kit()
    k.create('/a')
    const txn = k.prepare({
      ...create('/a/b/c', { data: bytes('leaf'), mode: 'ephemeral' }),
      makeParents: true,
    })
    expect(txn.op.type).toBe('multi')
    expect(
      txn.op.type === 'multi' &&
        txn.op.ops.map((o) => [o.path, o.type === 'create' ? o.ephemeralOwner : null]),
    ).toEqual([
      ['/a/b', 0n],
      ['/a/b/c', 1n],
    ])
    k.apply(txn)
    expect(k.tree.stat('/a/b')).toMatchObject({
      ephemeralOwner: 0n,
      czxid: txn.zxid,
      numChildren: 1,
    })
    expect(k.tree.getData('/a/b/c')?.data).toEqual(bytes('leaf'))
    // With every ancestor present it is a plain create; a sequential target works too.
    expect(k.prepare({ ...create('/a/x'), makeParents: true }).op.type).toBe('create')
    expect(
      k.prepare({ ...create('/n/m/s-', { mode: 'persistent-sequential' }), makeParents: true }).op,
    ).toMatchObject({
      type: 'multi',
      ops: [{ path: '/n' }, { path: '/n/m' }, { path: '/n/m/s-0000000000' }],
    })
  })

  it('makeParents creates nothing when the request itself is bad or an ancestor is ephemeral', () => {
    const k = new Kit(4)
    k.create('/e', '', 'ephemeral')
    const records = k.builder.pendingRecords
    expect(codeOf(k, { ...create('/x/y/z', { data: bytes('too big') }), makeParents: true })).toBe(
      ErrorCode.BAD_ARGUMENTS,
    )
    expect(codeOf(k, { ...create('/zookeeper/a/b'), makeParents: true })).toBe(
      ErrorCode.BAD_ARGUMENTS,
    )
    expect(codeOf(k, { ...create('/x/../z'), makeParents: true })).toBe(ErrorCode.BAD_ARGUMENTS)
    expect(codeOf(k, { ...create('/e/kid/grandkid'), makeParents: true })).toBe(
      ErrorCode.NO_CHILDREN_FOR_EPHEMERALS,
    )
    expect(k.builder.pendingRecords).toBe(records)
    expect(codeOf(k, create('/x'))).toBe(0) // /x was not left behind as pending
  })
})

describe('set and delete', () => {
  it('refuse bad versions, missing nodes, children and the reserved paths', () => {
    const k = new Kit(8)
    k.create('/n')
    k.create('/n/kid')
    const cases: [Parameters<Kit['prepare']>[0], number][] = [
      [{ op: 'set', path: '/n', data: bytes(''), version: 3 }, ErrorCode.BAD_VERSION],
      [{ op: 'set', path: '/none', data: bytes(''), version: -1 }, ErrorCode.NO_NODE],
      [{ op: 'set', path: '/zookeeper', data: bytes(''), version: -1 }, ErrorCode.BAD_ARGUMENTS],
      [{ op: 'set', path: '/n', data: bytes('123456789'), version: -1 }, ErrorCode.BAD_ARGUMENTS],
      [{ op: 'set', path: '/n', data: bytes(''), version: -2 }, ErrorCode.BAD_ARGUMENTS],
      [{ op: 'set', path: '/n', data: bytes(''), version: 0.5 }, ErrorCode.BAD_ARGUMENTS],
      [{ op: 'set', path: 'n', data: bytes(''), version: -1 }, ErrorCode.BAD_ARGUMENTS],
      [{ op: 'delete', path: '/n', version: -1 }, ErrorCode.NOT_EMPTY],
      [{ op: 'delete', path: '/n/kid', version: 5 }, ErrorCode.BAD_VERSION],
      [{ op: 'delete', path: '/none', version: -1 }, ErrorCode.NO_NODE],
      [{ op: 'delete', path: '/', version: -1 }, ErrorCode.BAD_ARGUMENTS],
      [{ op: 'delete', path: '/zookeeper', version: -1 }, ErrorCode.BAD_ARGUMENTS],
      [{ op: 'delete', path: '/n/', version: -1 }, ErrorCode.BAD_ARGUMENTS],
    ]
    const digest = k.tree.digest()
    const start = k.log.length
    for (const [request, code] of cases)
      expect(codeOf(k, request), JSON.stringify(request)).toBe(code)
    expect(k.builder.pendingRecords).toBe(0) // error txns record no change
    for (const txn of k.log.slice(start)) k.apply(txn)
    expect(k.tree.digest()).toBe(digest)
  })

  it('set carries the next version; the expected version may be -1 or the current one', () => {
    const k = new Kit()
    k.create('/v')
    expect(k.prepare({ op: 'set', path: '/v', data: bytes('a'), version: 0 }).op).toEqual({
      type: 'set',
      path: '/v',
      data: bytes('a'),
      version: 1,
    })
    expect(k.prepare({ op: 'set', path: '/v', data: bytes('b'), version: -1 }).op).toMatchObject({
      version: 2,
    })
    expect(codeOf(k, { op: 'delete', path: '/v', version: 1 })).toBe(ErrorCode.BAD_VERSION)
    expect(k.prepare({ op: 'delete', path: '/v', version: 2 }).op).toEqual({
      type: 'delete',
      path: '/v',
    })
  })

  it('wraps the version past 2^31-1 to 0, never -1', () => {
    const k = new Kit()
    k.create('/v')
    const records = [...k.tree.snapshotEntries()].map((r) =>
      r.path === '/v' ? { ...r, version: 0x7fff_ffff } : r,
    )
    const wrapped = new Kit(1024, DataTree.fromSnapshot(records, k.tree.appliedZxid))
    const txn = wrapped.prepare({ op: 'set', path: '/v', data: bytes('x'), version: 0x7fff_ffff })
    expect(txn.op).toMatchObject({ type: 'set', version: 0 })
    wrapped.apply(txn)
    expect(wrapped.tree.stat('/v')?.version).toBe(0)
    expect(
      wrapped.prepare({ op: 'set', path: '/v', data: bytes('y'), version: 0 }).op,
    ).toMatchObject({ version: 1 })
  })
})

describe('multi', () => {
  it('each op sees the earlier ones; results line up with the ops', () => {
    const k = new Kit()
    k.create('/m')
    const ok = k.run({
      op: 'multi',
      ops: [
        { op: 'create', path: '/m/a', data: bytes(''), mode: 'persistent' },
        { op: 'create', path: '/m/a/b', data: bytes(''), mode: 'persistent' },
        { op: 'set', path: '/m/a', data: bytes('x'), version: 0 },
        { op: 'check', path: '/m/a', version: 1 },
        { op: 'delete', path: '/m/a/b', version: 0 },
        { op: 'create', path: '/m/s-', data: bytes(''), mode: 'persistent-sequential' },
      ],
    })
    expect(ok.err).toBe(0)
    const results = (ok.result as { results: MultiResult[] }).results
    expect(results.map((r) => [r.op, r.err, r.path])).toEqual([
      ['create', 0, '/m/a'],
      ['create', 0, '/m/a/b'],
      ['set', 0, undefined],
      ['check', 0, undefined],
      ['delete', 0, undefined],
      ['create', 0, '/m/s-0000000001'],
    ])
    // Each op's Stat is taken when that op applied, as ZooKeeper's per-op results are:
    // the set saw /m/a/b, which a later op of the same multi deleted.
    expect(results[2]?.stat).toEqual({ ...k.tree.stat('/m/a'), numChildren: 1 })
  })

  it('is all-or-nothing: a failing op fails the multi with per-op codes and changes nothing', () => {
    const k = new Kit()
    k.create('/m')
    k.create('/m/a')
    k.create('/m/a/kid')
    const digest = k.tree.digest()
    const txn = k.prepare({
      op: 'multi',
      ops: [
        { op: 'create', path: '/m/c', data: bytes(''), mode: 'persistent' },
        { op: 'delete', path: '/m/a', version: -1 },
        { op: 'set', path: '/m', data: bytes(''), version: -1 },
      ],
    })
    expect(txn.op).toMatchObject({
      type: 'error',
      code: ErrorCode.NOT_EMPTY,
      opErrors: [0, ErrorCode.NOT_EMPTY, ErrorCode.RUNTIME_INCONSISTENCY],
    })
    expect(txn.op.type === 'error' && txn.op.reason).toMatch(
      /^op 1 \(delete\): \/m\/a has 1 children/,
    )
    k.apply(txn)
    expect(k.tree.digest()).toBe(digest)
    // Nothing of the failed multi lingers in the pending state.
    expect(codeOf(k, create('/m/c'))).toBe(0)
    expect(k.prepare({ op: 'set', path: '/m', data: bytes(''), version: 0 }).op).toMatchObject({
      version: 1,
    })
  })

  it('check reports NO_NODE and BAD_VERSION, also against an earlier op of the same multi', () => {
    const k = new Kit()
    k.create('/c')
    const fail = (ops: Parameters<Kit['prepare']>[0]) => k.prepare(ops).op
    expect(fail({ op: 'multi', ops: [{ op: 'check', path: '/none', version: -1 }] })).toMatchObject(
      { code: ErrorCode.NO_NODE, opErrors: [ErrorCode.NO_NODE] },
    )
    expect(fail({ op: 'multi', ops: [{ op: 'check', path: '/c', version: 1 }] })).toMatchObject({
      code: ErrorCode.BAD_VERSION,
    })
    expect(
      fail({
        op: 'multi',
        ops: [
          { op: 'set', path: '/c', data: bytes(''), version: 0 },
          { op: 'check', path: '/c', version: 0 },
        ],
      }),
    ).toMatchObject({ code: ErrorCode.BAD_VERSION, opErrors: [0, ErrorCode.BAD_VERSION] })
    expect(
      fail({
        op: 'multi',
        ops: [
          { op: 'delete', path: '/c', version: 0 },
          { op: 'check', path: '/c', version: -1 },
          { op: 'check', path: '/', version: -1 },
        ],
      }),
    ).toMatchObject({
      code: ErrorCode.NO_NODE,
      opErrors: [0, ErrorCode.NO_NODE, ErrorCode.RUNTIME_INCONSISTENCY],
    })
    expect(fail({ op: 'multi', ops: [{ op: 'check', path: '/c', version: 0 }] })).toEqual({
      type: 'multi',
      ops: [{ type: 'check', path: '/c' }],
    })
  })

  it('an empty multi succeeds with no results; an oversized one is refused', () => {
    const k = new Kit()
    expect(k.run({ op: 'multi', ops: [] })).toEqual({ err: 0, result: { results: [] } })
    const ops = Array.from({ length: MULTI_OPS_MAX + 1 }, () => ({
      op: 'check' as const,
      path: '/',
      version: -1,
    }))
    expect(codeOf(k, { op: 'multi', ops })).toBe(ErrorCode.BAD_ARGUMENTS)
  })
})

describe('sessions and zxids', () => {
  it('createSession carries the session as given', () => {
    const k = new Kit()
    const password = new Uint8Array(16).fill(7)
    const txn = k.builder.prepareCreateSession(k.header(0n, 0), {
      sessionId: 0x0100_0000_0000_0001n,
      timeoutMs: 5000,
      password,
    })
    expect(txn.op).toEqual({
      type: 'createSession',
      sessionId: 0x0100_0000_0000_0001n,
      timeoutMs: 5000,
      password,
    })
    expect(k.builder.lastPreparedZxid).toBe(txn.zxid)
  })

  it('closeSession lists the session ephemerals sorted, and a session with none gets an empty list', () => {
    const k = new Kit()
    k.create('/z', '', 'ephemeral', {}, 4n)
    k.create('/a', '', 'ephemeral', {}, 4n)
    k.create('/p')
    k.create('/p/m', '', 'ephemeral', {}, 4n)
    expect(k.prepareClose(4n).op).toEqual({
      type: 'closeSession',
      sessionId: 4n,
      deletePaths: ['/a', '/p/m', '/z'],
    })
    expect(k.prepareClose(99n).op).toEqual({
      type: 'closeSession',
      sessionId: 99n,
      deletePaths: [],
    })
  })

  it('refuses a zxid that does not increase, a caller bug, without registering anything', () => {
    const k = new Kit()
    const first = k.prepare(create('/a'))
    const stale = { ...k.header(), zxid: first.zxid }
    expect(() => k.builder.prepare(create('/b'), stale)).toThrow(PendingStateError)
    expect(() => k.builder.prepareCloseSession(stale, 1n)).toThrow(/zxids must increase/)
    expect(() =>
      k.builder.prepareCreateSession(stale, {
        sessionId: 2n,
        timeoutMs: 1,
        password: new Uint8Array(0),
      }),
    ).toThrow(PendingStateError)
    expect(k.builder.outstandingTxns).toBe(1)
    k.apply(first)
    k.builder.reset()
    // After a reset the tree's applied zxid is still the floor.
    expect(() => k.builder.prepare(create('/b'), stale)).toThrow(PendingStateError)
    expect(codeOf(k, create('/b'))).toBe(0)
  })
})
