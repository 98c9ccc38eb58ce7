/**
 * Leader election under faults, on 3 real member processes, with the candidates in
 * processes of their own. Each candidate reaches every member through a fault proxy
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
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
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

beforeAll(async () => {
  ensemble = await startEnsemble({ size: 3, name: 'recipes-faults' })
  await ensemble.leader({ timeoutMs: 60_000 })
  await ensemble.converged({ timeoutMs: 60_000 })
  served = await serveFencedStore()
}, 120_000)
afterAll(async () => {
  await Promise.all(candidates.map((c) => c.proc.stop()))
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
      const memberKilledAt = Date.now()
      await e.member(member).kill('SIGKILL')
      await acceptedSince(
        current.token,
        memberKilledAt + 100,
        'the leader writes through another member',
      )
      expect(leading(current.proc)).toBe(current.token)
      expect(await serverOf(current.proc)).not.toBe(member)
      await e.member(member).start()

      // 4. A network cut between the leader and its member.
      const cutMember = await serverOf(current.proc)
      const cutProxy = proxiesOf(current.proc).get(cutMember)!
      const cutAt = Date.now()
      cutProxy.setMode({ kind: 'drop-all', how: 'reset' })
      await acceptedSince(
        current.token,
        cutAt + 100,
        'the leader writes through another member after the cut',
      )
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
