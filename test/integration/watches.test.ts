/**
 * Watches end to end: one-shot watches fire exactly once, persistent-recursive ones
 * cover a subtree and keep firing, and the ordering promise holds: a client never
 * reads data newer than an event it has not yet received. The ordering test runs a
 * writer and a reader client against the same keys with many interleaved writes and
 * checks every read the reader gets against the events it had received before it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, type Client, type WatchEvent } from '../../client/index.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'
import { waitFor } from '../helpers/wait.js'
import { startProxy } from '../helpers/tcp-proxy.js'
import { SET_WATCHES_PATHS_MAX } from '../../protocol/index.js'

let server: ServerProcess
let a: Client
let b: Client

beforeAll(async () => {
  server = await startServer()
  a = await connect({ servers: [server.url], sessionTimeoutMs: 10_000 })
  b = await connect({ servers: [server.url], sessionTimeoutMs: 10_000 })
})
afterAll(async () => {
  await a?.close()
  await b?.close()
  await server?.stop()
})

describe('one-shot watches', () => {
  it('fire exactly once per registration', async () => {
    await a.create('/once', 'v0')
    const events: WatchEvent[] = []
    await b.get('/once', { watch: (e) => events.push(e) })
    await a.set('/once', 'v1')
    await a.set('/once', 'v2')
    await b.sync('/') // everything above is now delivered to b, in order
    await b.get('/once')
    expect(events.map((e) => e.type)).toEqual(['dataChanged'])
    expect(events[0]!.path).toBe('/once')
  })

  it('exists on a missing node fires created; children fires childrenChanged', async () => {
    const events: WatchEvent[] = []
    expect(await b.exists('/later', { watch: (e) => events.push(e) })).toBeNull()
    await a.create('/parent', '')
    await b.children('/parent', { watch: (e) => events.push(e) })
    await a.create('/later', '')
    await a.create('/parent/kid', '')
    await waitFor(() => events.length === 2, { what: 'two events' })
    expect(events.map((e) => `${e.type} ${e.path}`)).toEqual([
      'created /later',
      'childrenChanged /parent',
    ])
  })

  it('delete fires deleted on data and child watches', async () => {
    await a.create('/doomed', '')
    const events: WatchEvent[] = []
    await b.get('/doomed', { watch: (e) => events.push(e) })
    await b.children('/doomed', { watch: (e) => events.push(e) })
    await a.delete('/doomed')
    await waitFor(() => events.length === 2, { what: 'both watches fired' })
    expect(events.every((e) => e.type === 'deleted' && e.path === '/doomed')).toBe(true)
  })
})

describe('persistent watches', () => {
  it('a recursive watch sees the whole subtree and keeps firing; stopping it removes it', async () => {
    await a.create('/tree', '')
    const controller = new AbortController()
    const seen: string[] = []
    const done = (async () => {
      for await (const event of b.watch('/tree', { recursive: true, signal: controller.signal })) {
        seen.push(`${event.type} ${event.path}`)
        if (seen.length === 5) break
      }
    })()
    await waitFor(
      async () =>
        ((await fetch(`${server.httpUrl}/status`).then((r) => r.json())) as { watches: number })
          .watches > 0,
      {
        what: 'watch registered',
      },
    )
    await a.create('/tree/x', '')
    await a.create('/tree/x/y', '')
    await a.set('/tree/x/y', 'data')
    await a.delete('/tree/x/y')
    await a.set('/tree', 'root')
    await done
    expect(seen).toEqual([
      'created /tree/x',
      'created /tree/x/y',
      'dataChanged /tree/x/y',
      'deleted /tree/x/y',
      'dataChanged /tree',
    ])
  })
})

describe('watch, read, then loop', () => {
  it('sees every change made after the read: the stream is registered when watch() is called', async () => {
    await a.create('/read-then-loop', 'v0')
    const abort = new AbortController()
    const changes = b.watch('/read-then-loop', { signal: abort.signal })
    // The natural order: watch, read the current value, then start the loop. The read is
    // ordered behind the registration on b's connection, so a's writes after it are seen.
    const { data } = await b.get('/read-then-loop')
    expect(new TextDecoder().decode(data)).toBe('v0')
    const written = await a.set('/read-then-loop', 'v1')
    await a.set('/read-then-loop', 'v2')
    const seen: WatchEvent[] = []
    for await (const event of changes) {
      seen.push(event)
      if (seen.length === 2) abort.abort()
    }
    expect(seen.map((e) => [e.type, e.path])).toEqual([
      ['dataChanged', '/read-then-loop'],
      ['dataChanged', '/read-then-loop'],
    ])
    expect(seen[0]!.zxid).toBe(written.mzxid)
  })
})

describe('one-shot watches and a lost session', () => {
  it('a one-shot watcher is told once that its session was lost, so nothing waits for ever', async () => {
    const proxy = await startProxy(server.port)
    const client = await connect({ servers: [proxy.url], sessionTimeoutMs: 1000 })
    try {
      await a.create('/lost-watch', 'v0')
      const events: WatchEvent[] = []
      let resolveFired: (event: WatchEvent) => void = () => {}
      const fired = new Promise<WatchEvent>((resolve) => (resolveFired = resolve))
      await client.get('/lost-watch', {
        watch: (event) => {
          events.push(event)
          resolveFired(event)
        },
      })
      await client.sync()
      const seenZxid = client.lastZxid
      // Out of reach past the session timeout: the server expires the session (and its
      // watch); the client declares it lost on its own.
      proxy.block()
      proxy.cut()
      const event = await fired
      expect(event).toEqual({ type: 'sessionLost', path: '/lost-watch', zxid: seenZxid })
      proxy.unblock()
      await waitFor(() => client.state === 'connected', {
        timeoutMs: 20_000,
        what: 'a new session',
      })
      await a.set('/lost-watch', 'v1')
      await client.sync()
      expect(events.map((e) => e.type)).toEqual(['sessionLost'])
    } finally {
      await client.close()
      await proxy.close()
    }
  })
})

describe('ordering', () => {
  it('a reader never sees data newer than an event it has not received', async () => {
    const keys = ['/ord/k0', '/ord/k1', '/ord/k2']
    await a.create('/ord', '')
    for (const key of keys) await a.create(key, '0')
    let maxEventZxid = 0n
    const stream = (async () => {
      for await (const event of b.watch('/ord', { recursive: true })) {
        if (event.zxid > maxEventZxid) maxEventZxid = event.zxid
      }
    })()
    await b.sync('/')
    const baseline = (await a.exists('/ord/k2'))!.mzxid
    await waitFor(() => maxEventZxid >= 0n && b.state === 'connected')

    const writes = (async () => {
      for (let i = 1; i <= 300; i++) await a.set(keys[i % keys.length]!, String(i))
    })()
    const violations: string[] = []
    let reads = 0
    let writing = true
    void writes.then(() => (writing = false))
    while (writing) {
      const { stat } = await b.get(keys[reads % keys.length]!)
      reads += 1
      // Every write to /ord/* fires the recursive watch; a read showing mzxid m means
      // the event for the txn m must already have been delivered to b.
      if (stat.mzxid > baseline && stat.mzxid > maxEventZxid) {
        violations.push(
          `read mzxid 0x${stat.mzxid.toString(16)} before its event (max event 0x${maxEventZxid.toString(16)})`,
        )
      }
    }
    await writes
    expect(reads).toBeGreaterThan(10)
    expect(violations).toEqual([])
    void stream
  })
})

describe('re-registration after a reconnect', () => {
  it('re-registers more watches than one setWatches may carry, in several requests, and they all still fire', async () => {
    const proxy = await startProxy(server.port)
    const client = await connect({ servers: [proxy.url], sessionTimeoutMs: 30_000 })
    try {
      const count = 2 * SET_WATCHES_PATHS_MAX + 500
      const fired = new Set<string>()
      for (let i = 0; i < count; i++)
        await client.exists(`/many-${i}`, { watch: (event: WatchEvent) => fired.add(event.path) })
      const sessionId = client.sessionId
      proxy.cut() // the connection drops; the session lives on
      await waitFor(() => client.state !== 'connected', { what: 'the client noticed the cut' })
      await waitFor(() => client.state === 'connected', {
        timeoutMs: 30_000,
        what: 'the session resumed',
      })
      expect(client.sessionId).toBe(sessionId)
      // Watches from every slice of the re-registration fire: first, middle and last.
      const paths = ['/many-0', `/many-${SET_WATCHES_PATHS_MAX + 1}`, `/many-${count - 1}`]
      for (const path of paths) await b.create(path, 'x')
      await waitFor(() => paths.every((p) => fired.has(p)), {
        what: `created events for ${paths.join(', ')}`,
      })
    } finally {
      await client.close()
      await proxy.close()
    }
  }, 120_000)
})
