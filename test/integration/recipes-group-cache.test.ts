/**
 * Group membership and the tree cache against a real server:
 * - members join, update and leave, and `watch()` reports each state; a member whose
 *   client goes leaves by itself;
 * - after a session loss a member is gone unless it asked to rejoin; a rejoin gets a
 *   new token; a taken id fails, or waits when asked;
 * - a join whose create reply was lost adopts its own node;
 * - `watch()` and the tree cache catch up after a dropped connection (the server does
 *   not replay persistent watch events);
 * - the tree cache reports a delete and re-create as `deleted` then `created`, live and
 *   across a disconnect, even when data and version are the same (CURATOR-391), and
 *   after a random workload it equals a fresh read of the tree.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  ClientClosedError,
  connect,
  group,
  LeaseEndedError,
  treeCache,
  type Client,
  type Member,
  type TreeCacheEvent,
  type TreeCache,
} from '../../client/index.js'
import { mulberry32 } from '../helpers/mulberry32.js'
import { startFaultProxy } from '../helpers/fault-proxy.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { waitFor, withDeadline } from '../helpers/wait.js'

let server: ServerProcess
const clients: Client[] = []
const cleanups: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  server = await startServer({ args: ['--tick-ms', '50', '--min-session-timeout-ms', '500'] })
})
afterAll(async () => {
  await server?.stop()
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

async function open(url = server.url, sessionTimeoutMs = 4000): Promise<Client> {
  const client = await connect({ servers: [url], sessionTimeoutMs })
  clients.push(client)
  return client
}

async function proxied(): Promise<TcpProxy> {
  const proxy = await startProxy(server.port)
  cleanups.push(() => proxy.close())
  return proxy
}

const text = (data: Uint8Array) => new TextDecoder().decode(data)
const summary = (members: Member[]) => members.map((m) => `${m.id}=${text(m.data)}`).join(' ')

/** collect runs a group watch in the background and keeps every report. */
function collect(client: Client, path: string): { seen: string[]; stop: () => Promise<void> } {
  const seen: string[] = []
  const controller = new AbortController()
  const loop = (async () => {
    for await (const members of group(client, path).watch({ signal: controller.signal }))
      seen.push(summary(members))
  })()
  return {
    seen,
    stop: async () => {
      controller.abort()
      await withDeadline(loop, 5000, 'group watch ends')
    },
  }
}

describe('group membership', () => {
  it('reports joins, updates and leaves; a member whose client goes leaves by itself', async () => {
    const path = '/groups/basic'
    const [a, b, watcher] = await Promise.all([open(), open(), open()])
    const watch = collect(watcher, path)
    cleanups.push(watch.stop)
    await waitFor(() => watch.seen.length === 1, { what: 'first report' })
    const memberA = await group(a, path).join('a', 'a:1')
    await waitFor(() => watch.seen.at(-1) === 'a=a:1', { what: 'a joined' })
    const memberB = await group(b, path).join('b', 'b:1')
    await waitFor(() => watch.seen.at(-1) === 'a=a:1 b=b:1', { what: 'b joined' })
    await memberB.update('b:2')
    await waitFor(() => watch.seen.at(-1) === 'a=a:1 b=b:2', { what: 'b updated' })
    expect(summary(await group(watcher, path).members())).toBe('a=a:1 b=b:2')
    await memberB.leave()
    expect((memberB.signal.reason as LeaseEndedError).reason).toBe('released')
    await waitFor(() => watch.seen.at(-1) === 'a=a:1', { what: 'b left' })
    await a.close()
    await waitFor(() => watch.seen.at(-1) === '', { what: 'a gone with its client' })
    expect(memberA.signal.aborted).toBe(true)
    expect(watch.seen).toEqual(['', 'a=a:1', 'a=a:1 b=b:1', 'a=a:1 b=b:2', 'a=a:1', ''])
  })

  it('a taken id fails, or waits for the holder to go when asked', async () => {
    const path = '/groups/taken'
    const [a, b] = await Promise.all([open(), open()])
    const first = await group(a, path).join('same', 'a')
    await expect(group(b, path).join('same', 'b')).rejects.toMatchObject({ code: 'NODE_EXISTS' })
    const waiting = group(b, path).join('same', 'b', { ifTaken: 'wait' })
    await first.leave()
    const second = await withDeadline(waiting, 10_000, 'join after the holder left')
    expect(second.token).toBeGreaterThan(first.token)
    expect(summary(await group(a, path).members())).toBe('same=b')
  })

  it('a session loss ends a membership, unless it rejoins (with a new token)', async () => {
    const path = '/groups/expiry'
    const proxy = await proxied()
    const flaky = await open(proxy.url, 1000)
    const watcher = await open()
    const once = await group(flaky, path).join('once', '')
    const again = await group(flaky, path).join('again', '', { rejoin: true })
    const tokenBefore = again.token
    proxy.block()
    proxy.cut()
    await waitFor(async () => (await group(watcher, path).members()).length === 0, {
      what: 'both expired',
      timeoutMs: 15_000,
    })
    proxy.unblock()
    await waitFor(() => once.signal.aborted, { what: "'once' ended" })
    expect((once.signal.reason as LeaseEndedError).reason).toBe('lost')
    await waitFor(async () => summary(await group(watcher, path).members()) === 'again=', {
      what: "'again' rejoined",
      timeoutMs: 15_000,
    })
    expect(again.signal.aborted).toBe(false)
    expect(again.token).toBeGreaterThan(tokenBefore)
    expect((await watcher.exists(`${path}/again`))!.ephemeralOwner).toBe(flaky.sessionId)
    await again.leave()
    expect(await watcher.exists(`${path}/again`)).toBeNull()
  })

  it('a join whose create reply was lost adopts its own node', async () => {
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: server.port } })
    cleanups.push(() => proxy.close())
    const flaky = await open(`ws://127.0.0.1:${proxy.port}`)
    const watcher = await open()
    const path = '/groups/lost-reply'
    await watcher.create(path, '', { makeParents: true })
    proxy.setMode({ kind: 'one-way', forward: 'to-target' })
    const joining = group(flaky, path).join('me', 'data')
    await waitFor(async () => (await watcher.children(path)).length === 1, {
      what: 'the create applied',
    })
    proxy.resetConnections()
    proxy.heal()
    const member = await withDeadline(joining, 15_000, 'joined after the lost reply')
    expect(member.token).toBe((await watcher.exists(`${path}/me`))!.czxid)
  })

  it('watch catches up after a dropped connection', async () => {
    const path = '/groups/drop'
    const proxy = await proxied()
    const watcherClient = await open(proxy.url)
    const [a, b] = await Promise.all([open(), open()])
    await group(a, path).join('a', '')
    const watch = collect(watcherClient, path)
    cleanups.push(watch.stop)
    await waitFor(() => watch.seen.at(-1) === 'a=', { what: 'a seen' })
    proxy.block()
    proxy.cut()
    await waitFor(() => watcherClient.state === 'suspended', { what: 'suspended' })
    await group(b, path).join('b', '')
    proxy.unblock()
    await waitFor(() => watch.seen.at(-1) === 'a= b=', { what: 'b seen after the reconnect' })
  })
})

describe('tree cache', () => {
  async function started(
    client: Client,
    root: string,
  ): Promise<{ cache: TreeCache; events: TreeCacheEvent[] }> {
    const cache = treeCache(client, root)
    cleanups.push(() => cache.close())
    const events: TreeCacheEvent[] = []
    void (async () => {
      for await (const event of cache.events()) events.push(event)
    })()
    await cache.start()
    // The initial creates reach the events() loop a few promise turns later.
    await waitFor(() => events.length >= cache.size, { what: 'initial events' })
    return { cache, events }
  }
  /** caughtUp waits until the cache holds every write made so far, and its events have reached the test's loop. */
  const caughtUp = async (cache: TreeCache) => {
    await cache.sync()
    await new Promise((resolve) => setTimeout(resolve, 0))
  }
  const described = (events: TreeCacheEvent[]) =>
    events.map((e) => {
      switch (e.type) {
        case 'resynced':
          return `resynced (${e.reason})`
        case 'deleted':
          return `deleted ${e.path}`
        case 'created':
        case 'changed':
          return `${e.type} ${e.path}=${text(e.data)}`
      }
    })

  it('loads, follows changes, and reports a live delete and re-create as deleted then created', async () => {
    const root = '/cache/live'
    const [writer, reader] = await Promise.all([open(), open()])
    await writer.create(`${root}/a`, 'a0', { makeParents: true })
    await writer.create(`${root}/a/x`, 'x0')
    const { cache, events } = await started(reader, root)
    expect(cache.paths()).toEqual([root, `${root}/a`, `${root}/a/x`])
    expect(cache.children(root)).toEqual(['a'])
    expect(described(events)).toEqual([
      `created ${root}=`,
      `created ${root}/a=a0`,
      `created ${root}/a/x=x0`,
    ])
    events.length = 0

    await writer.set(`${root}/a/x`, 'x1')
    await writer.create(`${root}/b`, 'b0')
    await writer.delete(`${root}/a/x`)
    await writer.create(`${root}/a/x`, 'x1') // same data, same version as before the delete
    await caughtUp(cache)
    expect(described(events)).toEqual([
      `changed ${root}/a/x=x1`,
      `created ${root}/b=b0`,
      `deleted ${root}/a/x`,
      `created ${root}/a/x=x1`,
    ])
    expect(text(cache.get(`${root}/a/x`)!.data)).toBe('x1')
    expect(cache.get(`${root}/a/x`)!.stat.czxid).toBe((await writer.exists(`${root}/a/x`))!.czxid)
  })

  it('a closed cache refuses sync() at once instead of leaving it waiting', async () => {
    const root = '/cache/closed'
    const client = await open()
    await client.create(root, '', { makeParents: true })
    const { cache } = await started(client, root)
    await cache.sync()
    await cache.close()
    await expect(cache.sync()).rejects.toBeInstanceOf(ClientClosedError)
  })

  it('after a dropped connection it reports each change made meanwhile, in order, with no re-read', async () => {
    const root = '/cache/drop'
    const proxy = await proxied()
    const [writer, reader] = await Promise.all([open(), open(proxy.url)])
    await writer.create(`${root}/same`, 'v', { makeParents: true })
    await writer.create(`${root}/changed`, 'c0')
    await writer.create(`${root}/gone`, 'g')
    const { cache, events } = await started(reader, root)
    events.length = 0
    proxy.block()
    proxy.cut()
    await waitFor(() => reader.state === 'suspended', { what: 'suspended' })
    const before = (await writer.exists(`${root}/same`))!
    await writer.delete(`${root}/same`)
    await writer.create(`${root}/same`, 'v') // identical data and version: only the czxid tells
    await writer.set(`${root}/changed`, 'c1')
    await writer.delete(`${root}/gone`)
    await writer.create(`${root}/new`, 'n')
    proxy.unblock()
    await waitFor(() => reader.state === 'connected', { what: 'back' })
    await caughtUp(cache)
    // The stream resumed where it was: the member replayed every change, in zxid order.
    expect(described(events)).toEqual([
      `deleted ${root}/same`,
      `created ${root}/same=v`,
      `changed ${root}/changed=c1`,
      `deleted ${root}/gone`,
      `created ${root}/new=n`,
    ])
    expect(cache.get(`${root}/same`)!.stat.czxid).toBeGreaterThan(before.czxid)
  })

  it('after a session loss it mirrors the tree again', async () => {
    const root = '/cache/expiry'
    const proxy = await proxied()
    const writer = await open()
    const reader = await open(proxy.url, 1000)
    await writer.create(`${root}/a`, 'a0', { makeParents: true })
    const { cache, events } = await started(reader, root)
    const session = reader.sessionId
    proxy.block()
    proxy.cut()
    await writer.set(`${root}/a`, 'a1')
    await writer.create(`${root}/b`, 'b0')
    await waitFor(() => reader.state === 'lost' || reader.sessionId !== session, {
      what: 'session lost',
      timeoutMs: 15_000,
    })
    proxy.unblock()
    await waitFor(() => reader.state === 'connected' && reader.sessionId !== session, {
      what: 'new session',
      timeoutMs: 15_000,
    })
    await writer.set(`${root}/b`, 'b1') // after the new session: through the new watch
    await caughtUp(cache)
    expect(cache.paths()).toEqual([root, `${root}/a`, `${root}/b`])
    expect(text(cache.get(`${root}/a`)!.data)).toBe('a1')
    expect(text(cache.get(`${root}/b`)!.data)).toBe('b1')
    expect(described(events)).toContain('resynced (session lost)')
  })

  it('equals a fresh read of the tree after a random workload', async () => {
    const root = '/cache/random'
    const [writer, reader] = await Promise.all([open(), open()])
    await writer.create(root, '', { makeParents: true })
    const { cache } = await started(reader, root)
    const random = mulberry32(20240611)
    const names = ['a', 'b', 'c']
    for (let i = 0; i < 150; i++) {
      const depth = 1 + Math.floor(random() * 3)
      const path =
        root +
        Array.from({ length: depth }, () => `/${names[Math.floor(random() * names.length)]}`).join(
          '',
        )
      const roll = random()
      try {
        if (roll < 0.45) await writer.create(path, `v${i}`)
        else if (roll < 0.75) await writer.set(path, `v${i}`)
        else await writer.delete(path)
      } catch {
        // NO_NODE, NODE_EXISTS, NOT_EMPTY: part of the workload
      }
    }
    await caughtUp(cache)
    const expected = new Map<string, string>()
    const walk = async (path: string) => {
      expected.set(path, text((await writer.get(path)).data))
      for (const child of await writer.children(path)) await walk(`${path}/${child}`)
    }
    await walk(root)
    expect(new Map(cache.paths().map((p) => [p, text(cache.get(p)!.data)]))).toEqual(expected)
  })
})
