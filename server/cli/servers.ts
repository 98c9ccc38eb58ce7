/**
 * Parsing of the `--servers` option shared by the client-side commands.
 */

/** DEFAULT_SERVERS are the members `npm start` (`conclave ensemble --size 3`) runs; the SDK uses any of them. */
export const DEFAULT_SERVERS = '127.0.0.1:2281,127.0.0.1:2282,127.0.0.1:2283'

/** SERVERS_ENV is the environment variable that gives the client-side commands their `--servers` default. */
export const SERVERS_ENV = 'CONCLAVE_SERVERS'

/** defaultServers is the `--servers` default: $CONCLAVE_SERVERS when set and not blank, else DEFAULT_SERVERS. */
export function defaultServers(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[SERVERS_ENV]?.trim()
  return fromEnv === undefined || fromEnv === '' ? DEFAULT_SERVERS : fromEnv
}

/** SERVERS_DESCRIPTION is the help text of `--servers`. */
export const SERVERS_DESCRIPTION = `comma-separated server addresses (default: $${SERVERS_ENV}, else the members npm start runs)`

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
