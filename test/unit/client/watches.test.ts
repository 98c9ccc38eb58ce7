/*
 * Goal: every server event reaches exactly the registrations ZooKeeper's rules say it
 * should, through the public API. Method: a scripted server answers the calls that
 * leave watches, then pushes events; the tests check that one-shot callbacks fire once
 * and only for their kinds, that `watch()` streams get persistent and recursive events
 * (recursive never childrenChanged), that the stream sends addWatch when its loop starts
 * and removeWatches when it ends or its signal aborts, and that a throwing callback does
 * not break delivery to the others.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { RemoveWatchesRequest } from '../../../protocol/index.js'
import { connect, type Client, type WatchEvent } from '../../../client/index.js'
import { waitFor } from '../../helpers/wait.js'
import { FakeServer, type FakeConnection } from './fake-server.js'

let s: FakeServer
let client: Client
let conn: FakeConnection

beforeEach(async () => {
  s = await FakeServer.start()
  s.onRequest = (c, m) => {
    const r = m.request
    if (r.op === 'exists')
      c.reply(m.xid, {
        stat: r.path.startsWith('/missing')
          ? null
          : {
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
              numChildren: 0,
            },
      })
    else if (r.op === 'children') c.reply(m.xid, { children: [] })
    else if (r.op === 'get')
      c.reply(m.xid, {
        data: new Uint8Array(),
        stat: {
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
          numChildren: 0,
        },
      })
    else c.reply(m.xid, {})
  }
  client = await connect({ servers: [s.url] })
  conn = s.last
})

afterEach(async () => {
  await client.close()
  await s.stop()
})

/** settle waits until the client has handled everything the server sent before now (events and replies are FIFO). */
async function settle(): Promise<void> {
  await client.sync()
}

describe('one-shot watches', () => {
  it('fire exactly once, then are forgotten', async () => {
    const seen: WatchEvent[] = []
    await client.get('/a', { watch: (e) => seen.push(e) })
    conn.event('dataChanged', '/a', 5n)
    conn.event('dataChanged', '/a', 6n)
    await settle()
    expect(seen).toEqual([{ type: 'dataChanged', path: '/a', zxid: 5n }])
  })

  it('route by kind: data watches see created/deleted/dataChanged, child watches see childrenChanged/deleted', async () => {
    const log: string[] = []
    const note = (name: string) => (e: WatchEvent) => log.push(`${name}:${e.type}`)
    await client.get('/d', { watch: note('get') })
    await client.exists('/d', { watch: note('exists') })
    await client.exists('/missing', { watch: note('exist-missing') })
    await client.children('/d', { watch: note('children') })
    await client.children('/k', { watch: note('children-k') })
    await client.get('/k', { watch: note('get-k') })

    conn.event('childrenChanged', '/d') // only the child watch on /d
    conn.event('created', '/missing') // the exist watch
    conn.event('deleted', '/k') // both the child and the data watch on /k
    conn.event('dataChanged', '/d') // both data watches on /d
    conn.event('dataChanged', '/d') // nothing left
    await settle()
    expect(log).toEqual([
      'children:childrenChanged',
      'exist-missing:created',
      'get-k:deleted',
      'children-k:deleted',
      'get:dataChanged',
      'exists:dataChanged',
    ])
  })

  it('are not left when the call fails', async () => {
    s.onRequest = (c, m) => c.reply(m.xid, undefined, { err: -101 })
    const seen: WatchEvent[] = []
    await expect(client.get('/gone', { watch: (e) => seen.push(e) })).rejects.toMatchObject({
      code: 'NO_NODE',
    })
    s.onRequest = (c, m) => c.reply(m.xid, {})
    conn.event('created', '/gone')
    await settle()
    expect(seen).toEqual([])
  })

  it('ask the server for a watch only when a callback is given', async () => {
    await client.get('/a')
    await client.get('/a', { watch: () => {} })
    await client.exists('/a', { watch: () => {} })
    await client.children('/a', { watch: () => {} })
    expect(s.requests.map((r) => (r.request as { watch?: boolean }).watch)).toEqual([
      false,
      true,
      true,
      true,
    ])
  })

  it('keep delivering to the others when one callback throws', async () => {
    const seen: string[] = []
    await client.get('/a', {
      watch: () => {
        throw new Error('user bug')
      },
    })
    await client.exists('/a', { watch: (e) => seen.push(e.type) })
    conn.event('dataChanged', '/a')
    await settle()
    expect(seen).toEqual(['dataChanged'])
    expect(client.state).toBe('connected')
  })
})

describe('watch() streams', () => {
  it('sends addWatch when the loop starts and yields every event of the node, childrenChanged included', async () => {
    const events: WatchEvent[] = []
    const done = (async () => {
      for await (const event of client.watch('/cfg')) {
        events.push(event)
        if (events.length === 3) break
      }
    })()
    await s.waitForRequests(1, 'addWatch')
    expect(s.requests[0]!.request).toEqual({ op: 'addWatch', path: '/cfg', mode: 'persistent' })
    conn.event('dataChanged', '/cfg', 1n)
    conn.event('childrenChanged', '/cfg', 2n)
    conn.event('dataChanged', '/cfg/child', 3n) // another node: not for this watch
    conn.event('deleted', '/cfg', 4n)
    await done
    expect(events.map((e) => `${e.type}@${e.zxid}`)).toEqual([
      'dataChanged@1',
      'childrenChanged@2',
      'deleted@4',
    ])
    // Leaving the loop removes the server watch.
    const removes = await s.waitForRequests(1, 'removeWatches')
    expect(removes[0]!.request).toEqual({
      op: 'removeWatches',
      path: '/cfg',
      kind: 'persistent',
    } satisfies RemoveWatchesRequest)
  })

  it('recursive: yields created/deleted/dataChanged for the whole subtree, never childrenChanged', async () => {
    const events: string[] = []
    const controller = new AbortController()
    const done = (async () => {
      for await (const event of client.watch('/app', {
        recursive: true,
        signal: controller.signal,
      }))
        events.push(`${event.type} ${event.path}`)
    })()
    await s.waitForRequests(1, 'addWatch')
    expect(s.requests[0]!.request).toMatchObject({ mode: 'persistentRecursive' })
    conn.event('created', '/app/a')
    conn.event('childrenChanged', '/app')
    conn.event('dataChanged', '/app/a/b/c')
    conn.event('dataChanged', '/apple') // a sibling with the same prefix: not in the subtree
    conn.event('deleted', '/app')
    await waitFor(() => events.length === 3)
    controller.abort()
    await done
    expect(events).toEqual(['created /app/a', 'dataChanged /app/a/b/c', 'deleted /app'])
    const removes = await s.waitForRequests(1, 'removeWatches')
    expect(removes[0]!.request).toMatchObject({ path: '/app', kind: 'persistentRecursive' })
  })

  it('routes one event to one-shot, persistent and recursive registrations together', async () => {
    const log: string[] = []
    await client.get('/x/y', { watch: (e) => log.push(`one-shot ${e.type}`) })
    const persistent = client.watch('/x/y')[Symbol.asyncIterator]()
    const recursive = client.watch('/', { recursive: true })[Symbol.asyncIterator]()
    await s.waitForRequests(2, 'addWatch')
    conn.event('dataChanged', '/x/y')
    const [p, r] = await Promise.all([persistent.next(), recursive.next()])
    await settle()
    expect(log).toEqual(['one-shot dataChanged'])
    expect(p.value).toMatchObject({ type: 'dataChanged', path: '/x/y' })
    expect(r.value).toMatchObject({ type: 'dataChanged', path: '/x/y' })
    await persistent.return?.()
    await recursive.return?.()
  })

  it('shares one server watch between two streams on a path and removes it after the last ends', async () => {
    const first = client.watch('/p')[Symbol.asyncIterator]()
    const second = client.watch('/p')[Symbol.asyncIterator]()
    await s.waitForRequests(1, 'addWatch')
    conn.event('dataChanged', '/p')
    expect((await first.next()).value).toMatchObject({ path: '/p' })
    expect((await second.next()).value).toMatchObject({ path: '/p' })
    await first.return?.()
    await settle()
    expect(s.requests.filter((r) => r.request.op === 'removeWatches')).toHaveLength(0)
    await second.return?.()
    await s.waitForRequests(1, 'removeWatches')
    expect(s.requests.filter((r) => r.request.op === 'addWatch')).toHaveLength(1)
  })

  it('does not start when its signal is already aborted', async () => {
    const controller = new AbortController()
    controller.abort()
    const events: WatchEvent[] = []
    for await (const event of client.watch('/p', { signal: controller.signal })) events.push(event)
    expect(events).toEqual([])
    await settle()
    expect(s.requests.map((r) => r.request.op)).toEqual(['sync'])
  })

  it('ends normally when the client closes', async () => {
    const stream = client.watch('/p')[Symbol.asyncIterator]()
    await s.waitForRequests(1, 'addWatch')
    const next = stream.next()
    await client.close()
    await expect(next).resolves.toEqual({ value: undefined, done: true })
  })
})
