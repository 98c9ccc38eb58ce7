/**
 * Replay and digest: txns are state-setting, so applying any txn twice leaves the tree
 * and its digest as applying it once; a fuzzy snapshot (taken while txns keep being
 * applied) plus a replay of every txn after its start reaches the live tree; the
 * digest agrees for equal content reached by different histories and changes for any
 * single field. Histories come from random write scripts prepared by the real builder
 * (fast-check), with a few hand-written cases that name the rule they pin down.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { OPEN_ACL_UNSAFE } from '../../../protocol/index.js'
import { DataTree } from '../../../server/tree/data-tree.js'
import { murmur3 } from '../../../server/tree/digest.js'
import type { SnapshotNode } from '../../../server/tree/znode.js'
import { Kit, bytes, content, replayAll, txnAt } from '../requests/builder-kit.js'
import { runOneByOne, script } from '../requests/write-script.js'

describe('idempotent replay', () => {
  it('every kind of txn applied twice leaves tree and digest as once', () => {
    const k = new Kit()
    k.create('/r')
    k.create('/r/s-', 'a', 'persistent-sequential')
    k.create('/r/e', '', 'ephemeral', {}, 9n)
    k.create('/r/c', '', 'container')
    k.create('/r/t', '', 'persistent', { ttlMs: 100 })
    k.set('/r', 'x')
    k.remove('/r/s-0000000000')
    k.create('/r/deep/x', '', 'persistent', { makeParents: true })
    k.run({
      op: 'multi',
      ops: [
        { op: 'create', path: '/r/m', data: bytes('m'), mode: 'persistent' },
        { op: 'delete', path: '/r/deep/x', version: 0 },
      ],
    })
    k.prepare({ op: 'delete', path: '/nothing', version: -1 }) // an error txn
    k.apply(k.log.at(-1)!)
    k.close(9n)
    const once = replayAll(k.log, 1)
    const twice = replayAll(k.log, 2)
    expect(twice.digest()).toBe(once.digest())
    expect(once.digest()).toBe(k.tree.digest())
    expect(content(twice)).toEqual(content(once))
    expect(content(once)).toEqual(content(k.tree))
    expect(twice.appliedZxid).toBe(k.tree.appliedZxid)
  })

  it('a create of an existing path takes the txn state without counting the child twice', () => {
    const tree = new DataTree()
    const create = txnAt(1, {
      type: 'create',
      path: '/a',
      data: bytes('v'),
      acl: [...OPEN_ACL_UNSAFE],
      ephemeralOwner: 4n,
      container: false,
      ttlMs: 0,
      parentCversion: 1,
    })
    tree.apply(create)
    const after = content(tree)
    tree.apply(create)
    expect(content(tree)).toEqual(after)
    expect(tree.stat('/')?.numChildren).toBe(2)
    expect(tree.ephemeralsOf(4n)).toEqual(['/a'])
  })

  it('an old create replayed over a newer parent does not roll back its counters', () => {
    const k = new Kit()
    k.create('/p')
    k.create('/p/a')
    k.create('/p/b')
    k.remove('/p/b')
    const parent = k.tree.stat('/p')
    k.tree.apply(k.log[1]!, { replay: true }) // create /p/a again
    expect(k.tree.stat('/p')).toEqual(parent)
  })

  it('property: random histories replayed twice equal once, and equal the live tree', () => {
    fc.assert(
      fc.property(script(50), (steps) => {
        const k = new Kit()
        runOneByOne(k, steps)
        const once = replayAll(k.log, 1)
        const twice = replayAll(k.log, 2)
        expect(content(once)).toEqual(content(k.tree))
        expect(content(twice)).toEqual(content(k.tree))
        expect(twice.digest()).toBe(k.tree.digest())
        expect(twice.ephemeralOwners()).toEqual(k.tree.ephemeralOwners())
      }),
      { numRuns: 200 },
    )
  })
})

describe('fuzzy snapshots', () => {
  it('property: a snapshot taken while txns apply, plus a replay of every txn after its start, reaches the live tree', () => {
    fc.assert(
      fc.property(
        script(30),
        script(30),
        fc.array(fc.nat(4), { maxLength: 40 }),
        (before, during, pulls) => {
          const k = new Kit()
          runOneByOne(k, before)
          const startZxid = k.tree.appliedZxid
          const replayFrom = k.log.length
          // Interleave: read a few records, apply a step, read a few more, ...
          const snapshot = k.tree.snapshotEntries()
          const records: SnapshotNode[] = []
          const pull = (n: number) => {
            for (let i = 0; i < n; i++) {
              const next = snapshot.next()
              if (next.done === true) return
              records.push(next.value)
            }
          }
          for (const [i, s] of during.entries()) {
            pull(pulls[i] ?? 1)
            runOneByOne(k, [s])
          }
          pull(Number.MAX_SAFE_INTEGER)
          const recovered = DataTree.fromSnapshot(records, startZxid)
          for (const txn of k.log.slice(replayFrom)) recovered.apply(txn, { replay: true })
          expect(content(recovered)).toEqual(content(k.tree))
          expect(recovered.digest()).toBe(k.tree.digest())
          expect(recovered.ephemeralOwners()).toEqual(k.tree.ephemeralOwners())
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('digest', () => {
  it('MurmurHash3 matches the reference vectors', () => {
    const e = new TextEncoder()
    expect(murmur3(e.encode(''), 0)).toBe(0)
    expect(murmur3(e.encode(''), 1)).toBe(0x514e28b7)
    expect(murmur3(e.encode('test'), 0)).toBe(0xba6bd213)
    expect(murmur3(e.encode('Hello, world!'), 1234)).toBe(0xfaf6cdb3)
    expect(murmur3(e.encode('The quick brown fox jumps over the lazy dog'), 0)).toBe(0x2e4ff723)
    expect(murmur3(new Uint8Array([0x21, 0x43, 0x65]), 0)).toBe(0x7e4a8634)
    expect(murmur3(new Uint8Array([0x21, 0x43]), 0)).toBe(0xa0f7b07a)
    expect(murmur3(new Uint8Array([0x21]), 0)).toBe(0x72661cf4)
  })

  it('does not depend on the order siblings were created in', () => {
    const creates = ['a', 'b', 'c'].map((name, i) =>
      txnAt(i + 2, {
        type: 'create',
        path: `/p/${name}`,
        data: bytes(name),
        acl: [...OPEN_ACL_UNSAFE],
        ephemeralOwner: 0n,
        container: false,
        ttlMs: 0,
        parentCversion: i + 1,
      }),
    )
    const parent = txnAt(1, {
      type: 'create',
      path: '/p',
      data: new Uint8Array(0),
      acl: [...OPEN_ACL_UNSAFE],
      ephemeralOwner: 0n,
      container: false,
      ttlMs: 0,
      parentCversion: 1,
    })
    const forward = replayAll([parent, ...creates])
    const backward = replayAll([parent, ...[...creates].reverse()])
    expect(backward.digest()).toBe(forward.digest())
    expect(content(backward)).toEqual(content(forward))
    expect([...backward.snapshotEntries()].map((e) => e.path)).not.toEqual(
      [...forward.snapshotEntries()].map((e) => e.path),
    )
  })

  it('equal trees built by different histories agree: live, replayed twice, and rebuilt from shuffled records', () => {
    fc.assert(
      fc.property(script(40), fc.integer(), (steps, seed) => {
        const k = new Kit()
        runOneByOne(k, steps)
        const records = [...k.tree.snapshotEntries()]
        // Any parent-first order will do: sort by depth, shuffle within a depth.
        const depth = (p: string) => (p === '/' ? 0 : p.split('/').length - 1)
        const shuffled = records
          .map((r, i) => ({ r, key: (Math.imul(i + 1, 0x9e3779b1) ^ seed) >>> 0 }))
          .sort((x, y) => depth(x.r.path) - depth(y.r.path) || x.key - y.key)
          .map((x) => x.r)
        const rebuilt = DataTree.fromSnapshot(shuffled, k.tree.appliedZxid)
        expect(rebuilt.digest()).toBe(k.tree.digest())
        expect(replayAll(k.log, 2).digest()).toBe(k.tree.digest())
      }),
      { numRuns: 100 },
    )
  })

  it('property: changing any single field of any node changes the digest', () => {
    const k = new Kit()
    k.create('/a', 'data')
    k.create('/a/e', 'ephemeral data', 'ephemeral', {}, 5n)
    k.create('/t', '', 'persistent', { ttlMs: 1000 })
    k.create('/c', 'x', 'container')
    k.set('/a', 'more data')
    const records = [...k.tree.snapshotEntries()]
    const digest = k.tree.digest()
    const mutations: Record<string, (r: SnapshotNode, n: number) => Partial<SnapshotNode>> = {
      czxid: (r, n) => ({ czxid: r.czxid + BigInt(n) }),
      mzxid: (r, n) => ({ mzxid: r.mzxid + BigInt(n) }),
      pzxid: (r, n) => ({ pzxid: r.pzxid + BigInt(n) }),
      ctime: (r, n) => ({ ctime: r.ctime + n }),
      mtime: (r, n) => ({ mtime: r.mtime - n }),
      version: (r, n) => ({ version: r.version + n }),
      cversion: (r, n) => ({ cversion: r.cversion + n }),
      aversion: (r, n) => ({ aversion: r.aversion + n }),
      ephemeralOwner: (r, n) => ({ ephemeralOwner: r.ephemeralOwner + BigInt(n) }),
      ttlMs: (r, n) => ({ ttlMs: r.ttlMs + n }),
      container: (r) => ({ container: !r.container }),
      acl: (r, n) => ({ acl: [{ ...r.acl[0]!, perms: r.acl[0]!.perms ^ (1 + (n % 31)) }] }),
      dataAppend: (r, n) => ({ data: new Uint8Array([...r.data, n]) }),
      dataBitFlip: (r, n) => {
        const data = r.data.length === 0 ? new Uint8Array([1]) : r.data.slice()
        const bit = n % (data.length * 8)
        data[bit >> 3]! ^= 1 << (bit & 7)
        return { data }
      },
    }
    fc.assert(
      fc.property(
        fc.nat(records.length - 1),
        fc.constantFrom(...Object.keys(mutations)),
        fc.integer({ min: 1, max: 1000 }),
        (index, field, n) => {
          const changed = records.map((r, i) =>
            i === index ? { ...r, ...mutations[field]!(r, n) } : r,
          )
          expect(DataTree.fromSnapshot(changed, 0n).digest()).not.toBe(digest)
        },
      ),
      { numRuns: 500 },
    )
    expect(DataTree.fromSnapshot(records, 0n).digest()).toBe(digest)
  })

  it('a renamed node changes the digest', () => {
    const a = new Kit()
    const b = new Kit()
    a.create('/x', 'same')
    b.create('/y', 'same')
    expect(a.tree.digest()).not.toBe(b.tree.digest())
  })
})
