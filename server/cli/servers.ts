/**
 * Which servers the client-side commands (`conclave shell`, `conclave status`) talk to,
 * and the parsing of such a list.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** DEFAULT_SERVERS are the members `npm start` (`conclave ensemble --size 3`) runs; the SDK uses any of them. */
export const DEFAULT_SERVERS = '127.0.0.1:2281,127.0.0.1:2282,127.0.0.1:2283'

/** SERVERS_ENV is the environment variable that gives the client-side commands their `--servers` default. */
export const SERVERS_ENV = 'CONCLAVE_SERVERS'

/**
 * CONNECTION_FILE_NAME is the file `conclave ensemble` writes in the directory it is
 * started from, naming its members, so `shell` and `status` run from that directory
 * find them whatever `--base-port` was.
 */
export const CONNECTION_FILE_NAME = '.conclave-servers'

/** ServerList is a `--servers` value and where it came from, for messages. */
export interface ServerList {
  servers: string
  /** source names where the list was found: `--servers`, `$CONCLAVE_SERVERS`, the file, or the default. */
  source: string
}

/**
 * readConnectionFile returns the server list in a connection file, or undefined if
 * there is none (or it names nothing). Lines starting with `#` are comments; the other
 * lines are joined with commas.
 */
export function readConnectionFile(path: string): string | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
  const list = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .join(',')
  return list === '' ? undefined : list
}

/** formatConnectionFile is the text of a connection file for `servers`, with a comment saying who wrote it. */
export function formatConnectionFile(servers: string, writtenBy: string): string {
  return `# ${writtenBy}; read by conclave shell and conclave status run from this directory\n${servers}\n`
}

/**
 * resolveServers picks the servers, first found wins: the `--servers` flag, then
 * $CONCLAVE_SERVERS (when not blank), then `.conclave-servers` in `cwd` (written by
 * `conclave ensemble`), then DEFAULT_SERVERS, the members `npm start` runs.
 */
export function resolveServers(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): ServerList {
  if (flag !== undefined) return { servers: flag, source: '--servers' }
  const fromEnv = env[SERVERS_ENV]?.trim()
  if (fromEnv !== undefined && fromEnv !== '')
    return { servers: fromEnv, source: `$${SERVERS_ENV}` }
  const fromFile = readConnectionFile(join(cwd, CONNECTION_FILE_NAME))
  if (fromFile !== undefined) return { servers: fromFile, source: `./${CONNECTION_FILE_NAME}` }
  return { servers: DEFAULT_SERVERS, source: 'the default, the members npm start runs' }
}

/** SERVERS_DESCRIPTION is the help text of `--servers`. */
export const SERVERS_DESCRIPTION = `comma-separated server addresses. Without it: $${SERVERS_ENV}, else ./${CONNECTION_FILE_NAME} (written by conclave ensemble), else ${DEFAULT_SERVERS} (npm start's members)`

/**
 * parseServers turns `host:port,ws://host:port,...` into WebSocket URLs. A bare
 * `host:port` gets `ws://`.
 */
export function parseServers(list: string): string[] {
  const servers = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/^wss?:\/\//.test(s) ? s : `ws://${s}`))
  if (servers.length === 0) throw new Error('--servers names no server')
  for (const server of servers) {
    try {
      new URL(server)
    } catch {
      throw new Error(`--servers: '${server}' is not a valid address`)
    }
  }
  return servers
}

/** httpUrlFor maps a server's WebSocket URL to its HTTP endpoint `path` on the same port. */
export function httpUrlFor(server: string, path: string): string {
  const url = new URL(server)
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:'
  url.pathname = path
  return url.toString()
}
