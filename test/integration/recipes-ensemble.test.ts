/**
 * Recipes across member failures, on 3 real member processes.
 *
 * Leadership: the member a leader is connected to is killed -9 (its connection drops,
 * and the client resumes its session on another member):
 * - with loseOn 'lost' the leadership survives the failover: same session, same node,
 *   same token, and the waiting candidate is not elected;
 * - with 'suspended' the lease ends at the drop; once the client is back (same
 *   session) its node is deleted and the waiting candidate leads, with a larger token.
 *
 * Tree cache: random creates, sets, deletes and delete+recreates on a subtree while a
 * follower and then the leader member are killed -9 and the cache client's session is
 * expired once; at sampled points (writes paused) and at the end the cache equals a
 * linearizable read of the subtree, at a zxid at least the writer's last.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  connect,
  election,
  retry,
  treeCache,
  type Client,
  type LeaseEndedError,
  type LoseOn,
  type TreeCache,
  type TreeCacheEvent,
} from '../../client/index.js'
import { finishEnsemble, startEnsemble, type Ensemble } from '../helpers/ensemble.js'
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js'
import { mulberry32 } from '../helpers/mulberry32.js'
import { waitFor, withDeadline } from '../helpers/wait.js'

let ensemble: Ensemble | undefined
let failed = false
const clients: Client[] = []

beforeAll(async () => {
  ensemble = await startEnsemble({ size: 3, name: 'recipes' })
  await ensemble.leader({ timeoutMs: 60_000 })
  await ensemble.converged({ timeoutMs: 60_000 })
}, 120_000)
afterEach(async () => {
  // A test that failed half-way must not leave the next one without a quorum.
  for (const member of ensemble?.members ?? []) if (member.state === 'stopped') await member.start()
}, 120_000)
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()))
  await finishEnsemble(ensemble, failed, 'recipes-ensemble')
}, 60_000)

async function open(): Promise<Client> {
  const client = await connect({ servers: ensemble!.urls, sessionTimeoutMs: 8000 })
  clients.push(client)
  return client
}

/** failover elects `loseOn` leader A and waiting candidate B, then kills A's member and brings it back. */
async function failover(path: string, loseOn: LoseOn) {
  const e = ensemble!
  const a = await open()
  const b = await open()
  const leadership = await election(a, path, { id: 'a', loseOn }).campaign()
  const next = election(b, path, { id: 'b' }).campaign()
  await waitFor(async () => (await b.children(path)).length === 2, { what: 'b in line' })
  const sessionId = a.sessionId
  const killed = a.serverId
  const dropped = new Promise<void>((resolve) =>
    a.on('state', (s) => s === 'suspended' && resolve()),
  )
  await e.member(killed).kill('SIGKILL')
  await withDeadline(dropped, 15_000, "a's connection drops")
  await waitFor(() => a.state === 'connected', {
    what: 'a resumes on another member',
    timeoutMs: 30_000,
  })
  expect(a.sessionId).toBe(sessionId)
  expect(a.serverId).not.toBe(killed)
  return { a, b, leadership, next, restart: () => e.member(killed).start() }
}

describe('leadership across a member failure', () => {
  it(
    "with loseOn 'lost' the leader keeps its session, node and token",
    { timeout: 120_000 },
    async () => {
      try {
        const path = '/recipes-ensemble/lost'
        const { b, leadership, next, restart } = await failover(path, 'lost')
        expect(leadership.signal.aborted).toBe(false)
        // A member just died: a sync may meet an election (NOT_SERVING, retryable).
        await retry(() => b.sync(path), { maxAttempts: 100 })
        expect(await election(b, path, { id: 'observer' }).leader()).toMatchObject({
          id: 'a',
          token: leadership.token,
        })
        await restart()
        await leadership.resign()
        const successor = await withDeadline(next, 15_000, 'b elected after the resign')
        expect(successor.token).toBeGreaterThan(leadership.token)
        await successor.resign()
      } catch (error) {
        failed = true
        throw error
      }
    },
  )

  it(
    "with 'suspended' the lease ends at the drop and the next candidate leads",
    { timeout: 120_000 },
    async () => {
      try {
        const path = '/recipes-ensemble/suspended'
        const { b, leadership, next, restart } = await failover(path, 'suspended')
        expect((leadership.signal.reason as LeaseEndedError).reason).toBe('suspended')
        const successor = await withDeadline(next, 20_000, 'b elected once a is back')
        expect(successor.token).toBeGreaterThan(leadership.token)
        expect(await b.exists(leadership.path)).toBeNull()
        await restart()
        await successor.resign()
      } catch (error) {
        failed = true
        throw error
      }
    },
  )
})

describe('tree cache across member failures and a session expiry', () => {
  const root = '/recipes-ensemble/cache'
  const text = (data: Uint8Array) => new TextDecoder().decode(data)

  /** workload runs random changes on the subtree until stopped; pause() waits for the op in flight. */
  function workload(writer: Client, seed: number) {
    const random = mulberry32(seed)
    const names = ['a', 'b', 'c']
    let paused = false
    let stopped = false
    let ops = 0
    let idle: (() => void) | undefined
    const pick = () => {
      const depth = 1 + Math.floor(random() * 3)
      return (
        root +
        Array.from({ length: depth }, () => `/${names[Math.floor(random() * names.length)]}`).join(
          '',
        )
      )
    }
    const loop = (async () => {
      while (!stopped) {
        if (paused) {
          idle?.()
          await new Promise((resolve) => setTimeout(resolve, 5))
          continue
        }
        const path = pick()
        const roll = random()
        try {
          if (roll < 0.35) await writer.create(path, `v${ops}`)
          else if (roll < 0.65) await writer.set(path, `v${ops}`)
          else if (roll < 0.85) await writer.delete(path)
          else {
            await writer.delete(path)
            await writer.create(path, `again ${ops}`)
          }
        } catch {
          // NO_NODE, NODE_EXISTS, NOT_EMPTY, and connection losses while members die
        }
        ops++
      }
    })()
    return {
      get ops() {
        return ops
      },
      pause: () => new Promise<void>((resolve) => ((idle = resolve), (paused = true))),
      resume: () => void (paused = false),
      stop: async () => {
        stopped = true
        await loop
      },
    }
  }

  /** tree reads the subtree linearizably (sync first) as path -> data. */
  async function tree(client: Client): Promise<Map<string, string>> {
    await client.sync(root)
    const out = new Map<string, string>()
    const walk = async (path: string) => {
      try {
        out.set(path, text((await client.get(path)).data))
        for (const child of await client.children(path)) await walk(`${path}/${child}`)
      } catch {
        // deleted between the reads: the writer is paused, so only a vanished root
      }
    }
    await walk(root)
    return out
  }

  const view = (cache: TreeCache) =>
    new Map(cache.paths().map((p) => [p, text(cache.get(p)!.data)]))

  it(
    'equals a linearizable read at sampled points and at the end',
    { timeout: 180_000 },
    async () => {
      const e = ensemble!
      const proxies: FaultProxy[] = []
      try {
        for (const member of e.members)
          proxies.push(
            await startFaultProxy({ target: { host: '127.0.0.1', port: member.clientPort } }),
          )
        const writer = await open()
        await writer.create(root, '', { makeParents: true }).catch(() => {})
        const reader = await connect({
          servers: proxies.map((p) => `ws://127.0.0.1:${p.port}`),
          sessionTimeoutMs: 2000,
        })
        clients.push(reader)
        const cache = treeCache(reader, root)
        const events: TreeCacheEvent[] = []
        void (async () => {
          for await (const event of cache.events()) events.push(event)
        })()
        await cache.start()
        const load = workload(writer, 77)
        let samples = 0
        const sample = async (what: string) => {
          await load.pause()
          // sync() promises every change committed before it is called: the writer's last
          // write is. Read the writer's zxid now, not after the reads below, which may see a
          // later txn of another session (a close, an expiry) that no sync here covers.
          const written = writer.lastZxid
          await cache.sync()
          const expected = await tree(writer)
          expect(view(cache), `cache at ${what}`).toEqual(expected)
          expect(cache.zxid, `cache zxid at ${what}`).toBeGreaterThanOrEqual(written)
          samples++
          load.resume()
        }
        const runFor = async (ms: number) => {
          const until = load.ops + Math.max(20, ms / 10)
          await waitFor(() => load.ops >= until, { timeoutMs: 30_000, what: 'workload progress' })
        }

        await runFor(500)
        await sample('the start')

        const { id: leaderId } = await e.leader()
        const follower = e.members.find((m) => m.id !== leaderId)!.id
        await e.member(follower).kill('SIGKILL')
        await runFor(500)
        await e.member(follower).start()
        await sample('a follower killed and back')

        await e.member(leaderId).kill('SIGKILL')
        await e.leader({
          timeoutMs: 30_000,
          among: e.members.filter((m) => m.id !== leaderId).map((m) => m.id),
        })
        await runFor(500)
        await e.member(leaderId).start()
        await sample('the leader killed and back')

        const session = reader.sessionId
        for (const proxy of proxies) proxy.setMode({ kind: 'drop-all', how: 'hold' })
        await waitFor(() => reader.state === 'lost' || reader.sessionId !== session, {
          what: 'the cache session lost',
          timeoutMs: 20_000,
        })
        for (const proxy of proxies) proxy.heal()
        await waitFor(() => reader.state === 'connected' && reader.sessionId !== session, {
          what: 'a new session',
          timeoutMs: 20_000,
        })
        await runFor(500)
        await sample('the session expired and replaced')
        expect(events.some((ev) => ev.type === 'resynced' && ev.reason === 'session lost')).toBe(
          true,
        )

        await runFor(500)
        await load.pause()
        await load.stop()
        await cache.sync()
        expect(view(cache)).toEqual(await tree(writer))
        expect(samples).toBe(4)
        await cache.close()
      } catch (error) {
        failed = true
        throw error
      } finally {
        await Promise.all(proxies.map((p) => p.close()))
      }
    },
  )
})
