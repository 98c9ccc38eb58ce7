/**
 * A watch stream reader in its own process, for the test that kills it and resumes its
 * stream in a new process (a new session) from the last zxid it printed.
 * Args: {"servers": [...], "path": "/x", "fromZxid": "123"?}. Prints {"event":"ready"}
 * once the stream is registered, then one {"event":"change", type, path, zxid} line per
 * event (zxid as a decimal string, so JSON keeps it whole).
 */
import { connect } from '../../client/index.js'

interface Args {
  servers: string[]
  path: string
  fromZxid?: string
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args
const print = (line: Record<string, unknown>) => process.stdout.write(JSON.stringify(line) + '\n')

const client = await connect({ servers: args.servers, sessionTimeoutMs: 5000 })
const stream = client.watch(args.path, {
  recursive: true,
  ...(args.fromZxid === undefined ? {} : { fromZxid: BigInt(args.fromZxid) }),
})
// The addWatch is on the wire ahead of this sync: when it answers, the stream is registered.
await client.sync('/')
print({ event: 'ready', sessionId: client.sessionId.toString(16), serverId: client.serverId })
for await (const event of stream) {
  print({
    event: 'change',
    type: event.type,
    path: event.path,
    zxid: event.zxid.toString(),
    ...(event.oldestZxid === undefined ? {} : { oldestZxid: event.oldestZxid.toString() }),
  })
}
