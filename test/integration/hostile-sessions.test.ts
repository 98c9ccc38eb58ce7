/**
 * Hostile sessions against a 3-member ensemble of real processes (issue 9), while the
 * harness's bystander keeps writing and reading through every member:
 *
 * - attack 1: one session fills itself with ephemerals of ~3.9 KB names, then drops its
 *   socket. Before, its closeSession txn grew to 19.6 MB, no leader could send it and
 *   every leader in turn exited. Now the session is refused QUOTA_EXCEEDED once its
 *   closeSession txn would outgrow the txn limit; when it expires, every member deletes
 *   every one of its ephemerals and no member exits.
 * - attack 3: `create` with makeParents and more than 1,000 missing ancestors, repeated
 *   through every member. Before, followers refused the proposal as malformed and an
 *   election followed each time. Now each is refused with BAD_ARGUMENTS; no election.
 *
 * finishHostileRun then checks: no exit, no election, bystander worst latency < 1 s,
 * RSS growth < 200 MiB a member, every acknowledged write everywhere and after a restart.
 */
import { expect, it } from 'vitest'
import { connect, type Client } from '../../client/index.js'
import {
  ErrorCode,
  MULTI_OPS_MAX,
  PATH_BYTES_MAX,
  type ServerMessage,
} from '../../protocol/index.js'
import { finishEnsemble } from '../helpers/ensemble.js'
import {
  finishHostileRun,
  rawClient,
  startHostileRun,
  type HostileRun,
  type RawClient,
} from '../helpers/hostile.js'
import { waitFor } from '../helpers/wait.js'

type Reply = Extract<ServerMessage, { type: 'reply' }>

/** RSS_GROWTH_MAX_MIB bounds each member's RSS growth during an attack. */
const RSS_GROWTH_MAX_MIB = 200
/** NAME_BYTES is the attack's name length (issue 9: ~3.9 KB names). */
const NAME_BYTES = 3900
/** IN_FLIGHT is how many creates the attacker keeps pipelined. */
const IN_FLIGHT = 16
/** CREATES_MAX stops the attacker if it were never refused (the attack used ~4,500). */
const CREATES_MAX = 5000

/**
 * fillEphemerals pipelines ephemeral creates under `parent` until the server refuses one;
 * it returns the acknowledged paths and the first refusal. Creates still in flight after
 * the refusal must be refused the same way.
 */
async function fillEphemerals(
  raw: RawClient,
  parent: string,
): Promise<{ acked: string[]; refusal: Reply }> {
  const acked: string[] = []
  const inFlight: { xid: number; path: string }[] = []
  let refusal: Reply | undefined
  let next = 0
  while (refusal === undefined || inFlight.length > 0) {
    while (refusal === undefined && inFlight.length < IN_FLIGHT && next < CREATES_MAX) {
      const path = `${parent}/${String(next).padStart(6, '0')}-${'n'.repeat(NAME_BYTES)}`
      const xid = 100 + next++
      raw.request(xid, { op: 'create', path, data: new Uint8Array(0), mode: 'ephemeral' })
      inFlight.push({ xid, path })
    }
    if (inFlight.length === 0) throw new Error(`no create was refused after ${CREATES_MAX}`)
    const { xid, path } = inFlight.shift()!
    const reply = await raw.reply(xid, 30_000)
    if (reply.err === ErrorCode.OK) {
      expect(
        refusal,
        `a create acknowledged after the first refusal (${path.slice(0, 20)})`,
      ).toBeUndefined()
      acked.push(path)
    } else {
      expect({ err: reply.err, message: reply.message?.slice(0, 300) }).toMatchObject({
        err: ErrorCode.QUOTA_EXCEEDED,
      })
      refusal ??= reply
    }
  }
  return { acked, refusal }
}

/**
 * attack runs the attack of a test; if it fails, the ensemble is stopped with its logs
 * saved (finishHostileRun, which does that otherwise, is never reached).
 */
async function attack(run: HostileRun, body: () => Promise<void>): Promise<void> {
  try {
    await body()
  } catch (err) {
    await finishEnsemble(run.ensemble, true, `attack failed: ${String(err)}`)
    throw err
  }
}

/** clientsOf connects one SDK client to each member, to read what each member holds. */
async function clientsOf(urls: string[]): Promise<Client[]> {
  return Promise.all(urls.map((url) => connect({ servers: [url], sessionTimeoutMs: 4000 })))
}

it(
  'attack 1: a session filling itself with long-named ephemerals is refused at the txn limit, and its expiry deletes them on every member',
  { timeout: 300_000 },
  async () => {
    // A short session timeout: the attacker's session expires soon after it drops its socket.
    const run = await startHostileRun({ name: 'hostile-ephemerals', maxSessionTimeoutMs: 3000 })
    await attack(run, async () => {
      const attackerMember = run.ensemble.members.find((m) => m.id !== run.leaderId)!.id
      const raw = await rawClient(run.url(attackerMember))
      const connected = await raw.connect()
      expect(connected.type).toBe('connected')
      raw.request(1, { op: 'create', path: '/eph', data: new Uint8Array(0), mode: 'persistent' })
      expect((await raw.reply(1)).err).toBe(ErrorCode.OK)

      const { acked, refusal } = await fillEphemerals(raw, '/eph')
      // The default txn limit (2 x 1,114,112 bytes) holds ~566 such paths in one closeSession txn.
      expect(acked.length).toBeGreaterThan(500)
      expect(acked.length).toBeLessThan(600)
      expect(refusal.message).toMatch(
        new RegExp(
          `owns ${acked.length} ephemerals with \\d+ bytes of paths; one more would make its close txn \\d+ bytes, over the txn limit of 2228224 bytes`,
        ),
      )

      const readers = await clientsOf(run.ensemble.members.map((m) => run.url(m.id)))
      try {
        // The parent's Stat (numChildren), not childCount: that walks ~2 MB of paths on the member at each poll.
        const countOn = (reader: Client, n: number) =>
          waitFor(async () => (await reader.exists('/eph'))?.numChildren === n, {
            timeoutMs: 60_000,
            intervalMs: 100,
            what: `${n} ephemerals under /eph`,
          })
        for (const reader of readers) await countOn(reader, acked.length)
        raw.terminate()
        // The session expires; its closeSession (~2.2 MB) is proposed, logged and applied everywhere.
        for (const reader of readers) await countOn(reader, 0)
      } finally {
        await Promise.all(readers.map((r) => r.close()))
      }
      expect(run.ensemble.unexpectedExits()).toEqual([])
    })
    await finishHostileRun(run, { rssGrowthMaxMiB: RSS_GROWTH_MAX_MIB })
  },
)

it(
  'attack 3: makeParents with more than 1,000 missing ancestors is refused through every member, with no election',
  { timeout: 300_000 },
  async () => {
    const run = await startHostileRun({ name: 'hostile-make-parents' })
    await attack(run, async () => {
      const raws = await Promise.all(run.ensemble.members.map((m) => rawClient(run.url(m.id))))
      for (const raw of raws) expect((await raw.connect()).type).toBe('connected')
      const deep = (depth: number, segment: string) =>
        '/' + Array.from({ length: depth }, () => segment).join('/')
      let xid = 1
      for (let round = 0; round < 3; round++) {
        for (const raw of raws) {
          const attempts = [
            { path: deep(MULTI_OPS_MAX + 1, 'a'), ancestors: MULTI_OPS_MAX },
            { path: deep(PATH_BYTES_MAX / 2 - 1, 'b'), ancestors: PATH_BYTES_MAX / 2 - 2 }, // the 4 KB path of one-letter segments
          ]
          for (const attempt of attempts) {
            raw.request(++xid, {
              op: 'create',
              path: attempt.path,
              data: new Uint8Array(0),
              mode: 'persistent',
              makeParents: true,
            })
            const reply = await raw.reply(xid, 30_000)
            expect({ err: reply.err, message: reply.message }).toEqual({
              err: ErrorCode.BAD_ARGUMENTS,
              message: `BAD_ARGUMENTS: makeParents would create ${attempt.ancestors} missing ancestors; one create makes at most ${MULTI_OPS_MAX - 1} (a multi holds ${MULTI_OPS_MAX} ops)`,
            })
          }
        }
      }
      for (const raw of raws) {
        raw.request(++xid, { op: 'exists', path: '/a', watch: false })
        expect(await raw.reply(xid)).toMatchObject({ err: ErrorCode.OK, result: { stat: null } })
        raw.terminate()
      }
    })
    await finishHostileRun(run, { rssGrowthMaxMiB: RSS_GROWTH_MAX_MIB })
  },
)
