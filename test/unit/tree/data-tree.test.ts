/**
 * DataTree semantics against ZooKeeper's rules (reference §5, §6, §8): the initial
 * tree, queries, Stat fields after every kind of change, the watch changes and per-op
 * outcomes each txn reports, session close, reapability of containers and TTL nodes,
 * and the assertions for txns no builder would produce. Txns come from the real
 * TxnBuilder through the Kit harness, except where a test needs an impossible one.
 */
import { describe, expect, it } from 'vitest'
import { ErrorCode, OPEN_ACL_UNSAFE, makeZxid } from '../../../protocol/index.js'
import { DataTree } from '../../../server/tree/data-tree.js'
import { TreeAssertionError } from '../../../server/tree/errors.js'
import { Kit, bytes, statOfReply, txnAt } from '../requests/builder-kit.js'

const createOp = (
  path: string,
  parentCversion: number,
  extra: Partial<{ ephemeralOwner: bigint; data: Uint8Array }> = {},
) => ({
  type: 'create' as const,
  path,
  data: extra.data ?? new Uint8Array(0),
  acl: [...OPEN_ACL_UNSAFE],
  ephemeralOwner: extra.ephemeralOwner ?? 0n,
  container: false,
  ttlMs: 0,
  parentCversion,
})

describe('a new tree', () => {
  it('holds / and the reserved /zookeeper, every zxid 0, /zookeeper not counted as a child creation', () => {
    const tree = new DataTree()
    expect(tree.nodeCount).toBe(2)
    expect(tree.appliedZxid).toBe(0n)
    expect(tree.children('/')).toEqual(['zookeeper'])
    expect(tree.stat('/')).toEqual({
      czxid: 0n,
      mzxid: 0n,
      pzxid: 0n,
      ctime: 0,
      mtime: 0,
      version: 0,
      cversion: 0,
      aversion: 0,
      ephemeralOwner: 0n,
      dataLength: 0,
      numChildren: 1,
    })
    expect(tree.stat('/zookeeper')).toMatchObject({ czxid: 0n, numChildren: 0 })
    expect(tree.getNode('/')?.acl).toEqual(OPEN_ACL_UNSAFE)
    expect(tree.stat('/missing')).toBeNull()
    expect(tree.getData('/missing')).toBeNull()
    expect(tree.children('/missing')).toBeNull()
    expect(tree.countDescendants('/missing')).toBeNull()
  })
})

describe('queries', () => {
  it('children are sorted names, countDescendants counts the whole subtree', () => {
    const k = new Kit()
    for (const name of ['b', 'a', 'c'])
      k.create(`/p/${name}`, '', 'persistent', { makeParents: true })
    k.create('/p/a/deep/er', '', 'persistent', { makeParents: true })
    expect(k.tree.children('/p')).toEqual(['a', 'b', 'c'])
    expect(k.tree.countDescendants('/p')).toBe(5)
    expect(k.tree.countDescendants('/p/b')).toBe(0)
    expect(k.tree.countDescendants('/')).toBe(7) // /zookeeper, /p and its five
    expect(k.tree.getData('/p/a')?.data).toEqual(new Uint8Array(0))
  })

  it('indexes ephemerals by owner, sorted, and forgets an owner with none left', () => {
    const k = new Kit()
    k.create('/e')
    k.create('/e/z', '', 'ephemeral', {}, 9n)
    k.create('/e/a', '', 'ephemeral', {}, 9n)
    k.create('/e/m', '', 'ephemeral', {}, 3n)
    expect(k.tree.ephemeralsOf(9n)).toEqual(['/e/a', '/e/z'])
    expect(k.tree.ephemeralOwners()).toEqual([3n, 9n])
    k.remove('/e/m')
    expect(k.tree.ephemeralOwners()).toEqual([9n])
    expect(k.tree.ephemeralsOf(3n)).toEqual([])
  })

  it('keeps dataBytes and ephemeralCount through creates, sets, deletes, session closes and a snapshot', () => {
    const k = new Kit()
    expect([k.tree.dataBytes, k.tree.ephemeralCount]).toEqual([0, 0])
    k.create('/d', 'abcd')
    k.create('/d/e1', 'xy', 'ephemeral', {}, 7n)
    k.create('/d/e2', '', 'ephemeral', {}, 7n)
    k.create('/d/e3', 'z', 'ephemeral', {}, 8n)
    expect([k.tree.dataBytes, k.tree.ephemeralCount]).toEqual([7, 3])
    k.set('/d', 'abcdefgh')
    expect(k.tree.dataBytes).toBe(11)
    k.remove('/d/e3')
    expect([k.tree.dataBytes, k.tree.ephemeralCount]).toEqual([10, 2])
    const copy = DataTree.fromSnapshot([...k.tree.snapshotEntries()], k.tree.appliedZxid)
    expect([copy.dataBytes, copy.ephemeralCount]).toEqual([10, 2])
    k.close(7n)
    expect([k.tree.dataBytes, k.tree.ephemeralCount]).toEqual([8, 0])
  })

  it('keeps its own copy of data that is a view into a larger buffer', () => {
    const k = new Kit()
    const frame = bytes('xxHELLOxx')
    k.run({ op: 'create', path: '/v', data: frame.subarray(2, 7), mode: 'persistent' })
    frame.fill(0)
    expect(new TextDecoder().decode(k.tree.getData('/v')!.data)).toBe('HELLO')
    // msgpackr hands out Buffers, whose slice() is a view: the tree must still copy.
    const buffer = Buffer.from('xxWORLDxx')
    k.run({ op: 'set', path: '/v', data: buffer.subarray(2, 7), version: -1 })
    buffer.fill(0)
    const stored = k.tree.getData('/v')!.data
    expect(new TextDecoder().decode(stored)).toBe('WORLD')
    expect(Object.getPrototypeOf(stored)).toBe(Uint8Array.prototype)
  })
})

describe('Stat rules', () => {
  it('create sets every zxid to its own, times to the txn time, counters to 0', () => {
    const k = new Kit()
    const stat = statOfReply(k.create('/a', 'hello'))
    expect(stat).toEqual({
      czxid: makeZxid(1, 1),
      mzxid: makeZxid(1, 1),
      pzxid: makeZxid(1, 1),
      ctime: k.nowMs,
      mtime: k.nowMs,
      version: 0,
      cversion: 0,
      aversion: 0,
      ephemeralOwner: 0n,
      dataLength: 5,
      numChildren: 0,
    })
    expect(k.tree.stat('/')).toMatchObject({
      pzxid: stat.czxid,
      cversion: 1,
      numChildren: 2,
      mzxid: 0n,
      version: 0,
    })
  })

  it('set changes version, mzxid, mtime and data only', () => {
    const k = new Kit()
    const created = statOfReply(k.create('/a', 'x'))
    const rootBefore = k.tree.stat('/')
    k.nowMs += 50
    const set = statOfReply(k.set('/a', 'yy', 0))
    expect(set).toEqual({
      ...created,
      version: 1,
      mzxid: makeZxid(1, 2),
      mtime: created.mtime + 50,
      dataLength: 2,
    })
    expect(k.tree.stat('/')).toEqual(rootBefore)
  })

  it('child create moves cversion and pzxid; child delete moves pzxid but not cversion', () => {
    const k = new Kit()
    const parent = statOfReply(k.create('/p'))
    const kid = statOfReply(k.create('/p/kid'))
    expect(k.tree.stat('/p')).toEqual({ ...parent, cversion: 1, numChildren: 1, pzxid: kid.czxid })
    k.nowMs += 10
    k.remove('/p/kid')
    expect(k.tree.stat('/p')).toEqual({
      ...parent,
      cversion: 1,
      numChildren: 0,
      pzxid: makeZxid(1, 3),
    })
  })

  it('multi applies every op under one zxid', () => {
    const k = new Kit()
    k.create('/m')
    k.create('/m/old')
    const reply = k.run({
      op: 'multi',
      ops: [
        { op: 'create', path: '/m/a', data: bytes('a'), mode: 'persistent' },
        { op: 'set', path: '/m', data: bytes('m'), version: 0 },
        { op: 'delete', path: '/m/old', version: 0 },
        { op: 'check', path: '/m/a', version: 0 },
      ],
    })
    expect(reply.err).toBe(0)
    const zxid = makeZxid(1, 3)
    expect(k.tree.stat('/m/a')).toMatchObject({ czxid: zxid, mzxid: zxid })
    expect(k.tree.stat('/m')).toMatchObject({
      mzxid: zxid,
      pzxid: zxid,
      version: 1,
      cversion: 2,
      numChildren: 1,
    })
    expect(k.tree.appliedZxid).toBe(zxid)
  })

  it('setAcl replaces the ACL and aversion and reports no watch change', () => {
    const k = new Kit()
    const before = statOfReply(k.create('/a'))
    const acl = [{ perms: 1, scheme: 'world', id: 'anyone' }]
    const result = k.tree.apply(txnAt(2, { type: 'setAcl', path: '/a', acl, aversion: 1 }))
    expect(result.changes).toEqual([])
    expect(result.outcomes).toEqual([{ type: 'setAcl', stat: { ...before, aversion: 1 } }])
    expect(k.tree.getNode('/a')?.acl).toEqual(acl)
  })
})

describe('changes and outcomes', () => {
  it('report ZooKeeper watch changes in firing order', () => {
    const k = new Kit()
    k.create('/w')
    expect(
      k.apply(k.prepare({ op: 'create', path: '/w/e', data: bytes(''), mode: 'ephemeral' }, 7n)),
    ).toEqual({
      // Each change carries its node's ACL right after the txn (the change window keeps it).
      changes: [
        { type: 'created', path: '/w/e', acl: [...OPEN_ACL_UNSAFE] },
        { type: 'childrenChanged', path: '/w', acl: [...OPEN_ACL_UNSAFE] },
      ],
      outcomes: [{ type: 'create', path: '/w/e', stat: k.tree.stat('/w/e') }],
    })
    expect(k.apply(k.prepare({ op: 'set', path: '/w', data: bytes('d'), version: -1 }))).toEqual({
      changes: [{ type: 'dataChanged', path: '/w', acl: [...OPEN_ACL_UNSAFE] }],
      outcomes: [{ type: 'set', stat: k.tree.stat('/w') }],
    })
    k.create('/w/p')
    expect(k.apply(k.prepare({ op: 'delete', path: '/w/p', version: -1 }))).toEqual({
      changes: [
        { type: 'deleted', path: '/w/p', acl: [...OPEN_ACL_UNSAFE] },
        { type: 'childrenChanged', path: '/w', acl: [...OPEN_ACL_UNSAFE] },
      ],
      outcomes: [{ type: 'delete' }],
    })
  })

  it('multi reports the concatenation, one outcome per op', () => {
    const k = new Kit()
    k.create('/m')
    const result = k.apply(
      k.prepare({
        op: 'multi',
        ops: [
          { op: 'check', path: '/m', version: 0 },
          { op: 'create', path: '/m/a', data: bytes(''), mode: 'persistent' },
          { op: 'set', path: '/m/a', data: bytes('x'), version: 0 },
          { op: 'delete', path: '/m/a', version: 1 },
        ],
      }),
    )
    // /m/a is gone after the txn: its creation and change carry no ACL, its deletion the one it had.
    expect(result.changes).toEqual([
      { type: 'created', path: '/m/a' },
      { type: 'childrenChanged', path: '/m', acl: [...OPEN_ACL_UNSAFE] },
      { type: 'dataChanged', path: '/m/a' },
      { type: 'deleted', path: '/m/a', acl: [...OPEN_ACL_UNSAFE] },
      { type: 'childrenChanged', path: '/m', acl: [...OPEN_ACL_UNSAFE] },
    ])
    expect(result.outcomes.map((o) => o.type)).toEqual(['check', 'create', 'set', 'delete'])
  })

  it('session and error txns change nothing but appliedZxid', () => {
    const k = new Kit()
    const before = k.tree.digest()
    const failed = k.prepare({ op: 'delete', path: '/none', version: -1 })
    expect(failed.op).toMatchObject({ type: 'error', code: ErrorCode.NO_NODE })
    expect(k.apply(failed)).toEqual({ changes: [], outcomes: [] })
    const opened = k.builder.prepareCreateSession(k.header(0n), {
      sessionId: 5n,
      timeoutMs: 4000,
      password: new Uint8Array(16),
    })
    k.counter++
    expect(k.apply(opened)).toEqual({ changes: [], outcomes: [] })
    expect(k.tree.digest()).toBe(before)
    expect(k.tree.appliedZxid).toBe(opened.zxid)
  })
})

describe('closeSession', () => {
  it('deletes the listed ephemerals, reporting each, and leaves other sessions alone', () => {
    const k = new Kit()
    k.create('/s')
    k.create('/s/a', '', 'ephemeral', {}, 7n)
    k.create('/s/b', '', 'ephemeral', {}, 7n)
    k.create('/s/other', '', 'ephemeral', {}, 8n)
    const result = k.close(7n)
    expect(result.changes).toEqual([
      { type: 'deleted', path: '/s/a', acl: [...OPEN_ACL_UNSAFE] },
      { type: 'childrenChanged', path: '/s', acl: [...OPEN_ACL_UNSAFE] },
      { type: 'deleted', path: '/s/b', acl: [...OPEN_ACL_UNSAFE] },
      { type: 'childrenChanged', path: '/s', acl: [...OPEN_ACL_UNSAFE] },
    ])
    expect(result.outcomes).toEqual([])
    expect(k.tree.children('/s')).toEqual(['other'])
    expect(k.tree.stat('/s')?.pzxid).toBe(k.tree.appliedZxid)
  })

  it('skips listed paths already gone or now owned by another session, and deletes unlisted ones it still owns', () => {
    const k = new Kit()
    k.create('/s')
    k.create('/s/listed', '', 'ephemeral', {}, 7n)
    k.create('/s/unlisted', '', 'ephemeral', {}, 7n)
    k.create('/s/theirs', '', 'ephemeral', {}, 8n)
    const result = k.tree.apply(
      txnAt(20, {
        type: 'closeSession',
        sessionId: 7n,
        deletePaths: ['/s/gone', '/s/listed', '/s/theirs'],
      }),
    )
    expect(result.changes.filter((c) => c.type === 'deleted').map((c) => c.path)).toEqual([
      '/s/listed',
      '/s/unlisted',
    ])
    expect(k.tree.ephemeralsOf(7n)).toEqual([])
    expect(k.tree.children('/s')).toEqual(['theirs'])
  })
})

describe('reaping', () => {
  it('a container is reapable only after it had a child and is empty again', () => {
    const k = new Kit()
    k.create('/c', '', 'container')
    expect(k.tree.reapable(k.nowMs, 10)).toEqual([])
    expect(k.prepareReap('/c')).toBeNull()
    k.create('/c/kid')
    expect(k.tree.reapable(k.nowMs, 10)).toEqual([])
    expect(k.prepareReap('/c')).toBeNull()
    k.remove('/c/kid')
    expect(k.tree.reapable(k.nowMs, 10)).toEqual(['/c'])
    const reap = k.prepareReap('/c')
    expect(reap?.op).toEqual({ type: 'delete', path: '/c' })
    expect(reap?.sessionId).toBe(0n)
    k.apply(reap!)
    expect(k.tree.stat('/c')).toBeNull()
  })

  it('a TTL node is reapable once childless and unchanged for longer than its TTL', () => {
    const k = new Kit()
    k.create('/t', '', 'persistent', { ttlMs: 100 })
    expect(k.tree.reapable(k.nowMs + 100, 10)).toEqual([])
    expect(k.tree.reapable(k.nowMs + 101, 10)).toEqual(['/t'])
    k.nowMs += 80
    k.set('/t', 'touch')
    expect(k.tree.reapable(k.nowMs + 100, 10)).toEqual([])
    k.create('/t/kid')
    expect(k.tree.reapable(k.nowMs + 1000, 10)).toEqual([])
    k.nowMs += 1000
    expect(k.prepareReap('/t')).toBeNull()
    k.remove('/t/kid')
    // A child delete does not touch mtime, so the TTL ran out long ago.
    expect(k.tree.reapable(k.nowMs, 10)).toEqual(['/t'])
    expect(k.prepareReap('/t')?.op).toEqual({ type: 'delete', path: '/t' })
  })

  it('persistent nodes are never reapable and the limit caps the list', () => {
    const k = new Kit()
    for (const name of ['a', 'b', 'c']) k.create(`/${name}`, '', 'persistent', { ttlMs: 1 })
    k.create('/plain')
    expect(k.tree.reapable(k.nowMs + 10, 2)).toHaveLength(2)
    expect(k.tree.reapable(k.nowMs + 10, 10).sort()).toEqual(['/a', '/b', '/c'])
    expect(k.prepareReap('/plain')).toBeNull()
  })

  it('prepareReap judges by the pending state: a pending child or set revives the node', () => {
    const k = new Kit()
    k.create('/c', '', 'container')
    k.create('/c/a')
    k.remove('/c/a')
    k.prepare({ op: 'create', path: '/c/b', data: bytes(''), mode: 'persistent' })
    expect(k.prepareReap('/c')).toBeNull()
    k.create('/t', '', 'persistent', { ttlMs: 100 })
    k.nowMs += 500
    k.prepare({ op: 'set', path: '/t', data: bytes('alive'), version: -1 })
    expect(k.tree.reapable(k.nowMs, 10)).toContain('/t') // the tree has not seen the set yet
    expect(k.prepareReap('/t')).toBeNull()
  })

  it('a reap that is already pending is not prepared twice', () => {
    const k = new Kit()
    k.create('/t', '', 'persistent', { ttlMs: 1 })
    k.nowMs += 10
    expect(k.prepareReap('/t')).not.toBeNull()
    expect(k.prepareReap('/t')).toBeNull()
  })
})

describe('impossible txns', () => {
  it('assert with a clear message instead of corrupting the tree', () => {
    const tree = new DataTree()
    const digest = tree.digest()
    expect(() => tree.apply(txnAt(1, createOp('/no/parent', 1)))).toThrow(TreeAssertionError)
    expect(() => tree.apply(txnAt(1, createOp('/no/parent', 1)))).toThrow(
      /parent \/no does not exist/,
    )
    expect(() =>
      tree.apply(txnAt(1, { type: 'set', path: '/none', data: new Uint8Array(0), version: 1 })),
    ).toThrow(TreeAssertionError)
    expect(() => tree.apply(txnAt(1, { type: 'delete', path: '/' }))).toThrow(/root/)
    expect(tree.digest()).toBe(digest)
    expect(tree.nodeCount).toBe(2)
    tree.apply(txnAt(1, createOp('/p', 1)))
    tree.apply(txnAt(2, createOp('/p/c', 1)))
    expect(() => tree.apply(txnAt(3, { type: 'delete', path: '/p' }))).toThrow(/has children/)
    expect(tree.children('/p')).toEqual(['c'])
  })

  it('a txn applied again (zxid not above appliedZxid) is tolerated even when it removed what it needs', () => {
    const k = new Kit()
    k.run({
      op: 'multi',
      ops: [
        { op: 'create', path: '/p', data: bytes(''), mode: 'persistent' },
        { op: 'create', path: '/p/c', data: bytes(''), mode: 'persistent' },
        { op: 'set', path: '/p/c', data: bytes('x'), version: 0 },
        { op: 'delete', path: '/p/c', version: 1 },
        { op: 'delete', path: '/p', version: 0 },
      ],
    })
    const after = k.tree.digest()
    const root = k.tree.stat('/')
    expect(() => k.tree.apply(k.log[0]!)).not.toThrow()
    expect(k.tree.digest()).toBe(after)
    expect(k.tree.stat('/')).toEqual(root)
    expect(k.tree.apply(txnAt(1, createOp('/gone/kid', 1)))).toEqual({ changes: [], outcomes: [] })
  })

  it('in replay mode, skip what a later txn of the replay already removed', () => {
    const tree = new DataTree()
    const before = tree.digest()
    expect(tree.apply(txnAt(1, createOp('/gone/kid', 1)), { replay: true })).toEqual({
      changes: [],
      outcomes: [],
    })
    expect(
      tree.apply(txnAt(2, { type: 'set', path: '/gone', data: new Uint8Array(0), version: 1 }), {
        replay: true,
      }).outcomes,
    ).toEqual([{ type: 'set', stat: undefined }])
    expect(tree.digest()).toBe(before)
    tree.apply(txnAt(3, createOp('/p', 1)))
    tree.apply(txnAt(4, createOp('/p/c', 1)))
    tree.apply(txnAt(5, { type: 'delete', path: '/p' }), { replay: true })
    expect(tree.stat('/p')).toBeNull()
    expect(tree.nodeCount).toBe(2)
  })
})
