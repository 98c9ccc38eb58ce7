/**
 * Every client operation end to end: a real server process on port 0, the real SDK
 * over a real WebSocket. Success paths and each error the issue names, checked
 * against ZooKeeper's semantics (sequential counters, ephemerals without children,
 * all-or-nothing multi, Stat after each kind of change).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, op, type Client } from '../../client/index.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'

let server: ServerProcess
let client: Client
const text = (b: Uint8Array) => new TextDecoder().decode(b)

beforeAll(async () => {
  server = await startServer()
  client = await connect({ servers: [server.url], sessionTimeoutMs: 10_000 })
})
afterAll(async () => {
  await client?.close()
  await server?.stop()
})

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise
  } catch (err) {
    return (err as { code?: string }).code
  }
  return 'resolved'
}

describe('create / get / set / delete', () => {
  it('creates, reads, updates and deletes with the Stat rules', async () => {
    expect(await client.create('/ops', 'root')).toBe('/ops')
    const { data, stat } = await client.get('/ops')
    expect(text(data)).toBe('root')
    expect(stat.version).toBe(0)
    expect(stat.czxid).toBe(stat.mzxid)
    expect(stat.pzxid).toBe(stat.czxid)
    expect(stat.dataLength).toBe(4)
    expect(stat.ephemeralOwner).toBe(0n)

    const set = await client.set('/ops', 'v1', { version: 0 })
    expect(set.version).toBe(1)
    expect(set.mzxid > stat.mzxid).toBe(true)
    expect(set.czxid).toBe(stat.czxid)
    expect(await codeOf(client.set('/ops', 'v2', { version: 0 }))).toBe('BAD_VERSION')

    await client.create('/ops/child', '')
    const parent = await client.exists('/ops')
    expect(parent?.numChildren).toBe(1)
    expect(parent?.cversion).toBe(1)
    expect(parent?.version).toBe(1)
    const child = await client.exists('/ops/child')
    expect(parent?.pzxid).toBe(child?.czxid)

    expect(await codeOf(client.delete('/ops'))).toBe('NOT_EMPTY')
    expect(await codeOf(client.delete('/ops/child', { version: 3 }))).toBe('BAD_VERSION')
    await client.delete('/ops/child', { version: 0 })
    const afterDelete = await client.exists('/ops')
    expect(afterDelete?.numChildren).toBe(0)
    expect(afterDelete?.cversion).toBe(1) // deletes do not bump cversion
    expect(afterDelete!.pzxid > child!.czxid).toBe(true)
    expect(await client.exists('/ops/child')).toBeNull()
  })

  it('reports NO_NODE, NODE_EXISTS and BAD_ARGUMENTS', async () => {
    expect(await codeOf(client.get('/missing'))).toBe('NO_NODE')
    expect(await codeOf(client.set('/missing', 'x'))).toBe('NO_NODE')
    expect(await codeOf(client.delete('/missing'))).toBe('NO_NODE')
    expect(await codeOf(client.children('/missing'))).toBe('NO_NODE')
    expect(await codeOf(client.create('/no/parent', 'x'))).toBe('NO_NODE')
    await client.create('/dup', '')
    expect(await codeOf(client.create('/dup', ''))).toBe('NODE_EXISTS')
    expect(await codeOf(client.get('bad'))).toBe('BAD_ARGUMENTS')
    expect(await codeOf(client.create('/zookeeper/mine', ''))).toBe('BAD_ARGUMENTS')
    expect(await codeOf(client.delete('/zookeeper'))).toBe('BAD_ARGUMENTS')
    expect(await codeOf(client.create('/ttl-eph', '', { mode: 'ephemeral', ttlMs: 1000 }))).toBe(
      'BAD_ARGUMENTS',
    )
  })

  it('refuses data over the limit with BAD_ARGUMENTS and keeps serving', async () => {
    const limited = await startServer({ args: ['--max-data-bytes', '1024'] })
    try {
      const c = await connect({ servers: [limited.url], sessionTimeoutMs: 5000 })
      expect(await codeOf(c.create('/big', new Uint8Array(1025)))).toBe('BAD_ARGUMENTS')
      expect(await c.create('/small', new Uint8Array(1024))).toBe('/small')
      await c.close()
    } finally {
      await limited.stop()
    }
  })

  it('creates missing parents with makeParents', async () => {
    expect(await client.create('/deep/a/b/c', 'leaf', { makeParents: true })).toBe('/deep/a/b/c')
    expect(await client.children('/deep/a')).toEqual(['b'])
    expect(text((await client.get('/deep/a/b/c')).data)).toBe('leaf')
  })
})

describe('sequential and ephemeral nodes', () => {
  it('names sequential nodes from the parent counter, shared across prefixes', async () => {
    await client.create('/seq', '')
    const a = await client.create('/seq/a-', '', { mode: 'persistent-sequential' })
    const b = await client.create('/seq/b-', '', { mode: 'ephemeral-sequential' })
    await client.create('/seq/plain', '')
    const c = await client.create('/seq/a-', '', { mode: 'persistent-sequential' })
    expect([a, b, c]).toEqual(['/seq/a-0000000000', '/seq/b-0000000001', '/seq/a-0000000003'])
    await client.delete(c)
    const d = await client.create('/seq/', '', { mode: 'persistent-sequential' })
    expect(d).toBe('/seq/0000000004') // deletes never give a number back
  })

  it('ephemeral nodes carry the owner and cannot have children', async () => {
    await client.create('/eph', '', { mode: 'ephemeral' })
    const stat = await client.exists('/eph')
    expect(stat?.ephemeralOwner).toBe(client.sessionId)
    expect(await codeOf(client.create('/eph/child', ''))).toBe('NO_CHILDREN_FOR_EPHEMERALS')
    const mine = await client.getEphemerals('/')
    expect(mine).toContain('/eph')
    expect(mine).toContain('/seq/b-0000000001')
  })
})

describe('multi', () => {
  it('applies every op under one zxid', async () => {
    await client.create('/m', '')
    await client.create('/m/x', 'x')
    const results = await client.multi([
      op.check('/m/x', 0),
      op.create('/m/y', 'y'),
      op.set('/m/x', 'x2'),
      op.delete('/m/y'),
      op.create('/m/z', 'z'),
    ])
    expect(results.map((r) => r.err)).toEqual([0, 0, 0, 0, 0])
    const x = await client.exists('/m/x')
    const z = await client.exists('/m/z')
    expect(x?.mzxid).toBe(z?.czxid)
    expect(await client.children('/m')).toEqual(['x', 'z'])
  })

  it('applies nothing when one op fails and reports per-op errors', async () => {
    const before = await client.children('/m')
    let failure: { code?: string; results?: { err: number }[] } | undefined
    try {
      await client.multi([
        op.create('/m/new', ''),
        op.set('/m/x', 'nope', { version: 99 }),
        op.delete('/m/z'),
      ])
    } catch (err) {
      failure = err as typeof failure
    }
    expect(failure?.code).toBe('BAD_VERSION')
    expect(failure?.results?.map((r) => r.err)).toEqual([0, -103, -2])
    expect(await client.children('/m')).toEqual(before)
    expect(text((await client.get('/m/x')).data)).toBe('x2')
  })
})

describe('reads', () => {
  it('lists children sorted, with Stat, counts descendants, syncs and reads linearizably', async () => {
    await client.create('/r', '')
    for (const name of ['c', 'a', 'b']) await client.create(`/r/${name}`, '')
    await client.create('/r/a/deep', '')
    expect(await client.children('/r')).toEqual(['a', 'b', 'c'])
    const { children, stat } = await client.childrenWithStat('/r')
    expect(children).toEqual(['a', 'b', 'c'])
    expect(stat.numChildren).toBe(3)
    expect(await client.childCount('/r')).toBe(4)
    await client.sync('/')
    const read = await client.get('/r/a', { linearizable: true })
    expect(read.stat.numChildren).toBe(1)
    const acl = await client.getAcl('/r')
    expect(acl.acl).toEqual([{ perms: 31, scheme: 'world', id: 'anyone' }])
  })

  it('sees /zookeeper from the start', async () => {
    expect(await client.exists('/zookeeper')).not.toBeNull()
  })
})

describe('HTTP endpoints', () => {
  it('serves /health and /status on the client port (with the data bytes and ephemerals /metrics shows)', async () => {
    const health = await fetch(`${server.httpUrl}/health`)
    expect(health.status).toBe(200)
    const readStatus = async () =>
      (await (await fetch(`${server.httpUrl}/status`)).json()) as Record<string, unknown>
    // The znode count must follow the tree: this test makes its own node rather than
    // counting on what earlier tests in the file left (it also runs alone, with -t).
    const before = await readStatus()
    await client.create('/http-endpoints', 'abc')
    await client.create('/http-endpoints-e', '', { mode: 'ephemeral' })
    const status = await readStatus()
    expect(Number(status.znodes)).toBe(Number(before.znodes) + 2)
    expect(Number(status.dataBytes)).toBe(Number(before.dataBytes) + 3)
    expect(Number(status.ephemerals)).toBe(Number(before.ephemerals) + 1)
    expect(status.requestsInFlight).toBe(0)
    expect(status.role).toBe('standalone')
    expect(status.id).toBe(1)
    expect(Number(status.sessions)).toBeGreaterThanOrEqual(1)
    expect(Number(status.connections)).toBeGreaterThanOrEqual(1)
    expect(typeof status.zxid).toBe('string')
    expect((await fetch(`${server.httpUrl}/nope`)).status).toBe(404)
  })
})
