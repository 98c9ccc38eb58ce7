/**
 * `conclave status`: each server's role, zxid, sessions, znodes, watches and
 * connections, read from its `GET /status`.
 */
import type { CommandModule } from 'yargs'
import { DEFAULT_SERVERS, httpUrlFor, parseServers } from './servers.js'

interface StatusArgs {
  servers: string
  json?: boolean
}

const COLUMNS = ['server', 'id', 'role', 'zxid', 'sessions', 'znodes', 'watches', 'connections'] as const

/** fetchStatus reads one server's /status, or describes why it could not. */
async function fetchStatus(server: string): Promise<Record<string, unknown>> {
  try {
    const response = await fetch(httpUrlFor(server, '/status'), { signal: AbortSignal.timeout(3000) })
    if (!response.ok) return { server, role: `error: HTTP ${response.status}` }
    return { server, ...((await response.json()) as Record<string, unknown>) }
  } catch (err) {
    return { server, role: `unreachable (${(err as Error).message})` }
  }
}

/** statusCommand is the yargs module for `conclave status`. */
export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status',
  describe: 'show the state of each server',
  builder: (y) =>
    y
      .option('servers', { type: 'string', default: DEFAULT_SERVERS, describe: 'comma-separated server addresses' })
      .option('json', { type: 'boolean', describe: 'print JSON instead of a table' }),
  handler: async (args) => {
    const statuses = await Promise.all(parseServers(args.servers).map(fetchStatus))
    if (args.json === true) {
      process.stdout.write(JSON.stringify(statuses, null, 2) + '\n')
    } else {
      const rows = statuses.map((s) => COLUMNS.map((c) => (s[c] === undefined ? '-' : String(s[c]))))
      const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)))
      const line = (cells: readonly string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()
      process.stdout.write([line(COLUMNS), ...rows.map(line)].join('\n') + '\n')
    }
    if (statuses.some((s) => String(s.role).startsWith('unreachable') || String(s.role).startsWith('error'))) process.exitCode = 1
  },
}
