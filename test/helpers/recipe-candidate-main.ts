/**
 * An election candidate in its own process, for the tests that kill -9 or SIGSTOP a
 * leader. Started by recipe-process.ts with one JSON argument
 * `{ servers, sessionTimeoutMs, storeUrl, name }`; driven by JSON lines on stdin:
 *
 *   {"cmd":"campaign","path":P,"loseOn":"suspended"|"lost"}
 *       -> {"event":"leader","token":T} once elected, {"event":"ended","reason":R} when the lease ends
 *   {"cmd":"write","key":K,"value":V,"stallUntil":FILE}
 *       -> {"event":"checked","token":T} after checking the lease is live, then (when
 *          `stallUntil` is given, after a synchronous stall until FILE exists: a stand-in
 *          for a GC pause that ends when the test says) the write to the fenced store
 *          -> {"event":"write","accepted":bool,"token":T,"value":V};
 *          {"event":"write-skipped"} when the lease has ended
 *   {"cmd":"resign"} -> {"event":"resigned"}
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
    JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) + '\n',
  )
const client = await connect({ servers: args.servers, sessionTimeoutMs: args.sessionTimeoutMs })
let lease: Leadership | undefined

/**
 * stallUntil blocks the whole process, timers and sockets included, like a long GC
 * pause, until `file` exists: the test decides when the pause ends, whatever the load.
 */
function stallUntil(file: string): void {
  const cell = new Int32Array(new SharedArrayBuffer(4))
  while (!existsSync(file)) Atomics.wait(cell, 0, 0, 10)
}

async function run(command: Record<string, unknown>): Promise<void> {
  switch (command.cmd) {
    case 'campaign': {
      const candidate = election(client, String(command.path), {
        id: args.name,
        ...(command.loseOn === 'suspended' || command.loseOn === 'lost'
          ? { loseOn: command.loseOn }
          : {}),
      })
      lease = await candidate.campaign()
      const held = lease
      held.signal.addEventListener(
        'abort',
        () => print({ event: 'ended', reason: (held.signal.reason as { reason?: string }).reason }),
        { once: true },
      )
      print({ event: 'leader', token: held.token, path: held.path })
      return
    }
    case 'write': {
      if (lease === undefined || lease.signal.aborted) return print({ event: 'write-skipped' })
      const token = lease.token
      print({ event: 'checked', token })
      if (typeof command.stallUntil === 'string') stallUntil(command.stallUntil)
      const response = await fetch(`${args.storeUrl}/write`, {
        method: 'POST',
        body: JSON.stringify({
          key: command.key,
          token: token.toString(),
          value: command.value,
          writer: args.name,
        }),
      })
      print({ event: 'write', accepted: response.status === 200, token, value: command.value })
      return
    }
    case 'resign':
      await lease?.resign()
      return print({ event: 'resigned' })
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
  void client.close().finally(() => process.exit(0))
})
