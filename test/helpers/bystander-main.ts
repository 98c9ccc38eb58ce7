/**
 * The bystander of the hostile-client suite, as its own process so that an attack run
 * from the test process cannot slow down the measurement: one SDK client pinned to each
 * member (its server list is that member alone), each creating `<parent>/m<id>-<n>`
 * and reading it back, a few dozen times a second. An operation that fails is retried
 * until it succeeds; its latency runs from the first attempt to the success, so a
 * connection the member drops shows up as latency, not as a silent retry.
 *
 * Started by hostile.ts with one argument, a JSON `{ urls: {id: url}, parent, pauseMs }`.
 * Prints JSON lines: `{"ready":true}` once every client is connected, then per op
 * `{"op":"create"|"get","member":id,"ms":latency,"path":...}` (path on acknowledged
 * creates only) and `{"error":code,"member":id}` per failed attempt. Ends on stdin close.
 */
import { connect, ConclaveError, type Client } from '../../client/index.js'

interface BystanderArgs {
  urls: Record<string, string>
  parent: string
  pauseMs: number
}

const args = JSON.parse(process.argv[2] ?? '{}') as BystanderArgs
let stopped = false
process.stdin.on('end', () => (stopped = true))
process.stdin.on('close', () => (stopped = true))
process.stdin.resume()

const print = (value: Record<string, unknown>) => process.stdout.write(JSON.stringify(value) + '\n')
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** retried runs `attempt` until it succeeds (or the bystander stops) and returns its latency from the first try. */
async function retried(
  member: number,
  attempt: () => Promise<unknown>,
): Promise<number | undefined> {
  const startedMs = performance.now()
  while (!stopped) {
    try {
      await attempt()
      return performance.now() - startedMs
    } catch (err) {
      print({ error: err instanceof ConclaveError ? err.code : String(err), member })
      if (err instanceof ConclaveError && err.code === 'NODE_EXISTS')
        return performance.now() - startedMs
      await pause(10)
    }
  }
  return undefined
}

async function runMember(member: number, url: string, client: Client): Promise<void> {
  for (let n = 0; !stopped; n++) {
    const path = `${args.parent}/m${member}-${n}`
    const createMs = await retried(member, () => client.create(path, `bystander ${member} #${n}`))
    if (createMs === undefined) break
    print({ op: 'create', member, ms: Math.round(createMs), path })
    const getMs = await retried(member, () => client.get(path))
    if (getMs === undefined) break
    print({ op: 'get', member, ms: Math.round(getMs) })
    await pause(args.pauseMs)
  }
  void url
}

const entries = Object.entries(args.urls).map(([id, url]) => ({ member: Number(id), url }))
const clients = await Promise.all(
  entries.map(({ url }) =>
    connect({
      servers: [url],
      sessionTimeoutMs: 10_000,
      requestTimeoutMs: 5000,
      connectTimeoutMs: 5000,
    }),
  ),
)
await clients[0]!.create(args.parent, '', { makeParents: true }).catch((err: unknown) => {
  if (!(err instanceof ConclaveError && err.code === 'NODE_EXISTS')) throw err
})
print({ ready: true })
await Promise.all(entries.map(({ member, url }, i) => runMember(member, url, clients[i]!)))
await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
print({ done: true })
process.exit(0)
