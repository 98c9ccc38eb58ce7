/**
 * Compare-and-set writers for the watch soak: each is one SDK client that, driven by
 * its own seeded RNG, reads a key's version and sets it with that version (a chain:
 * every committed set bumps the version by exactly one, so the final version counts
 * the commits, acknowledged or not), or now and then creates or deletes a "life" node
 * (created and deleted again and again). Every acknowledged write is noted with the
 * zxid of its txn: a set's reply Stat.mzxid, a create's reply Stat.czxid and a delete's
 * reply zxid (the last two through ReplyProbe, as the API returns neither).
 *
 * Failures are part of the weather: BAD_VERSION (another writer won), NODE_EXISTS and
 * NO_NODE (a life in the other state), and indeterminate ones (`definite: false`: a
 * connection lost with the write in flight) are counted and the writer goes on.
 */
import { connect, ConclaveError, type Client } from '../../client/index.js'
import { ReplyProbe } from '../jepsen/reply-probe.js'
import { mulberry32 } from './mulberry32.js'

/** AckedSet is one acknowledged set: the version it made and its txn's zxid. */
export interface AckedSet {
  path: string
  version: number
  zxid: bigint
  writer: number
}

/** AckedLifeWrite is one acknowledged create or delete of a life node. */
export interface AckedLifeWrite {
  path: string
  op: 'create' | 'delete'
  zxid: bigint
  writer: number
}

/** CasWriters is a running set of writers. */
export interface CasWriters {
  readonly sets: AckedSet[]
  readonly lifeWrites: AckedLifeWrite[]
  /** outcomes counts every ended call: 'ok', error codes, and 'indeterminate' (definite: false). */
  readonly outcomes: Map<string, number>
  /** problems lists what a writer saw that no fault excuses (a non-SDK error, a version jump). */
  readonly problems: string[]
  /** acknowledged is the number of acknowledged writes so far. */
  acknowledged(): number
  /** waitForAcks resolves once `n` more writes are acknowledged than at the call. */
  waitForAcks(n: number, timeoutMs: number): Promise<void>
  /** stop ends the loops (a call in flight may end indeterminate) and closes the clients. */
  stop(): Promise<void>
}

/** CasWritersOptions shape the workload. */
export interface CasWritersOptions {
  servers: string[]
  count: number
  /** keys are the chain nodes (they must exist). */
  keys: readonly string[]
  /** lives are the life nodes' paths (their parent must exist). */
  lives: readonly string[]
  /** lifeShare is the share of operations that create or delete a life node. */
  lifeShare: number
  seed: number
  sessionTimeoutMs: number
  requestTimeoutMs: number
}

/** FAILURE_PAUSE_MS_MAX caps the random pause after a failure, so a writer does not spin on a downed ensemble. */
const FAILURE_PAUSE_MS_MAX = 50

/** startCasWriters connects `count` writers and starts their loops. */
export async function startCasWriters(options: CasWritersOptions): Promise<CasWriters> {
  const sets: AckedSet[] = []
  const lifeWrites: AckedLifeWrite[] = []
  const outcomes = new Map<string, number>()
  const problems: string[] = []
  const waiters = new Set<() => void>()
  let stopped = false
  const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1)
  const acknowledged = () => sets.length + lifeWrites.length
  const acked = () => {
    count('ok')
    for (const wake of [...waiters]) wake()
  }

  const clients = await Promise.all(
    Array.from({ length: options.count }, () =>
      connect({
        servers: options.servers,
        sessionTimeoutMs: options.sessionTimeoutMs,
        requestTimeoutMs: options.requestTimeoutMs,
      }),
    ),
  )

  const run = async (writer: number, client: Client) => {
    // One RNG per writer: its choices do not depend on how the others interleave.
    const random = mulberry32((options.seed ^ Math.imul(writer, 0x9e3779b9)) >>> 0)
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
    const probe = new ReplyProbe(client)
    for (let n = 0; !stopped; n++) {
      try {
        if (options.lives.length > 0 && random() < options.lifeShare) {
          const path = pick(options.lives)
          probe.clear()
          if (random() < 0.5) {
            await client.create(path, `w${writer}#${n}`)
            const stat = (probe.take('create', path)?.result as { stat?: { czxid: bigint } })?.stat
            if (stat === undefined)
              problems.push(`writer ${writer}: no reply Stat for create ${path}`)
            else lifeWrites.push({ path, op: 'create', zxid: stat.czxid, writer })
          } else {
            await client.delete(path)
            const reply = probe.take('delete', path)
            if (reply === undefined) problems.push(`writer ${writer}: no reply for delete ${path}`)
            else lifeWrites.push({ path, op: 'delete', zxid: reply.zxid, writer })
          }
        } else {
          const path = pick(options.keys)
          const { stat: read } = await client.get(path)
          const stat = await client.set(path, `w${writer}#${n}`, { version: read.version })
          if (stat.version !== read.version + 1)
            problems.push(
              `writer ${writer}: set ${path} if v${read.version} acknowledged with v${stat.version}`,
            )
          sets.push({ path, version: stat.version, zxid: stat.mzxid, writer })
        }
        acked()
      } catch (err) {
        if (!(err instanceof ConclaveError)) {
          problems.push(`writer ${writer}: ${String(err)}`)
          count('unexpected')
        } else count(err.definite ? err.code : 'indeterminate')
        if (!stopped) await sleep(random() * FAILURE_PAUSE_MS_MAX)
      }
    }
  }
  const loops = clients.map((client, i) => run(i + 1, client))

  return {
    sets,
    lifeWrites,
    outcomes,
    problems,
    acknowledged,
    waitForAcks: (n, timeoutMs) => {
      const target = acknowledged() + n
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (acknowledged() < target) return
          cleanup()
          resolve()
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(
            new Error(
              `the writers got ${n - (target - acknowledged())} of ${n} writes acknowledged within ${timeoutMs} ms (outcomes ${JSON.stringify(Object.fromEntries(outcomes))})`,
            ),
          )
        }, timeoutMs)
        const cleanup = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
    stop: async () => {
      stopped = true
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
      await Promise.all(loops)
    },
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
