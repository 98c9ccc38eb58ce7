/**
 * A 3-member ensemble of real processes with clients spread over the members:
 * - a write through one member is read through every other after `sync`;
 * - sequential nodes created concurrently through different members get unique,
 *   gap-free numbers in zxid order;
 * - an ephemeral node is seen through every member and is gone from every member when
 *   its session closes, and when it expires (the client cut off behind a TCP proxy),
 *   with watchers on other members told;
 * - one-shot and persistent recursive watches fire on a member other than the one the
 *   change went through, in zxid order.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { connect, type Client, type WatchEvent } from '../../client/index.js'
import { finishEnsemble, startEnsemble, type Ensemble } from '../helpers/ensemble.js'
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { waitFor } from '../helpers/wait.js'

let ensemble: Ensemble | undefined
let failed = false
const clients: Client[] = []
const proxies: TcpProxy[] = []

beforeAll(async () => {
  ensemble = await startEnsemble({ size: 3, name: 'basics', minSessionTimeoutMs: 500 })
  await ensemble.leader()
}, 120_000)
afterEach(async (context) => {
  if (context.task.result?.state === 'fail') failed = true
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)))
  await Promise.all(proxies.splice(0).map((p) => p.close()))
})
afterAll(async () => {
  await finishEnsemble(ensemble, failed, 'ensemble-basics failed')
}, 30_000)

/** on opens a session pinned to member `id`. */
async function on(id: number, sessionTimeoutMs = 10_000): Promise<Client> {
  const client = await connect({ servers: [ensemble!.member(id).url], sessionTimeoutMs })
  clients.push(client)
  return client
}

const text = (data: Uint8Array) => new TextDecoder().decode(data)

describe('a 3-member ensemble', () => {
  it('serves a write through one member to reads through every other after sync', async () => {
    const e = ensemble!
    const [c1, c2, c3] = [await on(1), await on(2), await on(3)]
    expect([c1.serverId, c2.serverId, c3.serverId]).toEqual([1, 2, 3])
    for (const [i, writer] of [c1, c2, c3].entries()) {
      await writer.create(`/basic-${i + 1}`, `written through ${i + 1}`)
      for (const [j, reader] of [c1, c2, c3].entries()) {
        await reader.sync(`/basic-${i + 1}`)
        const { data, stat } = await reader.get(`/basic-${i + 1}`)
        expect(text(data), `member ${j + 1} reading what member ${i + 1} wrote`).toBe(
          `written through ${i + 1}`,
        )
        expect(stat.version).toBe(0)
      }
    }
    await c3.set('/basic-1', 'changed through 3')
    await c2.sync('/basic-1')
    expect(text((await c2.get('/basic-1')).data)).toBe('changed through 3')
    const { zxid } = await e.converged()
    expect(zxid).toBeGreaterThan(0n)
  })

  it('numbers sequential nodes created through different members uniquely, without gaps, in zxid order', async () => {
    const writers = [await on(1), await on(2), await on(3)]
    await writers[0]!.create('/seq', '')
    const created = await Promise.all(
      writers.flatMap((c) =>
        Array.from({ length: 10 }, () =>
          c.create('/seq/n-', '', { mode: 'persistent-sequential' }),
        ),
      ),
    )
    const numbers = created.map((p) => Number(p.slice('/seq/n-'.length))).sort((a, b) => a - b)
    expect(numbers).toEqual(Array.from({ length: 30 }, (_, i) => i))
    const reader = writers[2]!
    await reader.sync('/seq')
    const stats = await Promise.all(
      created.map(async (p) => ({
        n: Number(p.slice('/seq/n-'.length)),
        czxid: (await reader.exists(p))!.czxid,
      })),
    )
    stats.sort((a, b) => a.n - b.n)
    for (let i = 1; i < stats.length; i++)
      expect(stats[i]!.czxid > stats[i - 1]!.czxid, `n-${i} created after n-${i - 1}`).toBe(true)
  })

  it('removes an ephemeral node from every member when its session closes, and tells watchers elsewhere', async () => {
    const owner = await on(2)
    const watcher = await on(3)
    await owner.create('/eph-closed', 'mine', { mode: 'ephemeral' })
    const events: WatchEvent[] = []
    await watcher.sync('/eph-closed')
    expect(
      (await watcher.exists('/eph-closed', { watch: (e) => events.push(e) }))?.ephemeralOwner,
    ).toBe(owner.sessionId)
    await owner.close()
    await waitFor(() => events.length === 1, { what: 'deleted event on member 3' })
    expect(events[0]).toMatchObject({ type: 'deleted', path: '/eph-closed' })
    for (const id of [1, 2, 3]) {
      const reader = await on(id)
      await reader.sync('/')
      expect(await reader.exists('/eph-closed'), `member ${id}`).toBeNull()
    }
  })

  it('removes an ephemeral node from every member when its session expires', async () => {
    const e = ensemble!
    const proxy = await startProxy(e.member(1).clientPort)
    proxies.push(proxy)
    const owner = await connect({ servers: [proxy.url], sessionTimeoutMs: 1000 })
    clients.push(owner)
    await owner.create('/eph-expired', 'mine', { mode: 'ephemeral' })
    const watcher = await on(2)
    const events: WatchEvent[] = []
    await watcher.sync('/')
    expect(await watcher.exists('/eph-expired', { watch: (ev) => events.push(ev) })).not.toBeNull()
    proxy.block()
    proxy.cut()
    await waitFor(() => events.length === 1, {
      timeoutMs: 15_000,
      what: 'deleted event after the session expired',
    })
    expect(events[0]).toMatchObject({ type: 'deleted', path: '/eph-expired' })
    for (const id of [1, 2, 3]) {
      const reader = await on(id)
      await reader.sync('/')
      expect(await reader.exists('/eph-expired'), `member ${id}`).toBeNull()
    }
    await waitFor(
      () => owner.state === 'lost' || owner.state === 'connecting' || owner.state === 'suspended',
      { what: 'owner cut off' },
    )
  })

  it('fires one-shot and persistent recursive watches on another member, in zxid order', async () => {
    const writer = await on(1)
    const watcher = await on(2)
    await writer.create('/w', '')
    await writer.create('/w/a', 'v0')
    await watcher.sync('/w')
    const oneShot: WatchEvent[] = []
    await watcher.get('/w/a', { watch: (ev) => oneShot.push(ev) })
    await watcher.children('/w', { watch: (ev) => oneShot.push(ev) })
    const controller = new AbortController()
    const streamed: WatchEvent[] = []
    const stream = (async () => {
      for await (const ev of watcher.watch('/w', { recursive: true, signal: controller.signal })) {
        streamed.push(ev)
        if (streamed.length === 4) break
      }
    })()
    // The stream registers asynchronously; a sync on the same session orders it before the writes' events.
    await waitFor(async () => ((await ensemble!.status(2)).raw.watches as number) >= 3, {
      what: 'watches registered on member 2',
    })
    await writer.set('/w/a', 'v1')
    await writer.create('/w/b', '')
    await writer.set('/w/b', 'x')
    await writer.delete('/w/b')
    await stream
    controller.abort()
    expect(streamed.map((ev) => `${ev.type} ${ev.path}`)).toEqual([
      'dataChanged /w/a',
      'created /w/b',
      'dataChanged /w/b',
      'deleted /w/b',
    ])
    for (let i = 1; i < streamed.length; i++)
      expect(streamed[i]!.zxid > streamed[i - 1]!.zxid).toBe(true)
    await waitFor(() => oneShot.length === 2, { what: 'both one-shot watches' })
    expect(oneShot.map((ev) => `${ev.type} ${ev.path}`).sort()).toEqual([
      'childrenChanged /w',
      'dataChanged /w/a',
    ])
  })
})
