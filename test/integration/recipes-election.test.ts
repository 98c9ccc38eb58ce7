/**
 * Leader election against a real server (client processes where a leader must really
 * die or freeze):
 * - resign hands leadership to the next in line, whose token is larger, and the old
 *   leader's signal aborts before the new leader is told;
 * - no herd: a leader leaving wakes exactly one waiting candidate, a candidate
 *   withdrawing wakes exactly the one behind it;
 * - a create whose reply is lost is found again (protected create), not repeated;
 * - kill -9 of the leader's process: the next candidate leads once the session
 *   expires, with a larger token;
 * - SIGSTOP of the leader longer than the session timeout: a new leader is elected and
 *   writes; the old one, resumed, sends its late write, and the fenced store refuses it;
 * - connection policy: 'lost' (the default) rides out a short drop; 'suspended' ends
 *   the lease as soon as the connection drops (and the next candidate leads once the
 *   client is back);
 * - leader() and observe() report the leader, and observers are not woken by joins.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  AbortedError,
  connect,
  election,
  LeaseEndedError,
  op,
  type Client,
  type LeaderInfo,
} from '../../client/index.js'
import { countingClient, type CountingClient } from '../helpers/recipe-counting-client.js'
import { serveFencedStore, type ServedStore } from '../helpers/recipe-fenced-store.js'
import { startRecipeProcess, type RecipeProcess } from '../helpers/recipe-process.js'
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { waitFor, withDeadline } from '../helpers/wait.js'

let server: ServerProcess
const clients: Client[] = []
const processes: RecipeProcess[] = []
const cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  server = await startServer({ args: ['--tick-ms', '50', '--min-session-timeout-ms', '500'] })
})
afterAll(async () => {
  await server?.stop()
})
afterEach(async () => {
  await Promise.all(processes.splice(0).map((p) => p.stop()))
  await Promise.all(clients.splice(0).map((c) => c.close()))
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

async function open(url = server.url, sessionTimeoutMs = 4000): Promise<Client> {
  const client = await connect({ servers: [url], sessionTimeoutMs })
  clients.push(client)
  return client
}

async function candidates(client: Client, path: string): Promise<string[]> {
  return client.children(path).catch(() => [])
}

describe('resign', () => {
  it('hands leadership to the next in line: the old signal aborts first, the new token is larger', async () => {
    const [a, b, c, observer] = await Promise.all([open(), open(), open(), open()])
    const path = '/election/handover'
    const order: string[] = []
    const leaseA = await election(a, path, { id: 'a', data: 'host-a:8080' }).campaign()
    leaseA.signal.addEventListener('abort', () => order.push('a ended'))
    const campaignB = election(b, path, { id: 'b' })
      .campaign()
      .then((lease) => (order.push('b leads'), lease))
    await waitFor(async () => (await candidates(observer, path)).length === 2, {
      what: 'b in line',
    })
    const campaignC = election(c, path, { id: 'c' }).campaign()
    await waitFor(async () => (await candidates(observer, path)).length === 3, {
      what: 'c in line',
    })
    const leaderA = await election(observer, path, { id: 'o' }).leader()
    expect(leaderA).toMatchObject({ id: 'a', token: leaseA.token, path: leaseA.path })
    expect(new TextDecoder().decode(leaderA!.data)).toBe('host-a:8080')

    await leaseA.resign()
    const leaseB = await withDeadline(campaignB, 10_000, 'b elected')
    expect(order).toEqual(['a ended', 'b leads'])
    expect(leaseA.signal.reason).toBeInstanceOf(LeaseEndedError)
    expect((leaseA.signal.reason as LeaseEndedError).reason).toBe('released')
    expect(await observer.exists(leaseA.path)).toBeNull()
    expect(leaseB.token).toBeGreaterThan(leaseA.token)
    expect(leaseB.token).toBe((await observer.exists(leaseB.path))!.czxid)

    // The lease's owner check fences writes inside Conclave too.
    await b.multi([leaseB.ownerCheck(), op.create('/election-fenced-b', 'ok')])
    await expect(
      a.multi([leaseA.ownerCheck(), op.create('/election-fenced-a', 'stale')]),
    ).rejects.toMatchObject({ code: 'NO_NODE' })

    await leaseB.resign()
    const leaseC = await withDeadline(campaignC, 10_000, 'c elected')
    expect(leaseC.token).toBeGreaterThan(leaseB.token)
    expect(await election(observer, path, { id: 'o' }).leader()).toMatchObject({ id: 'c' })
    await leaseC.resign()
    expect(await election(observer, path, { id: 'o' }).leader()).toBeNull()
  })

  it('refuses a second campaign on one handle and withdraws an aborted one', async () => {
    const [a, b, observer] = await Promise.all([open(), open(), open()])
    const path = '/election/abort'
    const handle = election(a, path, { id: 'a' })
    const lease = await handle.campaign()
    await expect(handle.campaign()).rejects.toMatchObject({ code: 'BAD_ARGUMENTS' })
    const controller = new AbortController()
    const waiting = election(b, path, { id: 'b' }).campaign({ signal: controller.signal })
    await waitFor(async () => (await candidates(observer, path)).length === 2, {
      what: 'b in line',
    })
    controller.abort()
    await expect(waiting).rejects.toBeInstanceOf(AbortedError)
    await waitFor(async () => (await candidates(observer, path)).length === 1, {
      what: "b's node deleted",
    })
    await lease.resign()
    const again = await handle.campaign()
    expect(again.token).toBeGreaterThan(lease.token)
    await again.resign()
  })
})

describe('no herd', () => {
  it('a leaving leader wakes one candidate; a withdrawing candidate wakes only the one behind it', async () => {
    const path = '/election/herd'
    const observer = await open()
    const leader = await election(await open(), path, { id: 'leader' }).campaign()
    const waiters: {
      counting: CountingClient
      raw: Client
      controller: AbortController
      campaign: Promise<unknown>
    }[] = []
    for (let i = 0; i < 8; i++) {
      const raw = await open()
      const counting = countingClient(raw)
      const controller = new AbortController()
      const campaign = election(counting.client, path, { id: `w${i}` }).campaign({
        signal: controller.signal,
      })
      void campaign.catch(() => {}) // the withdrawn one rejects (checked below); no unhandled rejection meanwhile
      waiters.push({ counting, raw, controller, campaign })
      await waitFor(async () => (await candidates(observer, path)).length === i + 2, {
        what: `w${i} in line`,
      })
    }
    await waitFor(() => waiters.every((w) => w.counting.count('exists') >= 1), {
      what: 'every waiter watching',
    })
    for (const w of waiters) w.counting.reset()

    await leader.resign()
    await withDeadline(waiters[0]!.campaign, 10_000, 'w0 elected')
    // Events come before later replies: after a sync on every client, any watch the
    // leader's delete triggered has fired.
    await Promise.all(waiters.map((w) => w.raw.sync()))
    expect(waiters.map((w) => w.counting.watchesFired.length)).toEqual([1, 0, 0, 0, 0, 0, 0, 0])
    expect(waiters.slice(1).map((w) => w.counting.count('children'))).toEqual([0, 0, 0, 0, 0, 0, 0])

    for (const w of waiters) w.counting.reset()
    waiters[3]!.controller.abort()
    await expect(waiters[3]!.campaign).rejects.toBeInstanceOf(AbortedError)
    await waitFor(() => waiters[4]!.counting.watchesFired.length === 1, { what: 'w4 woken' })
    await waitFor(() => waiters[4]!.counting.count('exists') >= 1, { what: 'w4 watching w2' })
    await Promise.all(waiters.map((w) => w.raw.sync()))
    expect(waiters.map((w) => w.counting.watchesFired.length)).toEqual([0, 0, 0, 0, 1, 0, 0, 0])
    expect(waiters.map((w, i) => (i === 4 ? 0 : w.counting.count('children')))).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0,
    ])
  })
})

describe('lost create reply', () => {
  let proxy: FaultProxy | undefined
  afterEach(async () => {
    await proxy?.close()
    proxy = undefined
  })

  it('finds its own node after a create whose reply never came, instead of creating a second one', async () => {
    proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: server.port } })
    const flaky = await open(`ws://127.0.0.1:${proxy.port}`, 4000)
    const observer = await open()
    const path = '/election/lost-reply'
    await observer.create(path, '', { makeParents: true })
    // Requests still reach the server; replies are held and then thrown away with the connection.
    proxy.setMode({ kind: 'one-way', forward: 'to-target' })
    const campaign = election(flaky, path, { id: 'flaky' }).campaign()
    await waitFor(async () => (await candidates(observer, path)).length === 1, {
      what: 'the create applied',
    })
    proxy.resetConnections()
    proxy.heal()

    const lease = await withDeadline(campaign, 20_000, 'elected after the lost reply')
    const children = await observer.children(path)
    expect(children).toHaveLength(1)
    expect(lease.path).toBe(`${path}/${children[0]}`)
    expect(lease.token).toBe((await observer.exists(lease.path))!.czxid)
    expect((await observer.exists(lease.path))!.ephemeralOwner).toBe(flaky.sessionId)
    await lease.resign()
  })
})

describe('connection policy', () => {
  let proxy: TcpProxy | undefined
  afterEach(async () => {
    await proxy?.close()
    proxy = undefined
  })

  it("'suspended' ends the lease when the connection drops, and the next candidate leads once the client is back", async () => {
    proxy = await startProxy(server.port)
    const flaky = await open(proxy.url, 4000)
    const other = await open()
    const path = '/election/suspended'
    const lease = await election(flaky, path, { id: 'flaky', loseOn: 'suspended' }).campaign()
    const next = election(other, path, { id: 'other' }).campaign()
    await waitFor(async () => (await candidates(other, path)).length === 2, {
      what: 'other in line',
    })
    const sessionId = flaky.sessionId
    proxy.block()
    proxy.cut()
    const cutAtMs = Date.now()
    await waitFor(() => lease.signal.aborted, { what: 'lease ended' })
    expect((lease.signal.reason as LeaseEndedError).reason).toBe('suspended')
    expect(Date.now() - cutAtMs).toBeLessThan(4000)
    proxy.unblock()
    const nextLease = await withDeadline(next, 15_000, 'other elected')
    expect(flaky.sessionId).toBe(sessionId) // the session lived on; the policy gave the leadership up
    expect(nextLease.token).toBeGreaterThan(lease.token)
    expect(await other.exists(lease.path)).toBeNull()
    await nextLease.resign()
  })

  it("'lost' rides out a short drop and ends only when the session expires", async () => {
    proxy = await startProxy(server.port)
    const flaky = await open(proxy.url, 1500)
    const other = await open()
    const path = '/election/lost'
    const lease = await election(flaky, path, { id: 'flaky' }).campaign() // loseOn 'lost', the default
    const next = election(other, path, { id: 'other' }).campaign()
    await waitFor(async () => (await candidates(other, path)).length === 2, {
      what: 'other in line',
    })

    proxy.cut()
    await waitFor(() => flaky.state === 'suspended', { what: 'suspended' })
    await waitFor(() => flaky.state === 'connected', { what: 'back' })
    expect(lease.signal.aborted).toBe(false)
    expect(await other.exists(lease.path)).not.toBeNull()

    proxy.block()
    proxy.cut()
    const nextLease = await withDeadline(next, 15_000, 'other elected after the expiry')
    await waitFor(() => lease.signal.aborted, { what: 'lease ended', timeoutMs: 15_000 })
    expect((lease.signal.reason as LeaseEndedError).reason).toBe('lost')
    expect(nextLease.token).toBeGreaterThan(lease.token)
    proxy.unblock()
    await nextLease.resign()
  })
})

describe('observe and leader', () => {
  it('observe yields each new leader and is not woken by candidates joining', async () => {
    const path = '/election/observe'
    const watcher = countingClient(await open())
    const [a, b, c] = await Promise.all([open(), open(), open()])
    const seen: (LeaderInfo | null)[] = []
    const controller = new AbortController()
    const loop = (async () => {
      for await (const leader of election(watcher.client, path, { id: 'watcher' }).observe({
        signal: controller.signal,
      }))
        seen.push(leader)
    })()
    await waitFor(() => seen.length === 1, { what: 'first report' })
    expect(seen[0]).toBeNull()

    const leaseA = await election(a, path, { id: 'a' }).campaign()
    await waitFor(() => seen.at(-1)?.id === 'a', { what: 'a reported' })
    expect(seen.at(-1)?.token).toBe(leaseA.token)
    watcher.reset()
    const campaignB = election(b, path, { id: 'b' }).campaign()
    const campaignC = election(c, path, { id: 'c' }).campaign()
    await waitFor(async () => (await candidates(a, path)).length === 3, { what: 'b and c in line' })
    await (watcher.client as Client).sync()
    expect(watcher.watchesFired).toHaveLength(0)

    await leaseA.resign()
    const leaseB = await withDeadline(campaignB, 10_000, 'b elected')
    await waitFor(() => seen.at(-1)?.id === 'b', { what: 'b reported' })
    await leaseB.resign()
    const leaseC = await withDeadline(campaignC, 10_000, 'c elected')
    await waitFor(() => seen.at(-1)?.id === 'c', { what: 'c reported' })
    await leaseC.resign()
    await waitFor(() => seen.at(-1) === null, { what: 'no leader reported' })
    controller.abort()
    await withDeadline(loop, 5000, 'observe ends on abort')
    expect(seen.map((l) => l?.id ?? null)).toEqual([null, 'a', 'b', 'c', null])
  })
})

describe('leader processes', () => {
  let served: ServedStore | undefined
  afterEach(async () => {
    await served?.close()
    served = undefined
  })
  const sessionTimeoutMs = 2000

  async function candidate(name: string): Promise<RecipeProcess> {
    const proc = await startRecipeProcess('recipe-candidate-main.ts', name, {
      servers: [server.url],
      sessionTimeoutMs,
      storeUrl: served!.url,
    })
    processes.push(proc)
    return proc
  }

  it('kill -9 of the leader: the next candidate leads once the session expires, with a larger token', async () => {
    served = await serveFencedStore()
    const observer = await open()
    const path = '/election/kill9'
    const [a, b] = await Promise.all([candidate('a'), candidate('b')])
    a.send({ cmd: 'campaign', path })
    const ledA = await a.next((e) => e.event === 'leader', { what: 'a elected' })
    b.send({ cmd: 'campaign', path })
    await waitFor(async () => (await candidates(observer, path)).length === 2, {
      what: 'b in line',
    })
    a.send({ cmd: 'write', key: 'k', value: 'from a' })
    expect(await a.next((e) => e.event === 'write', { what: 'a wrote' })).toMatchObject({
      accepted: true,
    })

    a.kill('SIGKILL')
    const killedAtMs = Date.now()
    const ledB = await b.next((e) => e.event === 'leader', { what: 'b elected', timeoutMs: 20_000 })
    const handoverMs = Date.now() - killedAtMs
    expect(BigInt(ledB.token as string)).toBeGreaterThan(BigInt(ledA.token as string))
    // Not before the session could have expired (nobody deleted a's node early), nor long after.
    expect(handoverMs).toBeGreaterThan(sessionTimeoutMs / 2)
    expect(handoverMs).toBeLessThan(sessionTimeoutMs + 8000)
    b.send({ cmd: 'write', key: 'k', value: 'from b' })
    expect(await b.next((e) => e.event === 'write', { what: 'b wrote' })).toMatchObject({
      accepted: true,
    })
    expect(served.store.accepted('k').map((w) => w.writer)).toEqual(['a', 'b'])
  })

  it('SIGSTOP of the leader past the session timeout: the resumed leader sends its late write and the fenced store refuses it', async () => {
    served = await serveFencedStore()
    const observer = await open()
    const path = '/election/sigstop'
    const [a, b] = await Promise.all([candidate('a'), candidate('b')])
    a.send({ cmd: 'campaign', path })
    const ledA = await a.next((e) => e.event === 'leader', { what: 'a elected' })
    b.send({ cmd: 'campaign', path })
    await waitFor(async () => (await candidates(observer, path)).length === 2, {
      what: 'b in line',
    })
    a.send({ cmd: 'write', key: 'k', value: 'a-1' })
    expect(await a.next((e) => e.event === 'write', { what: 'a wrote' })).toMatchObject({
      accepted: true,
    })

    // a checks its lease (live), then stalls before the write goes out: a GC pause at
    // the worst moment, which ends when the flag file appears. The test also stops the
    // process, well past the session timeout.
    const since = a.events.length
    const flagDir = mkdtempSync(join(tmpdir(), 'recipes-stall-'))
    cleanups.push(async () => rmSync(flagDir, { recursive: true, force: true }))
    const flag = join(flagDir, 'resume')
    a.send({ cmd: 'write', key: 'k', value: 'a-late', stallUntil: flag })
    await a.next((e) => e.event === 'checked', { since, what: 'a checked its lease' })
    a.kill('SIGSTOP')
    const ledB = await b.next((e) => e.event === 'leader', {
      what: 'b elected while a is stopped',
      timeoutMs: 20_000,
    })
    expect(BigInt(ledB.token as string)).toBeGreaterThan(BigInt(ledA.token as string))
    b.send({ cmd: 'write', key: 'k', value: 'b-1' })
    expect(await b.next((e) => e.event === 'write', { what: 'b wrote' })).toMatchObject({
      accepted: true,
    })

    writeFileSync(flag, '')
    a.kill('SIGCONT')
    const late = await a.next((e) => e.event === 'write', {
      since,
      what: "a's late write answered",
      timeoutMs: 20_000,
    })
    expect(late).toMatchObject({ accepted: false, value: 'a-late' })
    // The late write really reached the store after b's, with a's old token: the fence, not luck, stopped it.
    const rejected = served.store.rejected('k')
    expect(rejected).toHaveLength(1)
    expect(rejected[0]).toMatchObject({
      writer: 'a',
      value: 'a-late',
      token: BigInt(ledA.token as string),
      highestBefore: BigInt(ledB.token as string),
    })
    expect(served.store.read('k')).toMatchObject({ value: 'b-1' })
    // And a learns that it lost the leadership soon after it runs again.
    const ended = await a.next((e) => e.event === 'ended', {
      since,
      what: "a's lease ended",
      timeoutMs: 15_000,
    })
    // 'deleted' when the SDK reads what the server sent while it was stopped (its node
    // deleted at the session's expiry) before its own late timers judge the connection.
    expect(['suspended', 'lost', 'deleted']).toContain(ended.reason)
    a.send({ cmd: 'write', key: 'k', value: 'a-after' })
    await a.next((e) => e.event === 'write-skipped', { since, what: 'a stops writing' })
  })
})
