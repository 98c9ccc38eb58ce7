/**
 * `conclave status`: each server's role, epoch, zxids, lag, sessions, znodes and
 * connections, read from its `GET /status`.
 */
import type { CommandModule } from 'yargs'
import { SERVERS_DESCRIPTION, defaultServers, httpUrlFor, parseServers } from './servers.js'
import { formatStatusTable, type MemberStatus } from './status-table.js'

interface StatusArgs {
  servers: string
  json?: boolean
}

/** fetchStatus reads one server's /status, or describes why it could not. */
async function fetchStatus(server: string): Promise<MemberStatus> {
  try {
    const response = await fetch(httpUrlFor(server, '/status'), {
      signal: AbortSignal.timeout(3000),
    })
    if (!response.ok) return { server, role: `error: HTTP ${response.status}` }
    return { server, ...((await response.json()) as Record<string, unknown>) }
  } catch (err) {
    return { server, role: `unreachable (${fetchFailure(err)})` }
  }
}

/**
 * fetchFailure names why a request failed: fetch itself only says "fetch failed", the
 * reason (ECONNREFUSED, a timeout, a certificate) is in its cause.
 */
function fetchFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  if (err.name === 'TimeoutError') return 'no answer within 3 s'
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined
  if (cause === undefined) return err.message
  const code = typeof cause.code === 'string' ? cause.code : undefined
  const message = typeof cause.message === 'string' ? cause.message : undefined
  return [code, message].filter((part) => part !== undefined).join(': ') || err.message
}

/** statusCommand is the yargs module for `conclave status`. */
export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status',
  describe:
    'show the state of each server (role, epoch, zxids, lag, sessions, znodes, connections)',
  builder: (y) =>
    y
      .option('servers', {
        type: 'string',
        default: defaultServers(),
        describe: SERVERS_DESCRIPTION,
      })
      .option('json', { type: 'boolean', describe: 'print JSON instead of a table' }),
  handler: async (args) => {
    const statuses = await Promise.all(parseServers(args.servers).map(fetchStatus))
    if (args.json === true) {
      process.stdout.write(JSON.stringify(statuses, null, 2) + '\n')
    } else {
      process.stdout.write(formatStatusTable(statuses))
    }
    if (
      statuses.some(
        (s) => String(s.role).startsWith('unreachable') || String(s.role).startsWith('error'),
      )
    )
      process.exitCode = 1
  },
}
