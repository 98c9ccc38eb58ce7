/**
 * An election candidate in its own process, for the tests that kill -9 or SIGSTOP a
 * leader. Started by recipe-process.ts with one JSON argument
 * `{ servers, sessionTimeoutMs, storeUrl, name }`; driven by JSON lines on stdin. Every
 * line it prints carries `at` (Date.now()), so a test can time a handover across processes.
 *
 *   {"cmd":"campaign","path":P,"loseOn"?:"suspended"|"lost","writeEveryMs"?:N,"key"?:K,"again"?:true}
 *       -> {"event":"leader","token":T} once elected, {"event":"ended","reason":R} when the
 *          lease ends. With `writeEveryMs`, the leader writes `<name>#<n>` to key K of the
 *          fenced store every N ms while its lease holds and is not suspended
 *          -> {"event":"write","accepted":bool,"token":T,"value":V} each. With `again`,
 *          it campaigns again whenever its lease ends (until stdin closes).
 *   {"cmd":"write","key":K,"value":V,"stallUntil"?:FILE}
 *       -> {"event":"checked","token":T} after checking the lease is live, then (when
 *          `stallUntil` is given, after a synchronous stall until FILE exists: a stand-in
 *          for a GC pause that ends when the test says) the write to the fenced store
 *          -> {"event":"write","accepted":bool,"token":T,"value":V};
 *          {"event":"write-skipped"} when the lease has ended
 *   {"cmd":"resign"} -> {"event":"resigning"}, then {"event":"resigned"}
 *   {"cmd":"server"} -> {"event":"server","serverId":N,"state":S}
 *
 * Prints {"event":"ready","sessionId":S} once connected. Ends on stdin close.
 */
import { existsSync } from 'node:fs'
import { connect, election, type Leadership } from '../../client/index.js'

interface CandidateArgs {
  servers: string[]
  sessionTimeoutMs: number
  storeUrl: string
  name: string
}

const args = JSON.parse(process.argv[2] ?? '{}') as CandidateArgs
const print = (value: Record<string, unknown>): void =>
  void process.stdout.write(
    JSON.stringify({ ...value, at: Date.now() }, (_, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v,
    ) + '\n',
  )
const client = await connect({ servers: args.servers, sessionTimeoutMs: args.sessionTimeoutMs })
let lease: Leadership | undefined
let stopping = false
let writes = 0

/**
 * stallUntil blocks the whole process, timers and sockets included, like a long GC
 * pause, until `file` exists: the test decides when the pause ends, whatever the load.
 */
function stallUntil(file: string): void {
  const cell = new Int32Array(new SharedArrayBuffer(4))
  while (!existsSync(file)) Atomics.wait(cell, 0, 0, 10)
}

/** write sends one fenced write and reports the store's answer. */
async function write(key: string, value: string, token: bigint): Promise<void> {
  const response = await fetch(`${args.storeUrl}/write`, {
    method: 'POST',
    body: JSON.stringify({ key, token: token.toString(), value, writer: args.name }),
  })
  print({ event: 'write', accepted: response.status === 200, token, value })
}

/** lead writes every `everyMs` while `held` lasts; a suspended lease starts no write. */
async function lead(held: Leadership, key: string, everyMs: number): Promise<void> {
  while (!held.signal.aborted && !stopping) {
    if (!held.suspended) await write(key, `${args.name}#${++writes}`, held.token)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

async function campaign(command: Record<string, unknown>): Promise<void> {
  const loseOn =
    command.loseOn === 'suspended' || command.loseOn === 'lost' ? command.loseOn : undefined
  const candidate = election(client, String(command.path), {
    id: args.name,
    ...(loseOn === undefined ? {} : { loseOn }),
  })
  do {
    const held = await candidate.campaign()
    lease = held
    const ended = new Promise<void>((resolve) =>
      held.signal.addEventListener(
        'abort',
        () => {
          print({
            event: 'ended',
            token: held.token,
            reason: (held.signal.reason as { reason?: string }).reason,
          })
          resolve()
        },
        { once: true },
      ),
    )
    print({ event: 'leader', token: held.token, path: held.path, serverId: client.serverId })
    if (typeof command.writeEveryMs === 'number')
      await lead(held, String(command.key), command.writeEveryMs)
    if (command.again !== true) return
    await ended
  } while (!stopping)
}

async function run(command: Record<string, unknown>): Promise<void> {
  switch (command.cmd) {
    case 'campaign':
      return campaign(command)
    case 'write': {
      if (lease === undefined || lease.signal.aborted) return print({ event: 'write-skipped' })
      const token = lease.token
      print({ event: 'checked', token })
      if (typeof command.stallUntil === 'string') stallUntil(command.stallUntil)
      return write(String(command.key), String(command.value), token)
    }
    case 'resign':
      print({ event: 'resigning', token: lease?.token })
      await lease?.resign()
      return print({ event: 'resigned' })
    case 'server':
      return print({ event: 'server', serverId: client.serverId, state: client.state })
    default:
      return print({ event: 'error', message: `unknown command ${String(command.cmd)}` })
  }
}

print({ event: 'ready', sessionId: client.sessionId })
let buffered = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk: string) => {
  buffered += chunk
  let newline: number
  while ((newline = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, newline)
    buffered = buffered.slice(newline + 1)
    void run(JSON.parse(line) as Record<string, unknown>).catch((err: unknown) =>
      print({ event: 'error', message: String(err) }),
    )
  }
})
process.stdin.on('end', () => {
  stopping = true
  void client.close().finally(() => process.exit(0))
})
