/**
 * TxnBuilder: every write error ZooKeeper defines, checked against the pending state,
 * with pipelined requests that validate as if the ones before them had been applied
 * (reference §3 PrepRequestProcessor, §8 multi). Each test prepares through the real
 * builder and, where it matters, applies through the real tree.
 */
import { describe, expect, it } from 'vitest'
import { ErrorCode, type MultiResult } from '../../../protocol/index.js'
import { Kit, bytes } from './builder-kit.js'

const codeOf = (k: Kit, request: Parameters<Kit['prepare']>[0], sessionId = 1n) => {
  const txn = k.prepare(request, sessionId)
  return txn.op.type === 'error' ? txn.op.code : 0
}

describe('create', () => {
  it('refuses what ZooKeeper refuses', () => {
    const k = new Kit(16)
    k.create('/p')
    k.create('/p/eph', '', 'ephemeral')
    const create = (path: string, extra: object = {}) => ({ op: 'create' as const, path, data: bytes(''), mode: 'persistent' as const, ...extra })
    expect(codeOf(k, create('/missing/child'))).toBe(ErrorCode.NO_NODE)
    expect(codeOf(k, create('/p'))).toBe(ErrorCode.NODE_EXISTS)
    expect(codeOf(k, create('/p/eph/kid'))).toBe(ErrorCode.NO_CHILDREN_FOR_EPHEMERALS)
    expect(codeOf(k, create('/zookeeper/x'))).toBe(ErrorCode.BAD_ARGUMENTS)
    expect(codeOf(k, create('/big', { data: bytes('x'.repeat(17)) }))).toBe(ErrorCode.BAD_ARGUMENTS)
    expect(codeOf(k, create('/ttl', { mode: 'ephemeral', ttlMs: 10 }))).toBe(ErrorCode.BAD_ARGUMENTS)
    expect(codeOf(k, create('/ttl', { mode: 'container', ttlMs: 10 }))).toBe(ErrorCode.BAD_ARGUMENTS)
    expect(codeOf(k, create('/ttl', { ttlMs: 0 }))).toBe(ErrorCode.BAD_ARGUMENTS)
    expect(codeOf(k, create('/e', { mode: 'ephemeral' }), 0n)).toBe(ErrorCode.BAD_ARGUMENTS)
    expect(codeOf(k, create('/acl', { acl: [] }))).toBe(ErrorCode.INVALID_ACL)
    expect(codeOf(k, create('/ok', { ttlMs: 10 }))).toBe(0)
  })

  it('names sequential nodes from the parent cversion, shared across prefixes, never reused', () => {
    const k = new Kit()
    k.create('/q')
    const name = (prefix: string, mode: 'persistent-sequential' | 'ephemeral-sequential' = 'persistent-sequential') =>
      (k.create(prefix, '', mode).result as { path: string }).path
    expect(name('/q/a-')).toBe('/q/a-0000000000')
    expect(name('/q/b-', 'ephemeral-sequential')).toBe('/q/b-0000000001')
    k.create('/q/plain')
    expect(name('/q/')).toBe('/q/0000000003')
    k.run({ op: 'delete', path: '/q/0000000003', version: -1 })
    expect(name('/q/a-')).toBe('/q/a-0000000004')
  })

  it('makeParents creates missing ancestors as persistent nodes in one txn', () => {
    const k = new Kit()
    const txn = k.prepare({ op: 'create', path: '/a/b/c', data: bytes('leaf'), mode: 'ephemeral', makeParents: true })
    expect(txn.op.type).toBe('multi')
    if (txn.op.type !== 'multi') return
    expect(txn.op.ops.map((o) => ('path' in o ? o.path : ''))).toEqual(['/a', '/a/b', '/a/b/c'])
    k.apply(txn)
    expect(k.tree.stat('/a/b')?.ephemeralOwner).toBe(0n)
    expect(k.tree.stat('/a/b/c')?.ephemeralOwner).toBe(1n)
    // A failure in the target leaves no ancestor behind.
    const failed = k.prepare({ op: 'create', path: '/x/y/zookeeper/../z', data: bytes(''), mode: 'persistent', makeParents: true })
    expect(failed.op.type).toBe('error')
    expect(k.builder.pendingRecords).toBe(0)
  })
})

describe('set and delete', () => {
  it('checks versions, children and the reserved paths', () => {
    const k = new Kit()
    k.create('/n')
    k.create('/n/kid')
    expect(codeOf(k, { op: 'set', path: '/n', data: bytes(''), version: 3 })).toBe(ErrorCode.BAD_VERSION)
    expect(codeOf(k, { op: 'set', path: '/none', data: bytes(''), version: -1 })).toBe(ErrorCode.NO_NODE)
    expect(codeOf(k, { op: 'set', path: '/zookeeper', data: bytes(''), version: -1 })).toBe(ErrorCode.BAD_ARGUMENTS)
    expect(codeOf(k, { op: 'delete', path: '/n', version: -1 })).toBe(ErrorCode.NOT_EMPTY)
    expect(codeOf(k, { op: 'delete', path: '/n/kid', version: 5 })).toBe(ErrorCode.BAD_VERSION)
    expect(codeOf(k, { op: 'delete', path: '/none', version: -1 })).toBe(ErrorCode.NO_NODE)
    expect(codeOf(k, { op: 'delete', path: '/', version: -1 })).toBe(ErrorCode.BAD_ARGUMENTS)
    expect(codeOf(k, { op: 'delete', path: '/zookeeper', version: -1 })).toBe(ErrorCode.BAD_ARGUMENTS)
  })

  it('wraps the version past 2^31-1 to 0, never -1', () => {
    const k = new Kit()
    k.create('/v')
    // Drive the pending version up quickly through the builder's own rule.
    const txn = k.prepare({ op: 'set', path: '/v', data: bytes(''), version: 0 })
    expect(txn.op).toMatchObject({ version: 1 })
    const node = (k.builder as unknown as { pending: { record(p: string, n: object, z: bigint): void; get(p: string): object } }).pending
    node.record('/v', { ...node.get('/v'), version: 0x7fff_ffff }, txn.zxid)
    expect(k.prepare({ op: 'set', path: '/v', data: bytes(''), version: 0x7fff_ffff }).op).toMatchObject({ version: 0 })
  })
})

describe('pipelined prepares see the pending state', () => {
  it('create a then a/b before either is applied', () => {
    const k = new Kit()
    const a = k.prepare({ op: 'create', path: '/a', data: bytes(''), mode: 'persistent' })
    const b = k.prepare({ op: 'create', path: '/a/b', data: bytes(''), mode: 'persistent' })
    expect([a.op.type, b.op.type]).toEqual(['create', 'create'])
    k.apply(a)
    k.apply(b)
    expect(k.tree.children('/a')).toEqual(['b'])
    expect(k.builder.pendingRecords).toBe(0)
  })

  it('delete then re-create, and a second delete fails', () => {
    const k = new Kit()
    k.create('/d')
    expect(codeOf(k, { op: 'delete', path: '/d', version: -1 })).toBe(0)
    expect(codeOf(k, { op: 'delete', path: '/d', version: -1 })).toBe(ErrorCode.NO_NODE)
    expect(codeOf(k, { op: 'create', path: '/d', data: bytes(''), mode: 'persistent' })).toBe(0)
    expect(codeOf(k, { op: 'create', path: '/d', data: bytes(''), mode: 'persistent' })).toBe(ErrorCode.NODE_EXISTS)
  })

  it('two sequential creates before apply get distinct names', () => {
    const k = new Kit()
    k.create('/s')
    const one = k.prepare({ op: 'create', path: '/s/x-', data: bytes(''), mode: 'persistent-sequential' })
    const two = k.prepare({ op: 'create', path: '/s/x-', data: bytes(''), mode: 'persistent-sequential' })
    expect(one.op).toMatchObject({ path: '/s/x-0000000000', parentCversion: 1 })
    expect(two.op).toMatchObject({ path: '/s/x-0000000001', parentCversion: 2 })
  })

  it('BAD_VERSION against a pending set; NOT_EMPTY against a pending child', () => {
    const k = new Kit()
    k.create('/v')
    expect(codeOf(k, { op: 'set', path: '/v', data: bytes('1'), version: 0 })).toBe(0)
    expect(codeOf(k, { op: 'set', path: '/v', data: bytes('2'), version: 0 })).toBe(ErrorCode.BAD_VERSION)
    expect(codeOf(k, { op: 'set', path: '/v', data: bytes('2'), version: 1 })).toBe(0)
    expect(codeOf(k, { op: 'create', path: '/v/kid', data: bytes(''), mode: 'persistent' })).toBe(0)
    expect(codeOf(k, { op: 'delete', path: '/v', version: -1 })).toBe(ErrorCode.NOT_EMPTY)
  })

  it('closeSession includes a pending ephemeral create and skips a pending delete', () => {
    const k = new Kit()
    k.create('/e')
    k.create('/e/old', '', 'ephemeral', {}, 5n)
    k.create('/e/gone', '', 'ephemeral', {}, 5n)
    k.prepare({ op: 'create', path: '/e/new', data: bytes(''), mode: 'ephemeral' }, 5n)
    k.prepare({ op: 'delete', path: '/e/gone', version: -1 }, 5n)
    const close = k.builder.prepareCloseSession(k.header(5n), 5n)
    expect(close.op).toEqual({ type: 'closeSession', sessionId: 5n, deletePaths: ['/e/new', '/e/old'] })
  })

  it('reset forgets prepared changes', () => {
    const k = new Kit()
    k.prepare({ op: 'create', path: '/r', data: bytes(''), mode: 'persistent' })
    k.builder.reset()
    expect(codeOf(k, { op: 'create', path: '/r/kid', data: bytes(''), mode: 'persistent' })).toBe(ErrorCode.NO_NODE)
  })
})

describe('multi', () => {
  it('each op sees the earlier ones; all-or-nothing with per-op errors', () => {
    const k = new Kit()
    k.create('/m')
    const ok = k.run({
      op: 'multi',
      ops: [
        { op: 'create', path: '/m/a', data: bytes(''), mode: 'persistent' },
        { op: 'create', path: '/m/a/b', data: bytes(''), mode: 'persistent' },
        { op: 'set', path: '/m/a', data: bytes('x'), version: 0 },
        { op: 'check', path: '/m/a', version: 1 },
      ],
    })
    expect(ok.err).toBe(0)
    expect((ok.result as { results: MultiResult[] }).results.map((r) => r.op)).toEqual(['create', 'create', 'set', 'check'])

    const digest = k.tree.digest()
    const failed = k.run({
      op: 'multi',
      ops: [
        { op: 'create', path: '/m/c', data: bytes(''), mode: 'persistent' },
        { op: 'delete', path: '/m/a', version: -1 },
        { op: 'set', path: '/m', data: bytes(''), version: -1 },
      ],
    })
    expect(failed.err).toBe(ErrorCode.NOT_EMPTY)
    expect((failed.result as { results: MultiResult[] }).results.map((r) => r.err)).toEqual([0, ErrorCode.NOT_EMPTY, ErrorCode.RUNTIME_INCONSISTENCY])
    expect(failed.message).toMatch(/op 1 \(delete\)/)
    expect(k.tree.digest()).toBe(digest)
    // Nothing of the failed multi lingers in the pending state.
    expect(codeOf(k, { op: 'create', path: '/m/c', data: bytes(''), mode: 'persistent' })).toBe(0)
  })
})
