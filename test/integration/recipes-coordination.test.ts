/**
 * Barrier, double barrier, counter and queue against a real server:
 * - a barrier holds every waiter until it is removed, then releases them together;
 * - a double barrier lets nobody start before `count` have entered, and nobody finish
 *   before all have left;
 * - concurrent counter increments lose nothing; an increment whose reply is lost is
 *   applied exactly once;
 * - queue items are taken exactly once, in order, by competing consumers; a take whose
 *   reply is lost still delivers its item (to that taker only), a put whose reply is
 *   lost enqueues one item, and an empty queue's take waits for the next put.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { barrier, connect, counter, doubleBarrier, queue, type Client } from '../../client/index.js'
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'
import { waitFor, withDeadline } from '../helpers/wait.js'

let server: ServerProcess
const clients: Client[] = []
const proxies: FaultProxy[] = []

beforeAll(async () => {
  server = await startServer({ args: ['--tick-ms', '50', '--min-session-timeout-ms', '500'] })
})
afterAll(async () => {
  await server?.stop()
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await Promise.all(proxies.splice(0).map((p) => p.close()))
})

async function open(url = server.url): Promise<Client> {
  const client = await connect({ servers: [url], sessionTimeoutMs: 4000 })
  clients.push(client)
  return client
}

/**
 * replyLosingClient is a client behind a proxy. After `loseNextReplyOf(method)`, the
 * proxy starts holding replies just before the next call of that method goes out, so
 * the reads before it are answered and its own reply is held; `dropConnection` then
 * throws the held replies away with the connection.
 */
async function replyLosingClient(): Promise<{
  client: Client
  loseNextReplyOf: (method: string) => void
  dropConnection: () => void
}> {
  const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: server.port } })
  proxies.push(proxy)
  const raw = await open(`ws://127.0.0.1:${proxy.port}`)
  let armed: string | undefined
  const client = new Proxy(raw, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        if (property === armed) {
          armed = undefined
          proxy.setMode({ kind: 'one-way', forward: 'to-target' })
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
  return {
    client,
    loseNextReplyOf: (method) => (armed = method),
    dropConnection: () => {
      proxy.resetConnections()
      proxy.heal()
    },
  }
}

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

const text = (data: Uint8Array) => new TextDecoder().decode(data)

describe('barrier', () => {
  it('holds waiters until removed, then releases them all', async () => {
    const [coordinator, ...workers] = await Promise.all([open(), open(), open(), open()])
    const path = '/barriers/simple'
    await barrier(coordinator, path).set()
    const waits = workers.map((w) => barrier(w, path).wait())
    await Promise.all(workers.map((w) => w.sync()))
    for (const wait of waits) expect(await settled(wait)).toBe(false)
    await barrier(coordinator, path).remove()
    await withDeadline(Promise.all(waits), 10_000, 'waiters released')
    await withDeadline(barrier(workers[0], path).wait(), 5000, 'a lowered barrier does not hold')
  })
})

describe('double barrier', () => {
  it('nobody starts before count have entered, nobody finishes before all have left', async () => {
    const path = '/barriers/double'
    const [a, b, c] = await Promise.all([open(), open(), open()])
    const enterA = doubleBarrier(a, path, { count: 3, id: 'a' }).enter()
    const enterB = doubleBarrier(b, path, { count: 3, id: 'b' }).enter()
    await waitFor(async () => (await a.children(path).catch(() => [])).length === 2, {
      what: 'a and b entered',
    })
    expect(await settled(enterA)).toBe(false)
    expect(await settled(enterB)).toBe(false)
    await doubleBarrier(c, path, { count: 3, id: 'c' }).enter()
    await withDeadline(Promise.all([enterA, enterB]), 10_000, 'a and b start with c')

    const leaveA = doubleBarrier(a, path, { count: 3, id: 'a' }).leave()
    const leaveB = doubleBarrier(b, path, { count: 3, id: 'b' }).leave()
    await waitFor(async () => (await a.children(path).catch(() => [])).length <= 2, {
      what: 'someone left',
    })
    await Promise.all([a.sync(), b.sync()])
    expect(await settled(leaveA)).toBe(false)
    expect(await settled(leaveB)).toBe(false)
    await doubleBarrier(c, path, { count: 3, id: 'c' }).leave()
    await withDeadline(Promise.all([leaveA, leaveB]), 10_000, 'everyone finishes together')
    expect(await a.children(path).catch(() => [])).toEqual([])
  })
})

describe('counter', () => {
  it('concurrent increments from many clients lose nothing', async () => {
    const path = '/counters/concurrent'
    const writers = await Promise.all([open(), open(), open(), open()])
    const results = await Promise.all(
      writers.flatMap((w) => Array.from({ length: 15 }, () => counter(w, path).increment())),
    )
    expect(new Set(results).size).toBe(60)
    expect(Math.max(...results)).toBe(60)
    expect(await counter(writers[0], path).get()).toBe(60)
    expect(await counter(writers[0], path).compareAndSet(59, 0)).toBe(false)
    expect(await counter(writers[0], path).compareAndSet(60, 0)).toBe(true)
    expect(await counter(writers[1], path).add(-5)).toBe(-5)
  })

  it('an increment whose reply is lost is applied exactly once', async () => {
    const path = '/counters/lost-reply'
    const observer = await open()
    const flaky = await replyLosingClient()
    expect(await counter(flaky.client, path).add(10)).toBe(10)
    flaky.loseNextReplyOf('set')
    const adding = counter(flaky.client, path).increment()
    await waitFor(async () => (await counter(observer, path).get()) === 11, {
      what: 'the set applied',
    })
    flaky.dropConnection()
    expect(await withDeadline(adding, 15_000, 'increment after the lost reply')).toBe(11)
    expect(await counter(observer, path).get()).toBe(11)
  })
})

describe('queue', () => {
  it('competing consumers take every item exactly once, in order', async () => {
    const path = '/queues/work'
    const [producer, ...consumers] = await Promise.all([open(), open(), open(), open()])
    for (let i = 0; i < 30; i++) await queue(producer, path).put(`item-${i}`)
    expect(await queue(producer, path).size()).toBe(30)
    expect(text((await queue(producer, path).peek())!)).toBe('item-0')
    const taken: string[][] = consumers.map(() => [])
    const done = new AbortController()
    const consuming = Promise.all(
      consumers.map(async (consumer, i) => {
        for (;;) {
          const item = await queue(consumer, path)
            .take({ signal: done.signal })
            .catch((error: unknown) => {
              if (done.signal.aborted) return null
              throw error
            })
          if (item === null) return
          taken[i]!.push(text(item))
        }
      }),
    )
    await waitFor(() => taken.flat().length >= 30, { what: 'every item taken' })
    done.abort()
    await withDeadline(consuming, 10_000, 'consumers stop')
    const all = taken.flat()
    expect(all.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `item-${i}`).sort())
    // Each consumer saw items in queue order.
    for (const mine of taken)
      expect(mine.map((s) => Number(s.slice(5)))).toEqual(
        [...mine.map((s) => Number(s.slice(5)))].sort((x, y) => x - y),
      )
    expect(await queue(producer, path).size()).toBe(0)
  })

  it('a take on an empty queue waits for the next put', async () => {
    const path = '/queues/empty'
    const [producer, consumer] = await Promise.all([open(), open()])
    const taking = queue(consumer, path).take()
    await consumer.sync()
    expect(await settled(taking)).toBe(false)
    await queue(producer, path).put('late')
    expect(text(await withDeadline(taking, 10_000, 'take after the put'))).toBe('late')
  })

  it('a take or put whose reply is lost neither loses nor duplicates an item', async () => {
    const path = '/queues/lost-reply'
    const observer = await open()
    const flaky = await replyLosingClient()
    await queue(observer, path).put('first')
    flaky.loseNextReplyOf('multi')
    const taking = queue(flaky.client, path).take()
    await waitFor(async () => (await queue(observer, path).size()) === 0, {
      what: 'the take applied',
    })
    flaky.dropConnection()
    expect(text(await withDeadline(taking, 15_000, 'take after the lost reply'))).toBe('first')

    flaky.loseNextReplyOf('multi')
    const putting = queue(flaky.client, path).put('second')
    await waitFor(async () => (await queue(observer, path).size()) === 1, {
      what: 'the put applied',
    })
    flaky.dropConnection()
    await withDeadline(putting, 15_000, 'put after the lost reply')
    expect(await queue(observer, path).size()).toBe(1)
    expect(text(await queue(observer, path).take())).toBe('second')
    // The receipt of the take went with it (deleted after use).
    await waitFor(async () => (await observer.children(path).catch(() => [])).length === 0, {
      what: 'no receipts left',
    })
  })
})
