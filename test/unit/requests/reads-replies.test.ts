/**
 * The answers a client gets: `answerRead` for every read op (results, NO_NODE,
 * exists-null, withStat, this session's ephemerals by prefix, descendant counts, ACLs,
 * invalid paths), and `replyForWrite` shaping each write's reply from its applied txn
 * (create with and without makeParents, set, delete, multi, failed multi with per-op
 * codes, error messages that name the code and path, closeSession) plus the
 * SYSTEM_ERROR it gives when a txn does not fit its request.
 */
import { describe, expect, it } from 'vitest'
import { ErrorCode, OPEN_ACL_UNSAFE, makeZxid, type Request } from '../../../protocol/index.js'
import { answerRead } from '../../../server/requests/reads.js'
import { replyForWrite } from '../../../server/requests/write-reply.js'
import { Kit, bytes, txnAt } from './builder-kit.js'

describe('answerRead', () => {
  const k = new Kit()
  k.create('/r', 'root data')
  k.create('/r/b', 'b')
  k.create('/r/a/x', '', 'persistent', { makeParents: true })
  k.create('/r/e1', '', 'ephemeral', {}, 7n)
  k.create('/r/a/e2', '', 'ephemeral', {}, 7n)
  k.create('/other', '', 'ephemeral', {}, 8n)

  it('exists gives the Stat, or a null stat without an error for a missing node', () => {
    expect(answerRead(k.tree, { op: 'exists', path: '/r', watch: false }, 1n)).toEqual({
      err: 0,
      result: { stat: k.tree.stat('/r') },
    })
    expect(answerRead(k.tree, { op: 'exists', path: '/none', watch: true }, 1n)).toEqual({
      err: 0,
      result: { stat: null },
    })
  })

  it('get gives data and Stat, NO_NODE with a message naming the path', () => {
    expect(answerRead(k.tree, { op: 'get', path: '/r', watch: false }, 1n)).toEqual({
      err: 0,
      result: { data: bytes('root data'), stat: k.tree.stat('/r') },
    })
    expect(answerRead(k.tree, { op: 'get', path: '/r/none', watch: false }, 1n)).toEqual({
      err: ErrorCode.NO_NODE,
      message: 'NO_NODE: /r/none does not exist',
    })
  })

  it('children gives sorted names, with the parent Stat on request', () => {
    expect(answerRead(k.tree, { op: 'children', path: '/r', watch: false }, 1n)).toEqual({
      err: 0,
      result: { children: ['a', 'b', 'e1'] },
    })
    expect(
      answerRead(k.tree, { op: 'children', path: '/r', watch: false, withStat: true }, 1n),
    ).toEqual({
      err: 0,
      result: { children: ['a', 'b', 'e1'], stat: k.tree.stat('/r') },
    })
    expect(answerRead(k.tree, { op: 'children', path: '/none', watch: false }, 1n).err).toBe(
      ErrorCode.NO_NODE,
    )
  })

  it('getEphemerals lists only the asking session, filtered by prefix', () => {
    expect(answerRead(k.tree, { op: 'getEphemerals', prefix: '/' }, 7n)).toEqual({
      err: 0,
      result: { paths: ['/r/a/e2', '/r/e1'] },
    })
    expect(answerRead(k.tree, { op: 'getEphemerals', prefix: '/r/a' }, 7n)).toEqual({
      err: 0,
      result: { paths: ['/r/a/e2'] },
    })
    expect(answerRead(k.tree, { op: 'getEphemerals', prefix: '' }, 8n)).toEqual({
      err: 0,
      result: { paths: ['/other'] },
    })
    expect(answerRead(k.tree, { op: 'getEphemerals', prefix: '/' }, 9n)).toEqual({
      err: 0,
      result: { paths: [] },
    })
  })

  it('childCount counts every descendant', () => {
    expect(answerRead(k.tree, { op: 'childCount', path: '/r' }, 1n)).toEqual({
      err: 0,
      result: { count: 5 },
    })
    expect(answerRead(k.tree, { op: 'childCount', path: '/r/b' }, 1n)).toEqual({
      err: 0,
      result: { count: 0 },
    })
    expect(answerRead(k.tree, { op: 'childCount', path: '/none' }, 1n).err).toBe(ErrorCode.NO_NODE)
  })

  it('getAcl gives a copy of the ACL and the Stat', () => {
    const reply = answerRead(k.tree, { op: 'getAcl', path: '/r' }, 1n)
    expect(reply).toEqual({
      err: 0,
      result: { acl: [...OPEN_ACL_UNSAFE], stat: k.tree.stat('/r') },
    })
    ;(reply.result as { acl: { perms: number }[] }).acl[0]!.perms = 0
    expect(k.tree.getNode('/r')?.acl[0]?.perms).toBe(31)
    expect(answerRead(k.tree, { op: 'getAcl', path: '/none' }, 1n).err).toBe(ErrorCode.NO_NODE)
  })

  it('an invalid path is BAD_ARGUMENTS, not NO_NODE', () => {
    for (const path of ['', 'r', '/r/', '/r//b', '/r/./b']) {
      const reply = answerRead(k.tree, { op: 'get', path, watch: false }, 1n)
      expect(reply.err, path).toBe(ErrorCode.BAD_ARGUMENTS)
      expect(reply.message).toMatch(/^BAD_ARGUMENTS: invalid path/)
    }
    expect(answerRead(k.tree, { op: 'exists', path: 'x', watch: false }, 1n).err).toBe(
      ErrorCode.BAD_ARGUMENTS,
    )
  })
})

describe('replyForWrite', () => {
  it('create answers with the created path and its Stat; with makeParents, the requested node', () => {
    const k = new Kit()
    expect(k.create('/a')).toEqual({ err: 0, result: { path: '/a', stat: k.tree.stat('/a') } })
    const seq = k.create('/a/s-', '', 'persistent-sequential')
    expect(seq).toEqual({
      err: 0,
      result: { path: '/a/s-0000000000', stat: k.tree.stat('/a/s-0000000000') },
    })
    const deep = k.create('/x/y/z', 'leaf', 'persistent', { makeParents: true })
    expect(deep).toEqual({ err: 0, result: { path: '/x/y/z', stat: k.tree.stat('/x/y/z') } })
  })

  it('set answers with the new Stat, delete and closeSession with an empty result', () => {
    const k = new Kit()
    k.create('/a')
    expect(k.set('/a', 'v', 0)).toEqual({ err: 0, result: { stat: k.tree.stat('/a') } })
    expect(k.remove('/a', 1)).toEqual({ err: 0, result: {} })
    k.create('/e', '', 'ephemeral', {}, 3n)
    const close = k.prepareClose(3n)
    expect(replyForWrite({ op: 'closeSession' }, close, k.apply(close))).toEqual({
      err: 0,
      result: {},
    })
  })

  it('an error txn answers with its code and a message naming the code and the path', () => {
    const k = new Kit()
    expect(k.create('/a/b')).toEqual({
      err: ErrorCode.NO_NODE,
      message: 'NO_NODE: parent /a of /a/b does not exist',
    })
    k.create('/a')
    expect(k.create('/a')).toEqual({
      err: ErrorCode.NODE_EXISTS,
      message: 'NODE_EXISTS: /a already exists',
    })
    expect(k.set('/a', 'x', 4)).toEqual({
      err: ErrorCode.BAD_VERSION,
      message: 'BAD_VERSION: /a is at version 0, not 4',
    })
    expect(k.remove('/zookeeper')).toEqual({
      err: ErrorCode.BAD_ARGUMENTS,
      message: 'BAD_ARGUMENTS: /zookeeper cannot be deleted',
    })
    const bare = txnAt(9, { type: 'error', code: ErrorCode.NO_NODE })
    expect(
      replyForWrite({ op: 'delete', path: '/q', version: -1 }, bare, { changes: [], outcomes: [] }),
    ).toEqual({
      err: ErrorCode.NO_NODE,
      message: 'NO_NODE: the request failed',
    })
  })

  it('multi answers per op; a failed multi gives the failing code and every op its own', () => {
    const k = new Kit()
    k.create('/m')
    const ok = k.run({
      op: 'multi',
      ops: [
        { op: 'create', path: '/m/a', data: bytes(''), mode: 'persistent' },
        { op: 'check', path: '/m', version: 0 },
        { op: 'set', path: '/m/a', data: bytes('x'), version: 0 },
        { op: 'delete', path: '/m/a', version: 1 },
      ],
    })
    expect(ok.err).toBe(0)
    expect(ok.result).toEqual({
      results: [
        { op: 'create', err: 0, path: '/m/a', stat: expect.objectContaining({ version: 0 }) },
        { op: 'check', err: 0 },
        { op: 'set', err: 0, stat: expect.objectContaining({ version: 1 }) },
        { op: 'delete', err: 0 },
      ],
    })
    const failed = k.run({
      op: 'multi',
      ops: [
        { op: 'check', path: '/m', version: 0 },
        { op: 'set', path: '/m', data: bytes(''), version: 7 },
        { op: 'delete', path: '/m', version: -1 },
      ],
    })
    expect(failed).toEqual({
      err: ErrorCode.BAD_VERSION,
      message: 'BAD_VERSION: op 1 (set): /m is at version 0, not 7',
      result: {
        results: [
          { op: 'check', err: 0 },
          { op: 'set', err: ErrorCode.BAD_VERSION },
          { op: 'delete', err: ErrorCode.RUNTIME_INCONSISTENCY },
        ],
      },
    })
  })

  it('a txn that does not fit its request is a SYSTEM_ERROR, never a made-up success', () => {
    const k = new Kit()
    k.create('/a')
    const setTxn = k.prepare({ op: 'set', path: '/a', data: bytes(''), version: -1 })
    const applied = k.apply(setTxn)
    const asDelete: Request = { op: 'delete', path: '/a', version: -1 }
    expect(replyForWrite(asDelete, setTxn, applied)).toMatchObject({
      err: ErrorCode.SYSTEM_ERROR,
      message: expect.stringMatching(/did not apply as a delete/),
    })
    const multi: Request = { op: 'multi', ops: [{ op: 'delete', path: '/a', version: -1 }] }
    expect(replyForWrite(multi, setTxn, applied).err).toBe(ErrorCode.SYSTEM_ERROR)
    const read: Request = { op: 'get', path: '/a', watch: false }
    expect(replyForWrite(read, setTxn, applied).err).toBe(ErrorCode.SYSTEM_ERROR)
    expect(
      replyForWrite(
        { op: 'create', path: '/b', data: bytes(''), mode: 'persistent' },
        { ...setTxn, zxid: makeZxid(1, 99) },
        { changes: [], outcomes: [] },
      ).message,
    ).toMatch(/0x1_00000063/)
  })
})
