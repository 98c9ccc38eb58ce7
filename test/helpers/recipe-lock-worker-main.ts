/**
 * A lock worker in its own process, for the multi-process lock tests. Started by
 * recipe-process.ts with one JSON argument
 * `{ servers, sessionTimeoutMs, storeUrl, name, path, lock: 'mutex'|'write'|'semaphore', maxLeases?, rounds, hangOnRound?, dwellMs? }`.
 * On {"cmd":"go"} it runs `rounds` rounds of: acquire; read the counter from the fenced
 * store; work for up to `dwellMs`; write counter + 1 with the lease's token; release.
 * With `occupancy`, a round instead enters the store's occupancy of key 'permits' with
 * its token, works for up to `dwellMs`, and exits (for semaphores, whose holders work
 * side by side). Mutual exclusion makes the
 * accepted values 1, 2, 3, ... without a repeat; a repeat is a lost update, two holders
 * at once. On round `hangOnRound` it reports {"event":"hanging","token":T} while
 * holding (and inside, with `occupancy`) and never releases, for the test to kill -9 it.
 *
 * Prints {"event":"ready"}, {"event":"acquired","round":R,"token":T},
 * {"event":"wrote","round":R,"value":V,"accepted":bool}, {"event":"released","round":R},
 * {"event":"done"}, {"event":"error","message":M}.
 */
import { connect, mutex, readWriteLock, semaphore, type Lease } from '../../client/index.js'

interface WorkerArgs {
  servers: string[]
  sessionTimeoutMs: number
  storeUrl: string
  name: string
  path: string
  lock: 'mutex' | 'write' | 'semaphore'
  maxLeases?: number
  rounds: number
  hangOnRound?: number
  /** dwellMs is the most time spent between the read and the write (random), so that two holders at once would overlap. */
  dwellMs?: number
  occupancy?: boolean
}

const args = JSON.parse(process.argv[2] ?? '{}') as WorkerArgs
const print = (value: Record<string, unknown>): void =>
  void process.stdout.write(
    JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) + '\n',
  )
const client = await connect({ servers: args.servers, sessionTimeoutMs: args.sessionTimeoutMs })

function acquire(): Promise<Lease> {
  switch (args.lock) {
    case 'mutex':
      return mutex(client, args.path, { data: args.name }).acquire()
    case 'write':
      return readWriteLock(client, args.path, { data: args.name }).write().acquire()
    case 'semaphore':
      return semaphore(client, args.path, {
        leases: args.maxLeases ?? 1,
        data: args.name,
      }).acquire()
  }
}

function post(path: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${args.storeUrl}${path}`, { method: 'POST', body: JSON.stringify(body) })
}

async function rounds(): Promise<void> {
  for (let round = 1; round <= args.rounds; round++) {
    const lease = await acquire()
    print({ event: 'acquired', round, token: lease.token })
    if (args.occupancy === true)
      await post('/enter', { key: 'permits', token: lease.token.toString(), writer: args.name })
    if (round === args.hangOnRound) {
      // Holds the lock (inside, for occupancy) until the test kills the process.
      print({ event: 'hanging', round, token: lease.token })
      await new Promise(() => {})
    }
    if (args.occupancy === true) {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * (args.dwellMs ?? 0)))
      await post('/exit', { key: 'permits', token: lease.token.toString() })
    } else {
      const read = await fetch(`${args.storeUrl}/read?key=counter`)
      const current =
        read.status === 200 ? Number(((await read.json()) as { value: string }).value) : 0
      await new Promise((resolve) => setTimeout(resolve, Math.random() * (args.dwellMs ?? 0)))
      const value = String(current + 1)
      const response = await fetch(`${args.storeUrl}/write`, {
        method: 'POST',
        body: JSON.stringify({
          key: 'counter',
          token: lease.token.toString(),
          value,
          writer: args.name,
        }),
      })
      print({ event: 'wrote', round, value, accepted: response.status === 200 })
    }
    await lease.release()
    print({ event: 'released', round })
  }
  print({ event: 'done' })
}

print({ event: 'ready', sessionId: client.sessionId })
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk: string) => {
  if (chunk.includes('"go"'))
    void rounds().catch((err: unknown) => print({ event: 'error', message: String(err) }))
})
process.stdin.on('end', () => {
  void client.close().finally(() => process.exit(0))
})
