/**
 * Snapshot records: `snapshotEntries` yields plain records parent before child and
 * `fromSnapshot` rebuilds an equal tree (same content, digest, ephemeral index, reap
 * candidates and applied zxid) that then evolves exactly like the original. The
 * records survive a msgpack round trip with the codec settings the project uses, and
 * damaged input (a child before its parent, a duplicate, no root, a malformed field)
 * is refused with TreeAssertionError instead of building a broken tree.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { DataTree } from '../../../server/tree/data-tree.js'
import { TreeAssertionError } from '../../../server/tree/errors.js'
import type { SnapshotNode } from '../../../server/tree/znode.js'
import { Kit, content } from '../requests/builder-kit.js'
import { runOneByOne, script } from '../requests/write-script.js'

function sampleTree(): Kit {
  const k = new Kit()
  k.create('/s/a/b', 'deep', 'persistent', { makeParents: true })
  k.create('/s/c', '', 'container')
  k.create('/s/c/kid')
  k.remove('/s/c/kid')
  k.create('/s/t', 'ttl', 'persistent', { ttlMs: 100 })
  k.create('/s/e', 'mine', 'ephemeral', {}, 4n)
  k.set('/s/a', 'changed')
  return k
}

describe('snapshot round trip', () => {
  it('rebuilds an equal tree: content, digest, indexes and applied zxid', () => {
    const k = sampleTree()
    const records = [...k.tree.snapshotEntries()]
    const paths = records.map((r) => r.path)
    for (const [i, path] of paths.entries()) {
      if (path !== '/')
        expect(paths.indexOf(path.slice(0, path.lastIndexOf('/')) || '/')).toBeLessThan(i)
    }
    const copy = DataTree.fromSnapshot(records, k.tree.appliedZxid)
    expect(content(copy)).toEqual(content(k.tree))
    expect(copy.digest()).toBe(k.tree.digest())
    expect(copy.nodeCount).toBe(k.tree.nodeCount)
    expect(copy.appliedZxid).toBe(k.tree.appliedZxid)
    expect(copy.ephemeralsOf(4n)).toEqual(['/s/e'])
    expect(copy.ephemeralOwners()).toEqual([4n])
    expect(copy.children('/s')).toEqual(['a', 'c', 'e', 't'])
    expect(copy.reapable(k.nowMs + 1000, 10).sort()).toEqual(
      k.tree.reapable(k.nowMs + 1000, 10).sort(),
    )
    expect(copy.reapable(k.nowMs + 1000, 10).sort()).toEqual(['/s/c', '/s/t'])
  })

  it('records are plain and survive msgpack with bigint zxids', () => {
    const k = sampleTree()
    const packr = new Packr({
      useRecords: false,
      int64AsType: 'bigint',
      mapsAsObjects: true,
      variableMapSize: true,
    })
    const records = [...k.tree.snapshotEntries()].map(
      (r) => packr.unpack(packr.pack(r)) as SnapshotNode,
    )
    const copy = DataTree.fromSnapshot(records, k.tree.appliedZxid)
    expect(copy.digest()).toBe(k.tree.digest())
    expect(content(copy)).toEqual(content(k.tree))
  })

  it('records do not alias the live tree: later changes do not reach taken records', () => {
    const k = sampleTree()
    const records = [...k.tree.snapshotEntries()]
    const digest = DataTree.fromSnapshot(records, 0n).digest()
    k.set('/s/a', 'after')
    records.find((r) => r.path === '/')!.acl.push({ perms: 1, scheme: 'world', id: 'x' })
    expect(k.tree.getNode('/')?.acl).toHaveLength(1)
    records.find((r) => r.path === '/')!.acl.pop()
    expect(DataTree.fromSnapshot(records, 0n).digest()).toBe(digest)
  })

  it('property: a rebuilt tree evolves exactly like the original', () => {
    fc.assert(
      fc.property(script(25), script(25), (first, second) => {
        const original = new Kit()
        runOneByOne(original, first)
        const rebuilt = new Kit(
          1024 * 1024,
          DataTree.fromSnapshot(original.tree.snapshotEntries(), original.tree.appliedZxid),
        )
        rebuilt.nowMs = original.nowMs
        expect(runOneByOne(rebuilt, second)).toEqual(runOneByOne(original, second))
        expect(content(rebuilt.tree)).toEqual(content(original.tree))
        expect(rebuilt.tree.digest()).toBe(original.tree.digest())
      }),
      { numRuns: 100 },
    )
  })
})

describe('damaged snapshots', () => {
  const good = () => [...sampleTree().tree.snapshotEntries()]

  it('refuse a child before its parent, a duplicate path and a missing root', () => {
    const records = good()
    const deep = records.findIndex((r) => r.path === '/s/a/b')
    const swapped = [...records]
    swapped.splice(deep, 1)
    swapped.splice(1, 0, records[deep]!)
    expect(() => DataTree.fromSnapshot(swapped, 0n)).toThrow(/\/s\/a\/b before its parent/)
    expect(() => DataTree.fromSnapshot([...records, records[3]!], 0n)).toThrow(/twice/)
    expect(() => DataTree.fromSnapshot([], 0n)).toThrow(/no root/)
  })

  it('refuse malformed records with the field named', () => {
    const records = good()
    const broken: [Partial<Record<keyof SnapshotNode, unknown>>, RegExp][] = [
      [{ path: 'no-slash' }, /path/],
      [{ data: 'text' }, /data is not bytes/],
      [{ czxid: 5 }, /czxid is not a bigint/],
      [{ ephemeralOwner: undefined }, /ephemeralOwner/],
      [{ version: '1' }, /version is not an integer/],
      [{ mtime: 1.5 }, /mtime/],
      [{ container: 0 }, /container/],
      [{ acl: [{ perms: 'all', scheme: 'world', id: 'anyone' }] }, /acl/],
      [{ acl: null }, /acl/],
    ]
    for (const [change, message] of broken) {
      const damaged = records.map((r, i) => (i === 2 ? { ...r, ...change } : r)) as SnapshotNode[]
      expect(() => DataTree.fromSnapshot(damaged, 0n), message.source).toThrow(TreeAssertionError)
      expect(() => DataTree.fromSnapshot(damaged, 0n), message.source).toThrow(message)
    }
    expect(() => DataTree.fromSnapshot([null as unknown as SnapshotNode], 0n)).toThrow(
      /not an object/,
    )
  })
})
