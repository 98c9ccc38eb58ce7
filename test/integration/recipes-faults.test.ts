/**
 * Recipes under faults, on 3 real member processes, with their clients in processes of
 * their own (so that killing one kills its socket, timers and session for real).
 *
 * Leader election: each candidate reaches every member through a fault proxy
 * of its own, campaigns again whenever its lease ends, and while it leads writes to a
 * fenced store every 50 ms. One run goes through:
 * - kill -9 of the leader's process: a new leader within the session timeout + 1 s;
 * - SIGSTOP of the leader for longer than the session timeout, then SIGCONT;
 * - kill -9 of the member the leader is connected to (the session moves, the
 *   leadership stays);
 * - a network cut between the leader and its member (the same);
 * - the leader cut off from every member past the session timeout;
 * - resign(): the next candidate leads within 100 ms (median of three).
 * Throughout, at most one candidate holds a lease the store accepts: every token
 * belongs to one candidate, tokens only grow from one leadership to the next, and no
 * write with a superseded token is accepted (the store counts the refused ones).
 *
 * Mutex: four workers increment a counter in the store (read, then write + 1 with the
 * lease's token); one is killed -9 holding the lock. The accepted values are 1, 2, 3,
 * ... without a repeat (no two holders at once) and the tokens grow in the order of
 * service (FIFO); the others go on once the dead holder's session expires.
 *
 * Semaphore (2 leases): five workers enter the store's occupancy with their token,
 * work, exit; two are killed -9 holding a permit. Never more than 2 tokens inside at
 * once, and 2 at once at some point; every live worker finishes.
 *
 * Queue: consumers take from one queue while two of them are killed -9; every item is
 * taken once: none is reported twice, and at most one per killed consumer (taken just
 * before it died) is unreported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, queue, type Client } from '../../client/index.js'
import { finishEnsemble, startEnsemble, type Ensemble } from '../helpers/ensemble.js'
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js'
import { serveFencedStore, type ServedStore } from '../helpers/recipe-fenced-store.js'
import {
  startRecipeProcess,
  type ProcessEvent,
  type RecipeProcess,
} from '../helpers/recipe-process.js'
import { waitFor } from '../helpers/wait.js'

const SESSION_TIMEOUT_MS = 2000
const PATH = '/faults/leader'
const KEY = 'state'

let ensemble: Ensemble | undefined
let served: ServedStore | undefined
let failed = false
const candidates: { proc: RecipeProcess; proxies: Map<number, FaultProxy> }[] = []
/** processes are the other client processes (lock workers, consumers). */
const processes: RecipeProcess[] = []

beforeAll(async () => {
  ensemble = await startEnsemble({ size: 3, name: 'recipes-faults' })
  await ensemble.leader({ timeoutMs: 60_000 })
  await ensemble.converged({ timeoutMs: 60_000 })
  served = await serveFencedStore()
}, 120_000)
afterAll(async () => {
  await Promise.all([...candidates.map((c) => c.proc), ...processes].map((p) => p.stop()))
  await Promise.all(candidates.flatMap((c) => [...c.proxies.values()].map((p) => p.close())))
  await served?.close()
  await finishEnsemble(ensemble, failed, 'recipes-election-faults')
}, 60_000)

/** addCandidate starts a candidate process behind proxies of its own and makes it campaign. */
async function addCandidate(name: string): Promise<RecipeProcess> {
  const e = ensemble!
  const proxies = new Map<number, FaultProxy>()
  for (const member of e.members)
    proxies.set(
      member.id,
      await startFaultProxy({ target: { host: '127.0.0.1', port: member.clientPort } }),
    )
  const servers = [...proxies.values()].map((p) => `ws://127.0.0.1:${p.port}`)
  const proc = await startRecipeProcess('recipe-candidate-main.ts', name, {
    servers,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    storeUrl: served!.url,
  })
  candidates.push({ proc, proxies })
  proc.send({ cmd: 'campaign', path: PATH, writeEveryMs: 50, key: KEY, again: true })
  return proc
}

/** leading is the token a candidate leads with now, per its own reports. */
function leading(proc: RecipeProcess): bigint | undefined {
  let token: bigint | undefined
  for (const e of proc.events) {
    if (e.event === 'leader') token = BigInt(e.token as string)
    else if (e.event === 'ended' && token === BigInt(e.token as string)) token = undefined
  }
  return token
}

/** leaderAbove waits until a candidate other than `not` leads with a token above `above`, and has had a write accepted. */
async function leaderAbove(
  above: bigint,
  what: string,
  timeoutMs = 20_000,
): Promise<{ proc: RecipeProcess; token: bigint; electedAt: number }> {
  const found = await waitFor(
    () => {
      for (const { proc } of candidates) {
        const token = leading(proc)
        if (token === undefined || token <= above) continue
        const accepted = served!.store.accepted(KEY).some((w) => w.token === token)
        const elected = proc.events.find(
          (e) => e.event === 'leader' && BigInt(e.token as string) === token,
        )
        if (accepted && elected !== undefined)
          return { proc, token, electedAt: elected.at as number }
      }
      return undefined
    },
    { timeoutMs, what },
  )
  return found
}

/** movedOff waits until a candidate is connected to a member other than `member`; returns when. */
async function movedOff(proc: RecipeProcess, member: number): Promise<number> {
  await waitFor(
    async () => {
      const since = proc.events.length
      proc.send({ cmd: 'server' })
      const reply = await proc.next((e) => e.event === 'server', { since, what: 'server id' })
      return reply.state === 'connected' && reply.serverId !== member
    },
    {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: `${proc.name} connected to another member than ${member}`,
    },
  )
  return Date.now()
}

/** serverOf asks a candidate which member it is connected to. */
async function serverOf(proc: RecipeProcess): Promise<number> {
  const since = proc.events.length
  proc.send({ cmd: 'server' })
  const reply = await proc.next((e) => e.event === 'server', { since, what: 'server id' })
  return reply.serverId as number
}

/** acceptedSince waits for an accepted write with `token` stored after `sinceMs`. */
async function acceptedSince(token: bigint, sinceMs: number, what: string): Promise<void> {
  await waitFor(
    () => served!.store.accepted(KEY).some((w) => w.token === token && w.atMs > sinceMs),
    { timeoutMs: 20_000, what },
  )
}

const proxiesOf = (proc: RecipeProcess) => candidates.find((c) => c.proc === proc)!.proxies

describe('election', () => {
  it(
    'keeps at most one leader the fenced store accepts through process, member and network faults',
    { timeout: 300_000 },
    async () => {
      try {
        const e = ensemble!
        await Promise.all(['c1', 'c2', 'c3'].map((name) => addCandidate(name)))
        let current = await leaderAbove(-1n, 'a first leader')

        // 1. kill -9 of the leader's process.
        const killedAt = Date.now()
        current.proc.kill('SIGKILL')
        const afterKill = await leaderAbove(current.token, 'a leader after kill -9')
        expect(
          afterKill.electedAt - killedAt,
          'new leader within the session timeout + 1 s',
        ).toBeLessThan(SESSION_TIMEOUT_MS + 1000)
        current = afterKill
        await addCandidate('c4')

        // 2. SIGSTOP of the leader past the session timeout, then SIGCONT.
        const stopped = current
        stopped.proc.kill('SIGSTOP')
        current = await leaderAbove(stopped.token, 'a leader while the old one is stopped')
        await acceptedSince(current.token, Date.now(), 'the new leader writes')
        const resumedAt = Date.now()
        stopped.proc.kill('SIGCONT')
        await stopped.proc.next(
          (ev) => ev.event === 'ended' && BigInt(ev.token as string) === stopped.token,
          { what: 'the resumed leader learns it lost', timeoutMs: 15_000 },
        )
        await acceptedSince(
          current.token,
          resumedAt,
          'the leader still writes after the old one resumed',
        )

        // 3. kill -9 of the member the leader is connected to: the session moves on.
        const member = await serverOf(current.proc)
        await e.member(member).kill('SIGKILL')
        const movedAt = await movedOff(current.proc, member)
        await acceptedSince(
          current.token,
          movedAt,
          'the leader writes after moving to another member',
        )
        expect(leading(current.proc)).toBe(current.token)
        await e.member(member).start()

        // 4. A network cut between the leader and its member.
        const cutMember = await serverOf(current.proc)
        const cutProxy = proxiesOf(current.proc).get(cutMember)!
        cutProxy.setMode({ kind: 'drop-all', how: 'reset' })
        const cutMovedAt = await movedOff(current.proc, cutMember)
        await acceptedSince(current.token, cutMovedAt, 'the leader writes after the cut')
        expect(leading(current.proc)).toBe(current.token)
        cutProxy.heal()

        // 5. The leader cut off from every member past the session timeout.
        const isolated = current
        for (const proxy of proxiesOf(isolated.proc).values())
          proxy.setMode({ kind: 'drop-all', how: 'hold' })
        current = await leaderAbove(isolated.token, 'a leader while the old one is cut off')
        for (const proxy of proxiesOf(isolated.proc).values()) proxy.heal()
        await isolated.proc.next(
          (ev) => ev.event === 'ended' && BigInt(ev.token as string) === isolated.token,
          { what: 'the cut-off leader learns it lost', timeoutMs: 20_000 },
        )

        // 6. resign(): the next in line leads within 100 ms.
        const handoversMs: number[] = []
        for (let round = 0; round < 3; round++) {
          const resigning = current
          const since = resigning.proc.events.length
          resigning.proc.send({ cmd: 'resign' })
          const started = await resigning.proc.next((ev) => ev.event === 'resigning', {
            since,
            what: 'resigning',
          })
          current = await leaderAbove(resigning.token, `a leader after resign ${round + 1}`)
          handoversMs.push(current.electedAt - (started.at as number))
        }
        handoversMs.sort((a, b) => a - b)
        expect(
          handoversMs[1],
          `median handover after resign (all: ${handoversMs.join(', ')} ms)`,
        ).toBeLessThan(100)

        // The whole history: every token was one candidate's, tokens grew from leadership
        // to leadership, and no superseded token was accepted after a newer one.
        const leaderEvents = candidates
          .flatMap(({ proc }) =>
            proc.events
              .filter((ev) => ev.event === 'leader')
              .map((ev: ProcessEvent) => ({
                name: proc.name,
                token: BigInt(ev.token as string),
                at: ev.at as number,
              })),
          )
          .sort((a, b) => a.at - b.at)
        const owner = new Map<bigint, string>()
        for (const ev of leaderEvents) {
          expect(owner.get(ev.token) ?? ev.name, `token ${ev.token} led by two candidates`).toBe(
            ev.name,
          )
          owner.set(ev.token, ev.name)
        }
        for (let i = 1; i < leaderEvents.length; i++)
          expect(leaderEvents[i]!.token).toBeGreaterThan(leaderEvents[i - 1]!.token)
        const accepted = served!.store.accepted(KEY)
        for (const w of accepted)
          expect(owner.get(w.token), `accepted write by ${w.writer} with token ${w.token}`).toBe(
            w.writer,
          )
        for (let i = 1; i < accepted.length; i++)
          expect(accepted[i]!.token).toBeGreaterThanOrEqual(accepted[i - 1]!.token)
        const refused = served!.store.rejected(KEY)
        process.stderr.write(
          `election faults: ${leaderEvents.length} leaderships, ${accepted.length} writes accepted, ${refused.length} stale writes refused, resign handovers ${handoversMs.join('/')} ms\n`,
        )
        expect(e.unexpectedExits()).toEqual([])
      } catch (error) {
        failed = true
        throw error
      }
    },
  )
})

describe('mutex and semaphore', () => {
  async function workers(
    count: number,
    args: Record<string, unknown>,
    hangs: Record<number, number>,
  ): Promise<RecipeProcess[]> {
    const started = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        startRecipeProcess('recipe-lock-worker-main.ts', `w${i + 1}`, {
          servers: ensemble!.urls,
          sessionTimeoutMs: SESSION_TIMEOUT_MS,
          storeUrl: served!.url,
          ...args,
          ...(hangs[i + 1] === undefined ? {} : { hangOnRound: hangs[i + 1] }),
        }),
      ),
    )
    processes.push(...started)
    for (const worker of started) worker.send({ cmd: 'go' })
    return started
  }

  /** killHanging kills each worker once it reports holding and hanging; returns the tokens they held. */
  async function killHanging(hanging: RecipeProcess[]): Promise<bigint[]> {
    return Promise.all(
      hanging.map(async (worker) => {
        const hang = await worker.next((ev) => ev.event === 'hanging', {
          what: 'holding and hanging',
          timeoutMs: 60_000,
        })
        worker.kill('SIGKILL')
        return BigInt(hang.token as string)
      }),
    )
  }

  it(
    'a mutex keeps a read-modify-write counter exact while a holder is killed -9; tokens grow in order of service',
    { timeout: 180_000 },
    async () => {
      try {
        const rounds = 4
        const all = await workers(
          4,
          { path: '/faults/mutex', lock: 'mutex', rounds, dwellMs: 30 },
          { 1: 2 },
        )
        await killHanging([all[0]!])
        const others = all.slice(1)
        await Promise.all(
          others.map((w) =>
            w.next((ev) => ev.event === 'done' || ev.event === 'error', {
              what: 'done',
              timeoutMs: 120_000,
            }),
          ),
        )
        for (const w of others) expect(w.events.filter((ev) => ev.event === 'error')).toEqual([])
        const accepted = served!.store.accepted('counter')
        expect(served!.store.rejected('counter')).toEqual([])
        expect(accepted).toHaveLength(1 + 3 * rounds)
        expect(accepted.map((w) => w.value)).toEqual(accepted.map((_, i) => String(i + 1)))
        for (let i = 1; i < accepted.length; i++)
          expect(accepted[i]!.token).toBeGreaterThan(accepted[i - 1]!.token)
      } catch (error) {
        failed = true
        throw error
      }
    },
  )

  it(
    'a semaphore never lets more than its leases in while holders are killed -9',
    { timeout: 180_000 },
    async () => {
      try {
        const rounds = 5
        const all = await workers(
          5,
          {
            path: '/faults/semaphore',
            lock: 'semaphore',
            maxLeases: 2,
            rounds,
            dwellMs: 40,
            occupancy: true,
          },
          { 1: 2, 2: 4 },
        )
        // A dead process works on nothing any more: its token leaves the occupancy at the
        // kill, while its permit stays taken until its session expires.
        for (const token of await killHanging(all.slice(0, 2))) served!.store.exit('permits', token)
        const others = all.slice(2)
        await Promise.all(
          others.map((w) =>
            w.next((ev) => ev.event === 'done' || ev.event === 'error', {
              what: 'done',
              timeoutMs: 120_000,
            }),
          ),
        )
        for (const w of others) expect(w.events.filter((ev) => ev.event === 'error')).toEqual([])
        expect(served!.store.maxInside('permits')).toBe(2)
        const entered = served!.store.occupancy.filter(
          (o) => o.key === 'permits' && o.kind === 'enter',
        )
        expect(new Set(entered.map((o) => o.token)).size).toBe(entered.length) // one token per permit
        expect(entered).toHaveLength(2 + 4 + 3 * rounds) // w1 rounds 1-2, w2 rounds 1-4, the rest every round
      } catch (error) {
        failed = true
        throw error
      }
    },
  )
})

describe('queue', () => {
  it(
    'hands every item to exactly one consumer while consumers are killed -9',
    { timeout: 180_000 },
    async () => {
      const path = '/faults/queue'
      let producer: Client | undefined
      try {
        producer = await connect({ servers: ensemble!.urls, sessionTimeoutMs: 10_000 })
        const items = Array.from({ length: 60 }, (_, i) => `item-${i}`)
        for (const item of items) await queue(producer, path).put(item)
        const consumer = async (name: string) => {
          const proc = await startRecipeProcess('recipe-queue-consumer-main.ts', name, {
            servers: ensemble!.urls,
            sessionTimeoutMs: SESSION_TIMEOUT_MS,
            path,
          })
          processes.push(proc)
          proc.send({ cmd: 'go' })
          return proc
        }
        const consumers = await Promise.all(['q1', 'q2', 'q3'].map(consumer))
        const took = () =>
          processes
            .filter((p) => p.name.startsWith('q'))
            .flatMap((p) =>
              p.events.filter((ev) => ev.event === 'took').map((ev) => ev.item as string),
            )
        await waitFor(() => took().length >= 10, { what: '10 items taken', timeoutMs: 60_000 })
        consumers[0]!.kill('SIGKILL')
        consumers.push(await consumer('q4'))
        await waitFor(() => took().length >= 30, { what: '30 items taken', timeoutMs: 60_000 })
        consumers[1]!.kill('SIGKILL')
        await waitFor(async () => (await queue(producer!, path).size()) === 0, {
          what: 'the queue empty',
          timeoutMs: 60_000,
        })
        await waitFor(() => took().length >= items.length - 2, {
          what: 'the last items reported',
          timeoutMs: 30_000,
        })
        const reported = took()
        expect(
          new Set(reported).size,
          `items reported twice: ${reported.length - new Set(reported).size}`,
        ).toBe(reported.length)
        const unreported = items.filter((item) => !reported.includes(item))
        expect(unreported.length, `unreported: ${unreported.join(', ')}`).toBeLessThanOrEqual(2)
        process.stderr.write(
          `queue faults: ${reported.length} items reported, ${unreported.length} taken by killed consumers as they died\n`,
        )
      } catch (error) {
        failed = true
        throw error
      } finally {
        await producer?.close()
      }
    },
  )
})
