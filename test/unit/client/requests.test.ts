/*
 * Goal: calls reach the server as the protocol says and their replies come back to the
 * right caller with the right types. Method: a scripted server (fake-server.ts) holds
 * or answers requests; the tests check request bodies, pipelining (many requests on the
 * wire before the first reply), FIFO matching of replies to callers, the handling of a
 * reply for an unexpected xid, error mapping (class, code, path, multi results), the
 * chroot in both directions, argument checks before anything is sent, zxid tracking,
 * and per-call abort and timeout with the right `definite` flag.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../../protocol/index.js'
import {
  AbortedError,
  BadArgumentsError,
  BadVersionError,
  ConnectionLossError,
  CreateMode,
  NoNodeError,
  NodeExistsError,
  OperationTimeoutError,
  connect,
  errors,
  op,
  type Client,
} from '../../../client/index.js'
import { waitFor } from '../../helpers/wait.js'
import { FakeServer, stat } from './fake-server.js'

let s: FakeServer
let client: Client

beforeEach(async () => {
  s = await FakeServer.start()
  client = await connect({ servers: [s.url], sessionTimeoutMs: 5000 })
})

afterEach(async () => {
  s.holdReplies = false
  await client.close()
  await s.stop()
})

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

describe('requests', () => {
  it('sends each call as its request body, strings as UTF-8', async () => {
    await client.create('/a', 'héllo', { mode: CreateMode.EPHEMERAL, makeParents: true })
    await client.set('/a', new Uint8Array([1, 2]), { version: 4 })
    await client.delete('/a')
    await client.get('/a', { linearizable: true })
    await client.children('/a')
    await client.sync()
    const bodies = s.requests.map((r) => r.request)
    expect(bodies).toEqual([
      {
        op: 'create',
        path: '/a',
        data: new TextEncoder().encode('héllo'),
        mode: 'ephemeral',
        makeParents: true,
      },
      { op: 'set', path: '/a', data: new Uint8Array([1, 2]), version: 4 },
      { op: 'delete', path: '/a', version: -1 },
      { op: 'get', path: '/a', watch: false, linearizable: true },
      { op: 'children', path: '/a', watch: false },
      { op: 'sync', path: '/' },
    ])
  })

  it('pipelines: every call is on the wire before the first reply, and each caller gets its own reply', async () => {
    s.holdReplies = true
    const paths = Array.from({ length: 20 }, (_, i) => `/n${i}`)
    const reads = paths.map((p) => client.get(p))
    await waitFor(() => s.heldCount === 20, { what: '20 requests on the wire' })
    const xids = s.requests.map((r) => r.xid)
    expect(new Set(xids).size).toBe(20)
    s.releaseHeld()
    const results = await Promise.all(reads)
    expect(results.map((r) => text(r.data))).toEqual(paths.map((p) => `data of ${p}`))
  })

  it('treats a reply for an unexpected xid as a protocol error: the connection drops and calls in flight fail', async () => {
    s.holdReplies = true
    const first = client.get('/x')
    const second = client.get('/y')
    await waitFor(() => s.heldCount === 2)
    const [a, b] = s.requests
    // Answer the second request first: replies must be FIFO per session.
    s.last.reply(b!.xid, { data: new Uint8Array(), stat: stat() })
    await expect(first).rejects.toBeInstanceOf(ConnectionLossError)
    await expect(second).rejects.toBeInstanceOf(ConnectionLossError)
    expect(a!.xid).toBeLessThan(b!.xid)
    await waitFor(() => client.state === 'connected' && s.connections.length === 2, {
      what: 'a new connection',
    })
  })

  it('maps error replies to their classes, with code, number, retryable and the user path', async () => {
    s.onRequest = (conn, m) => {
      const codes: Record<string, number> = {
        get: ErrorCode.NO_NODE,
        create: ErrorCode.NODE_EXISTS,
        set: ErrorCode.BAD_VERSION,
      }
      conn.reply(m.xid, undefined, {
        err: codes[m.request.op] ?? ErrorCode.SYSTEM_ERROR,
        message: 'nope',
      })
    }
    const noNode = await client.get('/missing').catch((e: unknown) => e)
    expect(noNode).toBeInstanceOf(NoNodeError)
    expect(noNode).toBeInstanceOf(errors.ConclaveError)
    expect(noNode).toMatchObject({
      code: 'NO_NODE',
      codeNumber: ErrorCode.NO_NODE,
      retryable: false,
      definite: true,
      path: '/missing',
      message: 'nope',
    })
    await expect(client.create('/a')).rejects.toBeInstanceOf(NodeExistsError)
    await expect(client.set('/a', 'x', { version: 2 })).rejects.toBeInstanceOf(BadVersionError)
    await expect(client.sync()).rejects.toMatchObject({ code: 'SYSTEM_ERROR' })
  })

  it('rejects a failed multi with the failing op’s error carrying every result', async () => {
    s.onRequest = (conn, m) => {
      const results = [
        { op: 'check', err: 0 },
        { op: 'set', err: ErrorCode.BAD_VERSION },
        { op: 'delete', err: ErrorCode.RUNTIME_INCONSISTENCY },
      ]
      conn.reply(m.xid, { results }, { err: ErrorCode.BAD_VERSION, message: 'bad version on /b' })
    }
    const error = await client
      .multi([op.check('/a', 3), op.set('/b', 'x', { version: 1 }), op.delete('/c')])
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BadVersionError)
    expect(error).toMatchObject({ path: '/b' })
    expect((error as BadVersionError).results?.map((r) => r.err)).toEqual([
      0,
      ErrorCode.BAD_VERSION,
      ErrorCode.RUNTIME_INCONSISTENCY,
    ])
  })

  it('sends multi ops as built and returns the results', async () => {
    const results = await client.multi([
      op.check('/a', 3),
      op.create('/b', 'x', { mode: 'ephemeral' }),
      op.set('/c', 'y'),
      op.delete('/d', { version: 2 }),
    ])
    expect(s.requests[0]!.request).toEqual({
      op: 'multi',
      ops: [
        { op: 'check', path: '/a', version: 3 },
        { op: 'create', path: '/b', data: new TextEncoder().encode('x'), mode: 'ephemeral' },
        { op: 'set', path: '/c', data: new TextEncoder().encode('y'), version: -1 },
        { op: 'delete', path: '/d', version: 2 },
      ],
    })
    expect(results.map((r) => r.op)).toEqual(['check', 'create', 'set', 'delete'])
  })

  it('refuses invalid paths with BadArgumentsError before sending anything', async () => {
    for (const bad of ['', 'a', '/a/', '/a//b', '/a/./b', '/a\u0000b']) {
      await expect(client.get(bad)).rejects.toBeInstanceOf(BadArgumentsError)
    }
    await expect(client.create('/seq-', '', { mode: 'persistent' })).resolves.toBe('/seq-')
    await expect(client.multi([op.check('/ok'), op.delete('bad')])).rejects.toBeInstanceOf(
      BadArgumentsError,
    )
    expect(() => client.watch('nope')).toThrow(BadArgumentsError)
    expect(s.requests.map((r) => r.request.op)).toEqual(['create'])
  })

  it('keeps the highest zxid seen in replies, events and pongs', async () => {
    s.zxid = 10n
    await client.get('/a')
    expect(client.lastZxid).toBe(10n)
    s.last.event('dataChanged', '/a', 12n)
    await waitFor(() => client.lastZxid === 12n)
    s.zxid = 11n
    await client.get('/a')
    expect(client.lastZxid).toBe(12n)
  })

  it('abort before sending: the call fails at once, definite, and nothing is sent', async () => {
    const controller = new AbortController()
    controller.abort()
    await expect(client.set('/a', 'x', { signal: controller.signal })).rejects.toMatchObject({
      code: 'ABORTED',
      definite: true,
    })
    expect(s.requests).toHaveLength(0)
  })

  it('abort after a write was sent: AbortedError with definite false; the late reply is ignored and later calls still work', async () => {
    s.holdReplies = true
    const controller = new AbortController()
    const write = client.set('/a', 'x', { signal: controller.signal })
    await waitFor(() => s.heldCount === 1)
    controller.abort()
    const error = await write.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AbortedError)
    expect(error).toMatchObject({ definite: false })
    s.holdReplies = false
    s.releaseHeld()
    await expect(client.get('/b')).resolves.toMatchObject({ stat: { version: 0 } })
    expect(client.state).toBe('connected')
  })

  it('times out a call with OperationTimeoutError: definite false for a sent write, true for a read', async () => {
    s.holdReplies = true
    const write = client.create('/a', 'x', { timeoutMs: 100 })
    const read = client.get('/a', { timeoutMs: 100 })
    await expect(write).rejects.toMatchObject({
      code: 'OPERATION_TIMEOUT',
      definite: false,
      retryable: true,
    })
    await expect(read).rejects.toBeInstanceOf(OperationTimeoutError)
    await expect(read).rejects.toMatchObject({ definite: true })
  })
})

describe('chroot', () => {
  let rooted: Client

  beforeEach(async () => {
    rooted = await connect({ servers: [s.url], chroot: '/app' })
  })

  afterEach(async () => {
    await rooted.close()
  })

  it('prefixes every path sent and strips every path received', async () => {
    s.onRequest = (conn, m) => {
      const r = m.request
      if (r.op === 'create') conn.reply(m.xid, { path: `${r.path}0000000001`, stat: stat() })
      else if (r.op === 'getEphemerals')
        conn.reply(m.xid, { paths: ['/app/e1', '/apple/x', '/app', '/other'] })
      else if (r.op === 'multi')
        conn.reply(m.xid, { results: [{ op: 'create', err: 0, path: '/app/m' }] })
      else conn.reply(m.xid, {})
    }
    expect(await rooted.create('/q/item-', 'x', { mode: CreateMode.PERSISTENT_SEQUENTIAL })).toBe(
      '/q/item-0000000001',
    )
    expect(await rooted.getEphemerals()).toEqual(['/e1', '/'])
    expect(await rooted.multi([op.create('/m')])).toEqual([{ op: 'create', err: 0, path: '/m' }])
    await rooted.sync('/')
    await rooted.delete('/q')
    const sent = s.requests
      .filter((r) => r.request.op !== 'closeSession')
      .map((r) =>
        'path' in r.request
          ? r.request.path
          : r.request.op === 'getEphemerals'
            ? r.request.prefix
            : '',
      )
    expect(sent).toEqual(['/app/q/item-', '/app', '', '/app', '/app/q'])
    expect((s.requests[2]!.request as { ops: Array<{ path: string }> }).ops[0]!.path).toBe('/app/m')
  })

  it('delivers events with the chroot stripped and ignores events outside it', async () => {
    const seen: string[] = []
    await rooted.get('/', { watch: (e) => seen.push(`root ${e.type} ${e.path}`) })
    await rooted.exists('/a', { watch: (e) => seen.push(`a ${e.type} ${e.path}`) })
    const conn = s.connections.find((c) => c.sessionId === rooted.sessionId)!
    conn.event('dataChanged', '/other') // outside the chroot: ignored
    conn.event('dataChanged', '/app/a')
    conn.event('dataChanged', '/app')
    await waitFor(() => seen.length === 2)
    expect(seen).toEqual(['a dataChanged /a', 'root dataChanged /'])
  })

  it('names the user path in errors', async () => {
    s.onRequest = (conn, m) => conn.reply(m.xid, undefined, { err: ErrorCode.NO_NODE })
    await expect(rooted.get('/x')).rejects.toMatchObject({ path: '/x', code: 'NO_NODE' })
  })
})
