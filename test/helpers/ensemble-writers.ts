/**
 * Continuous writers and the "no acknowledged write missing anywhere" check for the
 * ensemble fault tests. Each writer is one SDK client creating unique nodes
 * `<parent>/w<i>-<n>` one after another; every acknowledgement is noted with the
 * node's czxid (the create's txn zxid) and the time, and every write given up on with
 * an unknown outcome is noted too. After the faults are healed, `missingAcked` reads
 * the parent's children through every member (after a sync) and lists acknowledged
 * nodes a member lacks.
 */
import { connect, ConclaveError, type Client } from '../../client/index.js'
import { ReplyProbe } from '../jepsen/reply-probe.js'
import type { Ensemble } from './ensemble.js'

/** AckedWrite is one acknowledged create. */
export interface AckedWrite {
  path: string
  czxid: bigint
  /** atMs is Date.now() when the reply arrived. */
  atMs: number
  /** sentAtMs is Date.now() when the create was issued. */
  sentAtMs: number
  writer: number
}

/** Writers is a running set of writer clients. */
export interface Writers {
  readonly acked: AckedWrite[]
  /** unknown lists paths whose create was sent and never answered (may or may not exist). */
  readonly unknown: string[]
  /** refusals counts definite failures by error code. */
  readonly refusals: Map<string, number>
  /** issuedAfter counts creates issued after `ms` (Date.now() scale), whatever their outcome. */
  issuedAfter(ms: number): number
  /** ackedAfter counts acknowledgements that arrived after `ms` (Date.now() scale). */
  ackedAfter(ms: number): number
  /** waitForAcks resolves once `n` more writes have been acknowledged than when it was called. */
  waitForAcks(n: number, timeoutMs?: number): Promise<void>
  /** stop ends every writer and closes its client (a call in flight ends as unknown). */
  stop(): Promise<void>
}

/** WritersOptions: one entry of `servers` per writer (its server list), the parent path, and client timeouts. */
export interface WritersOptions {
  servers: string[][]
  parent: string
  sessionTimeoutMs?: number
  requestTimeoutMs?: number
}

/** startWriters creates the parent (if missing) and starts one writer per server list. */
export async function startWriters(options: WritersOptions): Promise<Writers> {
  const acked: AckedWrite[] = []
  const unknown: string[] = []
  const refusals = new Map<string, number>()
  const issued: number[] = []
  const clients: Client[] = []
  let stopped = false
  const waiters = new Set<() => void>()
  const setup = await connect({ servers: options.servers.flat(), sessionTimeoutMs: 10_000 })
  try {
    await setup.create(options.parent, '', { makeParents: true }).catch((err: unknown) => {
      if (!(err instanceof ConclaveError && err.code === 'NODE_EXISTS')) throw err
    })
  } finally {
    await setup.close()
  }

  const run = async (writer: number, servers: string[]) => {
    let client: Client | undefined
    while (!stopped && client === undefined) {
      client = await connect({
        servers,
        sessionTimeoutMs: options.sessionTimeoutMs ?? 6000,
        requestTimeoutMs: options.requestTimeoutMs ?? 5000,
        connectTimeoutMs: 5000,
      }).catch(() => undefined)
    }
    if (client === undefined) return
    clients.push(client)
    const probe = new ReplyProbe(client)
    for (let n = 0; !stopped; n++) {
      const path = `${options.parent}/w${writer}-${n}`
      const sentAtMs = Date.now()
      issued.push(sentAtMs)
      try {
        await client.create(path, `writer ${writer} #${n}`)
        const stat = (
          probe.take('create', path)?.result as { stat?: { czxid: bigint } } | undefined
        )?.stat
        if (stat === undefined) throw new Error(`no reply stat captured for create ${path}`)
        acked.push({ path, czxid: stat.czxid, atMs: Date.now(), sentAtMs, writer })
        for (const wake of [...waiters]) wake()
      } catch (err) {
        if (err instanceof ConclaveError && !err.definite) unknown.push(path)
        else {
          const code = err instanceof ConclaveError ? err.code : `unexpected: ${String(err)}`
          refusals.set(code, (refusals.get(code) ?? 0) + 1)
        }
      }
    }
  }
  const running = options.servers.map((servers, i) => run(i + 1, servers))

  return {
    acked,
    unknown,
    refusals,
    issuedAfter: (ms) => issued.filter((t) => t > ms).length,
    ackedAfter: (ms) => acked.filter((a) => a.atMs > ms).length,
    waitForAcks: (n, timeoutMs = 20_000) => {
      const target = acked.length + n
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (acked.length < target) return
          cleanup()
          resolve()
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(
            new Error(
              `only ${acked.length - target + n} of ${n} writes acknowledged within ${timeoutMs} ms (refusals ${JSON.stringify(Object.fromEntries(refusals))})`,
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
      await Promise.all(running)
    },
  }
}

/**
 * missingAcked reads `parent`'s children through each member in `ids` (default: all
 * running members) after a sync, and returns, per member, the acknowledged paths it
 * lacks (an empty map means every member has every acknowledged write).
 */
export async function missingAcked(
  ensemble: Ensemble,
  parent: string,
  acked: readonly { path: string }[],
  ids?: number[],
): Promise<Map<number, string[]>> {
  const missing = new Map<number, string[]>()
  for (const id of ids ?? ensemble.live().map((m) => m.id)) {
    const client = await connect({
      servers: [ensemble.member(id).url],
      sessionTimeoutMs: 10_000,
      requestTimeoutMs: 10_000,
    })
    try {
      await client.sync(parent)
      const present = new Set((await client.children(parent)).map((name) => `${parent}/${name}`))
      const lacking = acked.map((a) => a.path).filter((p) => !present.has(p))
      if (lacking.length > 0) missing.set(id, lacking)
    } finally {
      await client.close()
    }
  }
  return missing
}
