/**
 * DataTree semantics against ZooKeeper's rules (reference §5, §6, §8): Stat fields
 * after every kind of change, the watch changes each txn reports, idempotent replay,
 * the digest, reapability of containers and TTL nodes, and snapshot round trips.
 * Txns are produced by the real TxnBuilder through the Kit harness.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ErrorCode, makeZxid, type Stat } from '../../../protocol/index.js'
import { DataTree } from '../../../server/tree/data-tree.js'
import { Kit, bytes } from '../requests/builder-kit.js'

const statOk = (reply: { err: number; result?: unknown }) => {
  expect(reply.err).toBe(0)
  return (reply.result as { stat: Stat }).stat
}

describe('Stat rules', () => {
  it('create sets every zxid to its own and the parent pzxid and cversion', () => {
    const k = new Kit()
    const stat = statOk(k.create('/a', 'hello'))
    expect(stat).toMatchObject({ version: 0, cversion: 0, aversion: 0, dataLength: 5, numChildren: 0, ephemeralOwner: 0n })
    expect(stat.czxid).toBe(makeZxid(1, 1))
    expect(stat.mzxid).toBe(stat.czxid)
    expect(stat.pzxid).toBe(stat.czxid)
    expect(stat.ctime).toBe(k.nowMs)
    const root = k.tree.stat('/')!
    expect(root.pzxid).toBe(stat.czxid)
    expect(root.cversion).toBe(1)
    expect(root.numChildren).toBe(2) // /zookeeper and /a
  })

  it('set bumps version, mzxid and mtime only', () => {
    const k = new Kit()
    const created = statOk(k.create('/a', 'x'))
    k.nowMs += 50
    const set = statOk(k.run({ op: 'set', path: '/a', data: bytes('yy'), version: 0 }))
    expect(set).toMatchObject({ version: 1, cversion: 0, dataLength: 2, czxid: created.czxid, ctime: created.ctime, pzxid: created.pzxid })
    expect(set.mzxid > created.mzxid).toBe(true)
    expect(set.mtime).toBe(created.mtime + 50)
  })

  it('child create bumps cversion and pzxid; child delete moves pzxid but not cversion', () => {
    const k = new Kit()
    k.create('/p')
    const kid = statOk(k.create('/p/kid'))
    expect(k.tree.stat('/p')).toMatchObject({ cversion: 1, numChildren: 1, pzxid: kid.czxid, version: 0 })
    expect(k.run({ op: 'delete', path: '/p/kid', version: -1 }).err).toBe(0)
    const parent = k.tree.stat('/p')!
    expect(parent).toMatchObject({ cversion: 1, numChildren: 0 })
    expect(parent.pzxid).toBe(makeZxid(1, 3))
  })

  it('multi applies every op under one zxid', () => {
    const k = new Kit()
    k.create('/m')
    const reply = k.run({
      op: 'multi',
      ops: [
        { op: 'create', path: '/m/a', data: bytes('a'), mode: 'persistent' },
        { op: 'set', path: '/m', data: bytes('m'), version: 0 },
        { op: 'check', path: '/m/a', version: 0 },
      ],
    })
    expect(reply.err).toBe(0)
    const a = k.tree.stat('/m/a')!
    const m = k.tree.stat('/m')!
    expect(a.czxid).toBe(m.mzxid)
    expect(m.pzxid).toBe(a.czxid)
  })
})

describe('changes reported for watches', () => {
  it('create, set, delete and session close report ZooKeeper watch changes in order', () => {
    const k = new Kit()
    k.create('/w')
    const createTxn = k.prepare({ op: 'create', path: '/w/e', data: bytes(''), mode: 'ephemeral' }, 7n)
    expect(k.apply(createTxn).changes).toEqual([
      { type: 'created', path: '/w/e' },
      { type: 'childrenChanged', path: '/w' },
    ])
    const setTxn = k.prepare({ op: 'set', path: '/w', data: bytes('d'), version: -1 })
    expect(k.apply(setTxn).changes).toEqual([{ type: 'dataChanged', path: '/w' }])
    const close = k.builder.prepareCloseSession(k.header(7n), 7n)
    k.counter++
    expect(close.op).toMatchObject({ type: 'closeSession', deletePaths: ['/w/e'] })
    expect(k.apply(close).changes).toEqual([
      { type: 'deleted', path: '/w/e' },
      { type: 'childrenChanged', path: '/w' },
    ])
    expect(k.tree.ephemeralsOf(7n)).toEqual([])
  })

  it('setAcl and error txns change nothing watchable', () => {
    const k = new Kit()
    const failed = k.prepare({ op: 'delete', path: '/none', version: -1 })
    expect(failed.op.type).toBe('error')
    const before = k.tree.digest()
    expect(k.apply(failed)).toEqual({ changes: [], outcomes: [] })
    expect(k.tree.digest()).toBe(before)
    expect(k.tree.appliedZxid).toBe(failed.zxid)
  })
})

describe('replay and digest', () => {
  it('applying every txn twice leaves the tree and digest as applying once', () => {
    const k = new Kit()
    k.create('/r')
    k.create('/r/s-', 'a', 'persistent-sequential')
    k.create('/r/e', '', 'ephemeral', {}, 9n)
    k.run({ op: 'set', path: '/r', data: bytes('x'), version: -1 })
    k.run({ op: 'delete', path: '/r/s-0000000000', version: -1 })
    k.create('/r/deep/x', '', 'persistent', { makeParents: true })
    const once = new DataTree()
    const twice = new DataTree()
    for (const txn of k.log) {
      once.apply(txn)
      twice.apply(txn)
      twice.apply(txn)
    }
    expect(twice.digest()).toBe(once.digest())
    expect(once.digest()).toBe(k.tree.digest())
    expect([...twice.snapshotEntries()]).toEqual([...once.snapshotEntries()])
  })

  it('different histories reaching the same content agree; any field difference shows', () => {
    const a = new Kit()
    const b = new Kit()
    a.create('/x')
    a.create('/y')
    b.create('/x')
    b.create('/y')
    expect(a.tree.digest()).toBe(b.tree.digest())
    b.run({ op: 'set', path: '/y', data: bytes(''), version: -1 }) // same data, new version
    expect(a.tree.digest()).not.toBe(b.tree.digest())
    const c = new Kit()
    c.create('/x')
    c.create('/y', 'different')
    expect(c.tree.digest()).not.toBe(a.tree.digest())
  })

  it('snapshot records rebuild an equal tree', () => {
    const k = new Kit()
    k.create('/s/a/b', 'deep', 'persistent', { makeParents: true })
    k.create('/s/c', '', 'container')
    k.create('/s/t', '', 'persistent', { ttlMs: 100 })
    k.create('/s/e', '', 'ephemeral', {}, 4n)
    const copy = DataTree.fromSnapshot(k.tree.snapshotEntries(), k.tree.appliedZxid)
    expect(copy.digest()).toBe(k.tree.digest())
    expect(copy.nodeCount).toBe(k.tree.nodeCount)
    expect(copy.ephemeralsOf(4n)).toEqual(['/s/e'])
    expect(copy.appliedZxid).toBe(k.tree.appliedZxid)
    expect(copy.children('/s')).toEqual(['a', 'c', 'e', 't'])
  })

  it('property: random write sequences replay to the same digest, and twice equals once', () => {
    const paths = ['/a', '/b', '/a/x', '/a/y', '/b/z']
    const write = fc.oneof(
      fc.record({ op: fc.constant('create' as const), path: fc.constantFrom(...paths), data: fc.string({ maxLength: 4 }), mode: fc.constantFrom('persistent' as const, 'ephemeral' as const, 'persistent-sequential' as const) }),
      fc.record({ op: fc.constant('set' as const), path: fc.constantFrom(...paths), data: fc.string({ maxLength: 4 }), version: fc.constantFrom(-1, 0, 1) }),
      fc.record({ op: fc.constant('delete' as const), path: fc.constantFrom(...paths), version: fc.constantFrom(-1, 0) }),
    )
    fc.assert(
      fc.property(fc.array(write, { maxLength: 40 }), fc.boolean(), (writes, pipelined) => {
        const k = new Kit()
        const requests = writes.map((w) => ('data' in w ? { ...w, data: bytes(w.data) } : w))
        if (pipelined) {
          const txns = requests.map((r) => k.prepare(r as never))
          for (const txn of txns) k.apply(txn)
        } else {
          for (const r of requests) k.apply(k.prepare(r as never))
        }
        const sequential = new Kit()
        for (const r of requests) sequential.apply(sequential.prepare(r as never))
        expect(k.tree.digest()).toBe(sequential.tree.digest())
        const twice = new DataTree()
        for (const txn of k.log) {
          twice.apply(txn)
          twice.apply(txn)
        }
        expect(twice.digest()).toBe(k.tree.digest())
      }),
      { numRuns: 300 },
    )
  })
})

describe('reaping', () => {
  it('a container is reapable only after it had a child and is empty again', () => {
    const k = new Kit()
    k.create('/c', '', 'container')
    expect(k.tree.reapable(k.nowMs, 10)).toEqual([])
    k.create('/c/kid')
    expect(k.tree.reapable(k.nowMs, 10)).toEqual([])
    k.run({ op: 'delete', path: '/c/kid', version: -1 })
    expect(k.tree.reapable(k.nowMs, 10)).toEqual(['/c'])
    const reap = k.builder.prepareReap(k.header(0n), '/c')
    expect(reap?.op).toEqual({ type: 'delete', path: '/c' })
  })

  it('a TTL node is reapable once childless and unchanged for longer than its TTL', () => {
    const k = new Kit()
    k.create('/t', '', 'persistent', { ttlMs: 100 })
    expect(k.tree.reapable(k.nowMs + 100, 10)).toEqual([])
    expect(k.tree.reapable(k.nowMs + 101, 10)).toEqual(['/t'])
    k.nowMs += 80
    k.run({ op: 'set', path: '/t', data: bytes('touch'), version: -1 })
    expect(k.tree.reapable(k.nowMs + 50, 10)).toEqual([])
    k.create('/t/kid')
    expect(k.tree.reapable(k.nowMs + 1000, 10)).toEqual([])
  })

  it('prepareReap declines a node that a pending txn revived', () => {
    const k = new Kit()
    k.create('/c', '', 'container')
    k.create('/c/a')
    k.run({ op: 'delete', path: '/c/a', version: -1 })
    k.prepare({ op: 'create', path: '/c/b', data: bytes(''), mode: 'persistent' }) // pending, not applied
    expect(k.builder.prepareReap(k.header(0n), '/c')).toBeNull()
    expect(ErrorCode.OK).toBe(0)
  })
})
