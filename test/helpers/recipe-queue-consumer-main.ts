/**
 * A queue consumer in its own process, for the test that kills consumers while they
 * take. Started by recipe-process.ts with one JSON argument
 * `{ servers, sessionTimeoutMs, name, path }`. On {"cmd":"go"} it takes items from the
 * queue at `path` for ever, printing {"event":"took","item":TEXT} after each take, so
 * the test can tell who got what; a process killed right after a take leaves at most
 * that one item unreported. Prints {"event":"ready"} once connected; ends on stdin close.
 */
import { connect, queue } from '../../client/index.js'

interface ConsumerArgs {
  servers: string[]
  sessionTimeoutMs: number
  name: string
  path: string
}

const args = JSON.parse(process.argv[2] ?? '{}') as ConsumerArgs
const print = (value: Record<string, unknown>): void =>
  void process.stdout.write(JSON.stringify(value) + '\n')
const client = await connect({ servers: args.servers, sessionTimeoutMs: args.sessionTimeoutMs })
const stop = new AbortController()
const decoder = new TextDecoder()

async function consume(): Promise<void> {
  const items = queue(client, args.path)
  while (!stop.signal.aborted) {
    const item = await items.take({ signal: stop.signal })
    print({ event: 'took', item: decoder.decode(item) })
  }
}

print({ event: 'ready', sessionId: client.sessionId.toString() })
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk: string) => {
  if (chunk.includes('"go"'))
    void consume().catch((err: unknown) => {
      if (!stop.signal.aborted) print({ event: 'error', message: String(err) })
    })
})
process.stdin.on('end', () => {
  stop.abort()
  void client.close().finally(() => process.exit(0))
})
