/**
 * `conclave status`: each server's role, epoch, zxids, lag, sessions, znodes and
 * connections, read from its `GET /status`.
 */
import { readFileSync } from 'node:fs'
import type { CommandModule } from 'yargs'
import type { TlsOptions } from '../../client/index.js'
import {
  clientTlsOptions,
  getJson,
  withClientTlsFlags,
  type ClientTlsFlags,
} from './client-tls-flags.js'
import { SERVERS_DESCRIPTION, httpUrlFor, parseServers, resolveServers } from './servers.js'
import { formatStatusTable, type MemberStatus } from './status-table.js'

interface StatusArgs extends ClientTlsFlags {
  servers?: string
  'admin-token-file'?: string
  json?: boolean
}

/** fetchStatus reads one server's /status, or describes why it could not. */
async function fetchStatus(
  server: string,
  tls: TlsOptions | undefined,
  headers: Record<string, string>,
): Promise<MemberStatus> {
  try {
    const reply = await getJson(httpUrlFor(server, '/status'), { tls, headers, timeoutMs: 3000 })
    if (reply.status !== 200) return { server, role: `error: HTTP ${reply.status}` }
    return { server, ...(reply.body as Record<string, unknown>) }
  } catch (err) {
    return { server, role: `unreachable (${fetchFailure(err)})` }
  }
}

/**
 * fetchFailure names why a request failed, with the cause where the error hides it
 * behind a generic message (as fetch's "fetch failed" does): ECONNREFUSED, a timeout, a
 * certificate.
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
    withClientTlsFlags(y)
      .option('servers', { type: 'string', describe: SERVERS_DESCRIPTION })
      .option('json', { type: 'boolean', describe: 'print JSON instead of a table' })
      .option('admin-token-file', {
        type: 'string',
        describe: "file holding the servers' admin token (adminAccess: token)",
      }),
  handler: async (args) => {
    const tls = clientTlsOptions(args)
    const tokenFile = args['admin-token-file']
    const headers: Record<string, string> =
      tokenFile === undefined
        ? {}
        : { authorization: `Bearer ${readFileSync(tokenFile, 'utf8').replace(/\r?\n$/, '')}` }
    const { servers, source } = resolveServers(args.servers)
    const statuses = await Promise.all(
      parseServers(servers).map((server) => fetchStatus(server, tls, headers)),
    )
    if (args.json === true) {
      process.stdout.write(JSON.stringify(statuses, null, 2) + '\n')
    } else {
      process.stdout.write(formatStatusTable(statuses))
    }
    if (
      statuses.some(
        (s) => String(s.role).startsWith('unreachable') || String(s.role).startsWith('error'),
      )
    ) {
      process.exitCode = 1
      // Which list was asked, when the user did not name it: a stale file is a likely cause.
      if (args.servers === undefined) process.stderr.write(`(servers from ${source})\n`)
    }
  },
}
