/**
 * Partitions between real member processes, made by the fault proxy on every peer
 * link (test/helpers/fault-proxy.ts), on a 5-member ensemble so that both sides of a
 * split can hold more than one member. Clients always reach their member directly.
 *
 * In every case:
 * - writers pinned to members of the minority side issue writes during the fault; not
 *   one write they issued during the fault is acknowledged before the fault heals
 *   (a minority never acknowledges a write);
 * - writers on the majority side keep getting acknowledgements during the fault (the
 *   majority elects a leader if it has to);
 * - after healing, every member reaches the same zxid and digest, and every
 *   acknowledged write is present through every member.
 *
 * Cases: symmetric follower minority, isolated leader, leader in a 2|3 split, an
 * asymmetric partition (the leader can send but not hear), a link that flaps, and
 * 30% loss (each link broken with probability 0.3 in every 100 ms slot).
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { finishEnsemble, startEnsemble, type Ensemble } from '../helpers/ensemble.js'
import { missingAcked, startWriters, type Writers } from '../helpers/ensemble-writers.js'
import { mulberry32 } from '../helpers/mulberry32.js'
import { waitFor } from '../helpers/wait.js'

const SIZE = 5
let ensemble: Ensemble | undefined
let failed = false
const writerSets: Writers[] = []
const stoppers: (() => void)[] = []

beforeAll(async () => {
  ensemble = await startEnsemble({ size: SIZE, proxies: true, name: 'partitions' })
  await ensemble.leader({ timeoutMs: 30_000 })
}, 120_000)
afterEach(async (context) => {
  if (context.task.result?.state === 'fail') failed = true
  for (const stop of stoppers.splice(0)) stop()
  ensemble?.heal()
  await Promise.all(writerSets.splice(0).map((w) => w.stop()))
}, 30_000)
afterAll(async () => {
  await finishEnsemble(ensemble, failed, 'ensemble-partitions failed')
}, 30_000)

interface FaultCase {
  parent: string
  /** minority lists members that must acknowledge nothing issued during the fault. */
  minority: number[]
  /** apply injects the fault; it may return what stops it (before the links heal). */
  apply: () => void | (() => void)
  /** majority lists members that keep serving (default: everyone outside the minority). */
  majority?: number[]
  /** acks is how many majority acknowledgements the fault lasts for (default 40). */
  acks?: number
  /** acksWithinMs bounds the wait for those acknowledgements (default 30 s). */
  acksWithinMs?: number
}

/**
 * underFault runs writers on both sides, injects the fault, waits for the majority to
 * acknowledge writes issued during it, heals, and checks the promises listed in the
 * file comment.
 */
async function underFault(c: FaultCase): Promise<void> {
  const e = ensemble!
  const ids = e.members.map((m) => m.id)
  const majority = c.majority ?? ids.filter((id) => !c.minority.includes(id))
  const majorityWriters = await startWriters({
    servers: majority.map((id) => [e.member(id).url]),
    parent: `${c.parent}-majority`,
  })
  writerSets.push(majorityWriters)
  const minorityWriters =
    c.minority.length === 0
      ? undefined
      : await startWriters({
          servers: c.minority.map((id) => [e.member(id).url]),
          parent: `${c.parent}-minority`,
          requestTimeoutMs: 2000,
        })
  if (minorityWriters !== undefined) writerSets.push(minorityWriters)
  await majorityWriters.waitForAcks(10)
  await minorityWriters?.waitForAcks(3)

  const faultAt = Date.now()
  const stop = c.apply()
  if (stop !== undefined) stoppers.push(stop)
  // The majority serves through the fault: writes issued after it began are acknowledged.
  await majorityWriters.waitForAcks(c.acks ?? 40, c.acksWithinMs ?? 30_000)
  expect(majorityWriters.acked.filter((a) => a.sentAtMs > faultAt).length).toBeGreaterThan(0)
  // The fault lasts until the minority's clients have tried writes issued during it (else
  // "acknowledged nothing" would prove nothing); a write in flight at the fault times out first.
  if (minorityWriters !== undefined) {
    await waitFor(() => minorityWriters.issuedAfter(faultAt) >= c.minority.length * 2, {
      timeoutMs: 30_000,
      what: 'minority writes issued during the fault',
    })
  }
  const healAt = Date.now()
  for (const undo of stoppers.splice(0)) undo()
  e.heal()

  await e.leader({ timeoutMs: 30_000 })
  await majorityWriters.waitForAcks(5)
  await Promise.all([majorityWriters.stop(), minorityWriters?.stop()])
  await e.converged({ timeoutMs: 30_000 })

  const ackedByMinority = (minorityWriters?.acked ?? []).filter(
    (a) => a.sentAtMs > faultAt && a.atMs < healAt,
  )
  expect(
    ackedByMinority.map((a) => `${a.path} acked ${a.atMs - faultAt} ms into the fault`),
    'writes the minority acknowledged during the fault',
  ).toEqual([])
  for (const [side, writers] of [
    ['majority', majorityWriters],
    ['minority', minorityWriters],
  ] as const) {
    if (writers === undefined) continue
    const missing = await missingAcked(e, `${c.parent}-${side}`, writers.acked, ids)
    expect(
      Object.fromEntries(missing),
      `acknowledged ${side} writes missing after healing`,
    ).toEqual({})
  }
  expect(e.unexpectedExits()).toEqual([])
}

async function roles(): Promise<{ leader: number; followers: number[] }> {
  const { id } = await ensemble!.leader({ timeoutMs: 30_000 })
  return { leader: id, followers: ensemble!.members.map((m) => m.id).filter((x) => x !== id) }
}

it('symmetric: two followers cut off from the other three', { timeout: 120_000 }, async () => {
  const { followers } = await roles()
  const minority = followers.slice(0, 2)
  await underFault({
    parent: '/p-symmetric',
    minority,
    apply: () =>
      ensemble!.partition(
        minority,
        ensemble!.members.map((m) => m.id).filter((id) => !minority.includes(id)),
      ),
  })
})

it(
  'isolated leader: the old leader alone, the other four elect',
  { timeout: 120_000 },
  async () => {
    const { leader } = await roles()
    await underFault({
      parent: '/p-isolated',
      minority: [leader],
      apply: () => ensemble!.isolate(leader),
    })
  },
)

it(
  'minority/majority: the leader and one follower against three',
  { timeout: 120_000 },
  async () => {
    const { leader, followers } = await roles()
    const minority = [leader, followers[0]!]
    await underFault({
      parent: '/p-split',
      minority,
      apply: () => ensemble!.partition(minority, followers.slice(1)),
    })
  },
)

it(
  'asymmetric: the leader can send to everyone but hears no one',
  { timeout: 120_000 },
  async () => {
    const { leader, followers } = await roles()
    await underFault({
      parent: '/p-one-way',
      minority: [leader],
      apply: () => {
        for (const f of followers) ensemble!.oneWay(leader, f)
      },
    })
  },
)

it(
  'a link between the leader and a follower that flaps every 150 ms',
  { timeout: 120_000 },
  async () => {
    const { leader, followers } = await roles()
    await underFault({
      parent: '/p-flap',
      minority: [],
      acks: 300,
      apply: () => ensemble!.setLink(leader, followers[0]!, { kind: 'flap', periodMs: 150 }),
    })
  },
)

it(
  '30% loss: each link broken with probability 0.3 in every 100 ms slot',
  { timeout: 180_000 },
  async () => {
    const e = ensemble!
    const random = mulberry32(20261123)
    const ids = e.members.map((m) => m.id)
    await underFault({
      parent: '/p-loss',
      minority: [],
      // Progress under this loss comes in bursts: at this harness's 50 ms tick a broken
      // 100 ms slot outlasts a follower's 2-tick grace for its leader link, so followers
      // leave and rejoin dozens of times a minute, and a leader elected by voters who
      // then join another waits out the init timeout. 40 acks took 6-70 s over nine
      // runs on a loaded 2-core machine; what is promised is progress and safety, so
      // the fault lasts for 15 acknowledgements, within 90 s.
      acks: 15,
      acksWithinMs: 90_000,
      apply: () => {
        const timer = setInterval(() => {
          for (const i of ids)
            for (const j of ids)
              if (j < i)
                e.setLink(
                  i,
                  j,
                  random() < 0.3 ? { kind: 'drop-all', how: 'reset' } : { kind: 'pass' },
                )
        }, 100)
        return () => clearInterval(timer)
      },
    })
  },
)
