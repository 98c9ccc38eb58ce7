/**
 * Mutex, read/write lock and semaphore against a real server:
 * - tryAcquire, FIFO order and abort of a waiter;
 * - release during a connection loss is not forgotten: the node goes once the client
 *   is back, and the next waiter gets the lock;
 * - the read/write lock shares between readers, queues a late reader behind a waiting
 *   writer, and a writer's release wakes the readers it lets in, not the writer behind;
 * - the semaphore never lets more than its leases in, serves in order whatever the
 *   order of releases, wakes one waiter per release, and refuses a handle that
 *   disagrees on the number of leases.
 * Worker processes killed -9 while holding a lock are in recipes-faults.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  AbortedError,
  connect,
  LeaseEndedError,
  mutex,
  readWriteLock,
  semaphore,
  type Client,
  type Lease,
} from '../../client/index.js'
import { countingClient, type CountingClient } from '../helpers/recipe-counting-client.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { waitFor, withDeadline } from '../helpers/wait.js'

let server: ServerProcess
const clients: Client[] = []

beforeAll(async () => {
  server = await startServer({ args: ['--tick-ms', '50', '--min-session-timeout-ms', '500'] })
})
afterAll(async () => {
  await server?.stop()
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

async function open(url = server.url, sessionTimeoutMs = 4000): Promise<Client> {
  const client = await connect({ servers: [url], sessionTimeoutMs })
  clients.push(client)
  return client
}

async function lineLength(client: Client, path: string): Promise<number> {
  return (await client.children(path).catch(() => [])).length
}

/** settled tells, without waiting, whether a promise has settled. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending')
  return (
    (await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      Promise.resolve(marker),
    ])) !== marker
  )
}

describe('mutex', () => {
  it('serves waiters in arrival order; tryAcquire does not wait; an aborted waiter leaves the line', async () => {
    const path = '/locks/fifo'
    const [holderClient, ...waiterClients] = await Promise.all([
      open(),
      open(),
      open(),
      open(),
      open(),
    ])
    const first = await mutex(holderClient, path).acquire()
    expect(await mutex(waiterClients[0], path).tryAcquire()).toBeNull()
    expect(await lineLength(holderClient, path)).toBe(1)
    const order: number[] = []
    const controllers = waiterClients.map(() => new AbortController())
    const waits: Promise<Lease>[] = []
    for (const [i, client] of waiterClients.entries()) {
      waits.push(
        mutex(client, path)
          .acquire({ signal: controllers[i]!.signal })
          .then((lease) => (order.push(i), lease)),
      )
      await waitFor(async () => (await lineLength(holderClient, path)) === i + 2, {
        what: `waiter ${i} in line`,
      })
    }
    controllers[1]!.abort()
    await expect(waits[1]).rejects.toBeInstanceOf(AbortedError)
    await first.release()
    const tokens = [first.token]
    for (const i of [0, 2, 3]) {
      const lease = await withDeadline(waits[i]!, 10_000, `waiter ${i}`)
      tokens.push(lease.token)
      await lease.release()
    }
    expect(order).toEqual([0, 2, 3])
    expect([...tokens].sort((a, b) => (a < b ? -1 : 1))).toEqual(tokens)
  })

  it('a release during a connection loss is carried out once the client is back', async () => {
    const proxy: TcpProxy = await startProxy(server.port)
    try {
      const holder = await open(proxy.url, 6000)
      const waiter = await open()
      const path = '/locks/release-during-loss'
      const lease = await mutex(holder, path).acquire()
      const waiting = mutex(waiter, path).acquire()
      await waitFor(async () => (await lineLength(waiter, path)) === 2, { what: 'waiter in line' })
      const sessionId = holder.sessionId
      proxy.block()
      proxy.cut()
      await waitFor(() => holder.state === 'suspended', { what: 'suspended' })
      expect(lease.signal.aborted).toBe(false) // the default policy keeps it through the drop
      expect(lease.suspended).toBe(true) // but says it may be lost
      const releasing = lease.release()
      expect((lease.signal.reason as LeaseEndedError).reason).toBe('released') // work stops at once
      expect(await waiter.exists(lease.path)).not.toBeNull() // but the node cannot go yet
      expect(await settled(waiting)).toBe(false)
      proxy.unblock()
      await withDeadline(releasing, 10_000, 'release after the reconnect')
      expect(holder.sessionId).toBe(sessionId)
      expect(await waiter.exists(lease.path)).toBeNull()
      const next = await withDeadline(waiting, 10_000, 'waiter gets the lock')
      expect(next.token).toBeGreaterThan(lease.token)
      await next.release()
    } finally {
      await proxy.close()
    }
  })

  it("with loseOn 'suspended' a dropped connection ends the lease, and the node goes once the client is back", async () => {
    const proxy: TcpProxy = await startProxy(server.port)
    try {
      const holder = await open(proxy.url, 6000)
      const waiter = await open()
      const path = '/locks/suspended'
      const lease = await mutex(holder, path, { loseOn: 'suspended' }).acquire()
      const waiting = mutex(waiter, path).acquire()
      await waitFor(async () => (await lineLength(waiter, path)) === 2, { what: 'waiter in line' })
      proxy.block()
      proxy.cut()
      await waitFor(() => lease.signal.aborted, { what: 'lease ended on suspension' })
      expect((lease.signal.reason as LeaseEndedError).reason).toBe('suspended')
      proxy.unblock()
      const next = await withDeadline(waiting, 10_000, 'waiter gets the lock')
      expect(await waiter.exists(lease.path)).toBeNull()
      await lease.release() // nothing left to do; resolves
      await next.release()
    } finally {
      await proxy.close()
    }
  })
})

describe('read/write lock', () => {
  it('readers share, a late reader queues behind a waiting writer, a writer release wakes only the readers it lets in', async () => {
    const path = '/locks/rw'
    const [a, b, c] = await Promise.all([open(), open(), open()])
    const late = countingClient(await open())
    const lastWriter = countingClient(await open())
    const r1 = await readWriteLock(a, path).read().acquire()
    const r2 = await readWriteLock(b, path).read().acquire()
    const writing = readWriteLock(c, path).write().acquire()
    await waitFor(async () => (await lineLength(a, path)) === 3, { what: 'writer in line' })
    const lateRead = readWriteLock(late.client, path).read().acquire()
    await waitFor(async () => (await lineLength(a, path)) === 4, { what: 'late reader in line' })
    const secondWrite = readWriteLock(lastWriter.client, path).write().acquire()
    await waitFor(async () => (await lineLength(a, path)) === 5, { what: 'second writer in line' })

    await r1.release()
    await a.sync()
    expect(await settled(writing)).toBe(false)
    await r2.release()
    const w = await withDeadline(writing, 10_000, 'writer after both readers')
    expect(await settled(lateRead)).toBe(false)

    await waitFor(() => late.count('exists') >= 1 && lastWriter.count('exists') >= 1, {
      what: 'both waiting',
    })
    late.reset()
    lastWriter.reset()
    await w.release()
    const r3 = await withDeadline(lateRead, 10_000, 'late reader after the writer')
    await (lastWriter.client as Client).sync()
    expect(lastWriter.watchesFired).toHaveLength(0)
    expect(lastWriter.count('children')).toBe(0)
    expect(await settled(secondWrite)).toBe(false)
    await r3.release()
    const w2 = await withDeadline(secondWrite, 10_000, 'second writer')
    expect([r1.token < w.token, w.token < r3.token, r3.token < w2.token]).toEqual([
      true,
      true,
      true,
    ])
    await w2.release()
  })
})

describe('semaphore', () => {
  it('lets at most maxLeases in, serves in order whatever the order of releases, and wakes one waiter per release', async () => {
    const path = '/locks/semaphore'
    const maxLeases = 3
    const contenders: { counting: CountingClient; raw: Client }[] = []
    for (let i = 0; i < 7; i++) {
      const raw = await open()
      contenders.push({ counting: countingClient(raw), raw })
    }
    const leases = new Map<number, Lease>()
    let inside = 0
    let most = 0
    const waits = contenders.map(() => undefined as Promise<Lease> | undefined)
    for (const [i, { counting }] of contenders.entries()) {
      waits[i] = semaphore(counting.client, path, { leases: maxLeases })
        .acquire()
        .then((lease) => {
          leases.set(i, lease)
          most = Math.max(most, ++inside)
          return lease
        })
      await waitFor(async () => (await lineLength(contenders[0]!.raw, path)) === i + 1, {
        what: `contender ${i} in line`,
      })
    }
    await waitFor(() => leases.size === 3, { what: 'first three hold' })
    await waitFor(() => contenders.slice(3).every((c) => c.counting.count('exists') >= 1), {
      what: 'waiters watching',
    })
    await Promise.all(contenders.map((c) => c.raw.sync()))
    expect([...leases.keys()].sort()).toEqual([0, 1, 2])

    // Release out of order; each release lets the next in line in, and only it.
    const releases: [release: number, next: number][] = [
      [1, 3],
      [0, 4],
      [3, 5],
      [2, 6],
    ]
    for (const [release, next] of releases) {
      for (const c of contenders) c.counting.reset()
      inside--
      await leases.get(release)!.release()
      await withDeadline(waits[next]!, 10_000, `contender ${next} after ${release} left`)
      // The one behind the new holder takes over as first waiter (woken by the baton) and watches the holders.
      if (next + 1 < contenders.length)
        await waitFor(() => contenders[next + 1]!.counting.count('exists') >= maxLeases, {
          what: `contender ${next + 1} watching the holders`,
        })
      await Promise.all(contenders.map((c) => c.raw.sync()))
      for (let i = next + 2; i < contenders.length; i++) {
        expect(
          contenders[i]!.counting.watchesFired,
          `contender ${i} woken by ${release}'s release`,
        ).toHaveLength(0)
        expect(contenders[i]!.counting.count('children')).toBe(0)
      }
      expect(leases.size).toBe(next + 1)
    }
    expect(most).toBe(maxLeases)
    const tokens = [...leases.entries()].sort(([a], [b]) => a - b).map(([, lease]) => lease.token)
    expect([...tokens].sort((a, b) => (a < b ? -1 : 1))).toEqual(tokens)
    for (const lease of leases.values()) await lease.release()
  })

  it('refuses a handle that disagrees on maxLeases, and tryAcquire does not wait', async () => {
    const path = '/locks/semaphore-mismatch'
    const [a, b, c] = await Promise.all([open(), open(), open()])
    const one = await semaphore(a, path, { leases: 2 }).acquire()
    await expect(semaphore(b, path, { leases: 3 }).acquire()).rejects.toMatchObject({
      code: 'BAD_ARGUMENTS',
    })
    const two = await semaphore(b, path, { leases: 2 }).tryAcquire()
    expect(two).not.toBeNull()
    expect(await semaphore(c, path, { leases: 2 }).tryAcquire()).toBeNull()
    expect(await lineLength(a, path)).toBe(2)
    await one.release()
    const three = await semaphore(c, path, { leases: 2 }).tryAcquire()
    expect(three?.token).toBeGreaterThan(two!.token)
    await two!.release()
    await three!.release()
  })
})
