/**
 * Pipelined prepares against the pending state (design §4, reference §3
 * outstandingChanges): a request prepared before the ones ahead of it are applied must
 * validate exactly as if they had been. Hand-written cases pin the classic ones
 * (create a then a/b, delete then re-create, two sequential creates, closeSession with a
 * pending ephemeral, BAD_VERSION against a pending set); a fast-check property runs
 * random write scripts with random interleavings of prepare and apply and requires the
 * very same txns and tree as preparing and applying one at a time. The pending state's
 * own bookkeeping (records dropped at the right zxid, outstanding count, reset) is
 * checked through the builder's counters.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ErrorCode, type Txn } from '../../../protocol/index.js'
import { DataTree } from '../../../server/tree/data-tree.js'
import { PendingState } from '../../../server/requests/pending-state.js'
import { Kit, bytes, codeOfTxn, content, replayAll } from './builder-kit.js'
import { runOneByOne, runPipelined, runStep, script } from './write-script.js'

const codeOf = (k: Kit, request: Parameters<Kit['prepare']>[0], sessionId = 1n) =>
  codeOfTxn(k.prepare(request, sessionId))

describe('pipelined prepares see the pending state', () => {
  it('create /a then /a/b before either is applied', () => {
    const k = new Kit()
    const a = k.prepare({ op: 'create', path: '/a', data: bytes(''), mode: 'persistent' })
    const b = k.prepare({ op: 'create', path: '/a/b', data: bytes(''), mode: 'persistent' })
    expect(b.op).toMatchObject({ type: 'create', parentCversion: 1 })
    expect(codeOf(k, { op: 'create', path: '/a/b', data: bytes(''), mode: 'persistent' })).toBe(
      ErrorCode.NODE_EXISTS,
    )
    expect(codeOf(k, { op: 'delete', path: '/a', version: -1 })).toBe(ErrorCode.NOT_EMPTY)
    k.apply(a)
    k.apply(b)
    expect(k.tree.children('/a')).toEqual(['b'])
    expect(k.builder.pendingRecords).toBe(0)
  })

  it('delete then re-create; a second delete or create sees the pending one', () => {
    const k = new Kit()
    k.create('/d', 'old')
    expect(codeOf(k, { op: 'delete', path: '/d', version: -1 })).toBe(0)
    expect(codeOf(k, { op: 'delete', path: '/d', version: -1 })).toBe(ErrorCode.NO_NODE)
    expect(codeOf(k, { op: 'set', path: '/d', data: bytes(''), version: -1 })).toBe(
      ErrorCode.NO_NODE,
    )
    expect(codeOf(k, { op: 'create', path: '/d', data: bytes('new'), mode: 'persistent' })).toBe(0)
    expect(codeOf(k, { op: 'create', path: '/d', data: bytes(''), mode: 'persistent' })).toBe(
      ErrorCode.NODE_EXISTS,
    )
    // The re-created node starts at version 0 again.
    expect(codeOf(k, { op: 'set', path: '/d', data: bytes(''), version: 0 })).toBe(0)
    for (const txn of k.log.slice(1)) k.apply(txn)
    expect(k.tree.getData('/d')).toMatchObject({ data: bytes(''), stat: { version: 1 } })
  })

  it('two sequential creates before apply get distinct names', () => {
    const k = new Kit()
    k.create('/s')
    const one = k.prepare({
      op: 'create',
      path: '/s/x-',
      data: bytes(''),
      mode: 'persistent-sequential',
    })
    const two = k.prepare({
      op: 'create',
      path: '/s/y-',
      data: bytes(''),
      mode: 'ephemeral-sequential',
    })
    expect(one.op).toMatchObject({ path: '/s/x-0000000000', parentCversion: 1 })
    expect(two.op).toMatchObject({ path: '/s/y-0000000001', parentCversion: 2 })
    k.apply(one)
    const three = k.prepare({
      op: 'create',
      path: '/s/x-',
      data: bytes(''),
      mode: 'persistent-sequential',
    })
    expect(three.op).toMatchObject({ path: '/s/x-0000000002' })
  })

  it('BAD_VERSION against a pending set; NOT_EMPTY against a pending child', () => {
    const k = new Kit()
    k.create('/v')
    expect(codeOf(k, { op: 'set', path: '/v', data: bytes('1'), version: 0 })).toBe(0)
    expect(codeOf(k, { op: 'set', path: '/v', data: bytes('2'), version: 0 })).toBe(
      ErrorCode.BAD_VERSION,
    )
    expect(codeOf(k, { op: 'delete', path: '/v', version: 0 })).toBe(ErrorCode.BAD_VERSION)
    expect(codeOf(k, { op: 'set', path: '/v', data: bytes('2'), version: 1 })).toBe(0)
    expect(codeOf(k, { op: 'create', path: '/v/kid', data: bytes(''), mode: 'persistent' })).toBe(0)
    expect(codeOf(k, { op: 'delete', path: '/v', version: 2 })).toBe(ErrorCode.NOT_EMPTY)
  })

  it('an ephemeral parent that is only pending still refuses children', () => {
    const k = new Kit()
    k.prepare({ op: 'create', path: '/e', data: bytes(''), mode: 'ephemeral' }, 3n)
    expect(codeOf(k, { op: 'create', path: '/e/kid', data: bytes(''), mode: 'persistent' })).toBe(
      ErrorCode.NO_CHILDREN_FOR_EPHEMERALS,
    )
  })

  it('closeSession includes pending ephemeral creates and leaves out pending deletes', () => {
    const k = new Kit()
    k.create('/e')
    k.create('/e/old', '', 'ephemeral', {}, 5n)
    k.create('/e/gone', '', 'ephemeral', {}, 5n)
    k.prepare({ op: 'create', path: '/e/new', data: bytes(''), mode: 'ephemeral' }, 5n)
    k.prepare({ op: 'create', path: '/e/seq-', data: bytes(''), mode: 'ephemeral-sequential' }, 5n)
    k.prepare({ op: 'delete', path: '/e/gone', version: -1 }, 5n)
    k.prepare({ op: 'create', path: '/e/gone', data: bytes(''), mode: 'ephemeral' }, 6n) // now someone else's
    const close = k.prepareClose(5n)
    expect(close.op).toEqual({
      type: 'closeSession',
      sessionId: 5n,
      deletePaths: ['/e/new', '/e/old', '/e/seq-0000000003'],
    })
    // Once the close is prepared the nodes are gone for later prepares, before any apply.
    expect(codeOf(k, { op: 'create', path: '/e/old', data: bytes(''), mode: 'persistent' })).toBe(0)
    expect(k.prepareClose(5n).op).toMatchObject({ deletePaths: [] })
    for (const txn of k.log.slice(3)) k.apply(txn)
    expect(k.tree.ephemeralsOf(5n)).toEqual([])
    expect(k.tree.ephemeralsOf(6n)).toEqual(['/e/gone'])
    expect(k.builder.pendingRecords).toBe(0)
  })

  it('a failed request still takes its place in line and changes nothing pending', () => {
    const k = new Kit()
    k.prepare({ op: 'create', path: '/a', data: bytes(''), mode: 'persistent' })
    const failed = k.prepare({ op: 'create', path: '/a', data: bytes(''), mode: 'persistent' })
    expect(codeOfTxn(failed)).toBe(ErrorCode.NODE_EXISTS)
    expect(k.builder.outstandingTxns).toBe(2)
    expect(k.builder.lastPreparedZxid).toBe(failed.zxid)
    expect(k.builder.pendingRecords).toBe(2) // / and /a, from the first create only
  })
})

describe('pending records', () => {
  it('are dropped when their txn is applied, not before; a newer record for the path stays', () => {
    const k = new Kit()
    k.create('/a')
    const set1 = k.prepare({ op: 'set', path: '/a', data: bytes('1'), version: -1 })
    const create = k.prepare({ op: 'create', path: '/b', data: bytes(''), mode: 'persistent' })
    const set2 = k.prepare({ op: 'set', path: '/a', data: bytes('2'), version: -1 })
    expect(k.builder.pendingRecords).toBe(3) // /a, /, /b
    expect(k.builder.outstandingTxns).toBe(3)
    k.apply(set1)
    expect(k.builder.pendingRecords).toBe(3) // /a is still ahead in set2
    k.apply(create)
    expect(k.builder.pendingRecords).toBe(1)
    expect(k.prepare({ op: 'set', path: '/a', data: bytes('3'), version: 2 }).op).toMatchObject({
      version: 3,
    })
    k.apply(set2)
    k.apply(k.log.at(-1)!)
    expect(k.builder.pendingRecords).toBe(0)
    expect(k.builder.outstandingTxns).toBe(0)
    expect(k.tree.stat('/a')?.version).toBe(3)
  })

  it('onApplied of a later zxid drops everything at or below it at once', () => {
    const k = new Kit()
    const txns = ['/a', '/b', '/c'].map((path) =>
      k.prepare({ op: 'create', path, data: bytes(''), mode: 'persistent' }),
    )
    for (const txn of txns) k.tree.apply(txn)
    k.builder.onApplied(txns[1]!.zxid)
    expect(k.builder.outstandingTxns).toBe(1)
    k.builder.onApplied(txns[2]!.zxid)
    expect(k.builder.outstandingTxns).toBe(0)
    expect(k.builder.pendingRecords).toBe(0)
  })

  it('reset forgets prepared changes: the tree is the truth again', () => {
    const k = new Kit()
    k.create('/kept')
    k.prepare({ op: 'create', path: '/r', data: bytes(''), mode: 'persistent' })
    k.prepare({ op: 'delete', path: '/kept', version: -1 })
    k.prepare({ op: 'create', path: '/e', data: bytes(''), mode: 'ephemeral' }, 4n)
    k.builder.reset()
    expect(k.builder.pendingRecords).toBe(0)
    expect(k.builder.outstandingTxns).toBe(0)
    expect(k.builder.lastPreparedZxid).toBe(0n)
    expect(codeOf(k, { op: 'create', path: '/r/kid', data: bytes(''), mode: 'persistent' })).toBe(
      ErrorCode.NO_NODE,
    )
    expect(codeOf(k, { op: 'set', path: '/kept', data: bytes(''), version: 0 })).toBe(0)
    expect(k.prepareClose(4n).op).toMatchObject({ deletePaths: [] })
  })

  it('keeps a bounded queue over a long pipelined run', () => {
    const k = new Kit()
    k.create('/n')
    for (let i = 0; i < 5000; i++) {
      const txn = k.prepare({ op: 'set', path: '/n', data: bytes(String(i)), version: i })
      expect(codeOfTxn(txn)).toBe(0)
      if (i % 3 === 2) for (const t of k.log.slice(-3)) k.apply(t)
    }
    for (const t of k.log.slice(-2)) k.apply(t)
    expect(k.builder.outstandingTxns).toBe(0)
    expect(k.tree.stat('/n')?.version).toBe(5000)
    const internals = (k.builder as unknown as { pending: { prepared: unknown[] } }).pending
    expect(internals.prepared.length).toBeLessThan(2100)
  })

  it('ephemeralsOf reads through to the tree for a session with nothing pending', () => {
    const tree = new DataTree()
    const pending = new PendingState(tree)
    expect(pending.ephemeralsOf(1n)).toEqual([])
    expect(pending.get('/zookeeper')).toMatchObject({ numChildren: 0, ephemeralOwner: 0n })
    expect(pending.get('/')).toMatchObject({ numChildren: 1 })
  })
})

describe('property: pipelining changes nothing', () => {
  it('random scripts with random prepare/apply interleavings give the same txns and tree as one at a time', () => {
    fc.assert(
      fc.property(script(40), fc.array(fc.nat(3), { maxLength: 60 }), (steps, applyCounts) => {
        const reference = new Kit()
        const expected = runOneByOne(reference, steps)

        const k = new Kit()
        const prepared: Txn[] = []
        let applied = 0
        for (const [i, s] of steps.entries()) {
          prepared.push(...runStep(k, s))
          // Apply a few of the oldest prepared txns, as commits trickle in.
          for (let n = applyCounts[i] ?? 0; n > 0 && applied < prepared.length; n--)
            k.apply(prepared[applied++]!)
        }
        while (applied < prepared.length) k.apply(prepared[applied++]!)

        expect(prepared).toEqual(expected)
        expect(content(k.tree)).toEqual(content(reference.tree))
        expect(k.tree.digest()).toBe(reference.tree.digest())
        expect(k.builder.pendingRecords).toBe(0)
        expect(k.builder.outstandingTxns).toBe(0)
        expect(content(replayAll(prepared, 2))).toEqual(content(k.tree))
      }),
      { numRuns: 300 },
    )
  })

  it('fully pipelined scripts (prepare everything, then apply) match too', () => {
    fc.assert(
      fc.property(script(40), (steps) => {
        const reference = new Kit()
        const expected = runOneByOne(reference, steps)
        const k = new Kit()
        expect(runPipelined(k, steps)).toEqual(expected)
        expect(k.tree.digest()).toBe(reference.tree.digest())
      }),
      { numRuns: 200 },
    )
  })
})
