/**
 * Connect options: what a user may pass to `connect()`, checked and turned into the
 * settings the engine runs with. A bad option is a BadArgumentsError before any socket
 * is opened.
 */
import { pathProblem } from '../protocol/index.js'
import { SYSTEM_CLOCK, type Clock, type ClientInternals } from './clock.js'
import type { Logger } from './connection.js'
import { BadArgumentsError } from './errors.js'
import { livenessSettings, type LivenessOptions } from './liveness.js'
import type { TlsOptions } from './transport.js'

/** ConnectOptions configure a client. */
export interface ConnectOptions {
  /** servers are WebSocket URLs (ws:// or wss://) of ensemble members, tried in random order. */
  servers: string[]
  /** sessionTimeoutMs is the session timeout asked for (the server clamps it). Default 10 s. */
  sessionTimeoutMs?: number
  /** chroot makes every path relative to this node; it is '/' to the user. */
  chroot?: string
  /** connectTimeoutMs bounds `connect()`. Default: the session timeout. */
  connectTimeoutMs?: number
  /** requestTimeoutMs is each call's default deadline, waiting for a connection included. Default: the session timeout. */
  requestTimeoutMs?: number
  /**
   * pingIntervalMs: while a call waits for its reply and nothing has been received for
   * this long, the client pings the server. Default: a third of the session timeout, at
   * most 500 ms. (An idle client pings once a third of the session timeout has passed
   * without sending, whatever this is.)
   */
  pingIntervalMs?: number
  /**
   * pingTimeoutMs: a ping that gets nothing back within this long ends the connection and
   * the session moves to another server. Default: a third of the session timeout, at most
   * 1 s; also the first time a server gets to accept a connection. Raise it for links
   * where a large reply can take longer than this to arrive.
   */
  pingTimeoutMs?: number
  /** signal aborts `connect()`. */
  signal?: AbortSignal
  /** logger receives the SDK's diagnostics; silent by default. */
  logger?: Logger
  /**
   * auth lists identities to add to every connection, before any other request (as
   * `addAuth` does), e.g. `[{ scheme: 'digest', credentials: 'user:password' }]`.
   */
  auth?: AuthInfo[]
  /**
   * tls: for wss:// servers, the CA to trust (`ca`, PEM) instead of the system's, and a
   * client certificate and key (`cert`, `key`) for servers that ask for one. Node.js only.
   */
  tls?: TlsOptions
}

/** AuthInfo is one set of credentials: scheme `digest` with `user:password`. */
export interface AuthInfo {
  scheme: string
  credentials: string
}

/** ClientSettings are the checked options with every default filled in. */
export interface ClientSettings {
  servers: string[]
  /** auth is the credentials sent on every connection first. */
  auth: AuthInfo[]
  sessionTimeoutMs: number
  chroot: string
  connectTimeoutMs: number
  requestTimeoutMs: number
  /** handshakeTimeoutMs bounds one attempt on one server, after that server let earlier ones time out. */
  handshakeTimeoutMs: number
  /** minHandshakeTimeoutMs, firstHandshakeTimeoutMs: a server's time to answer the handshake (see client/server-list.ts). */
  minHandshakeTimeoutMs: number
  firstHandshakeTimeoutMs: number
  /** serverSuspectMs is how long a server that stopped answering is skipped while others can be tried. */
  serverSuspectMs: number
  /** liveness holds the user's ping overrides (the rest follows the negotiated timeout). */
  liveness: LivenessOptions
  backoffCapMs: number
  closeTimeoutMs: number
  logger: Logger
  /** tls is ConnectOptions.tls as given. */
  tls: TlsOptions | undefined
  /** clock is the system clock unless the SDK's tests replace it (ClientInternals). */
  clock: Clock
}

/** DEFAULT_SESSION_TIMEOUT_MS is the session timeout asked for when none is given. */
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000
/** BACKOFF_CAP_MS caps the pause between rounds through the server list. */
const BACKOFF_CAP_MS = 1000
/** CLOSE_TIMEOUT_MS bounds close()'s wait for the server to confirm closeSession (or requestTimeoutMs if shorter). */
const CLOSE_TIMEOUT_MS = 2000
/** HANDSHAKE_MIN_MS is the shortest time one server is given to accept a connection. */
const HANDSHAKE_MIN_MS = 250

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} }

/** clientSettings checks `options` and fills in defaults (`internals` only in the SDK's tests); throws BadArgumentsError. */
export function clientSettings(
  options: ConnectOptions,
  internals: ClientInternals = {},
): ClientSettings {
  const servers = options.servers as unknown
  if (!Array.isArray(servers) || servers.length === 0)
    throw new BadArgumentsError('servers must list at least one ws:// or wss:// URL')
  for (const server of servers) {
    if (typeof server !== 'string' || !/^wss?:\/\/[^/]/.test(server))
      throw new BadArgumentsError(`server ${JSON.stringify(server)} is not a ws:// or wss:// URL`)
  }
  const auth = (options.auth ?? []) as unknown
  if (
    !Array.isArray(auth) ||
    !auth.every(
      (a: unknown) =>
        typeof a === 'object' &&
        a !== null &&
        typeof (a as AuthInfo).scheme === 'string' &&
        typeof (a as AuthInfo).credentials === 'string',
    )
  )
    // The message never quotes the value: it holds passwords.
    throw new BadArgumentsError('auth must list { scheme, credentials } strings')
  const sessionTimeoutMs =
    positiveMs('sessionTimeoutMs', options.sessionTimeoutMs) ?? DEFAULT_SESSION_TIMEOUT_MS
  const connectTimeoutMs =
    positiveMs('connectTimeoutMs', options.connectTimeoutMs) ?? sessionTimeoutMs
  const requestTimeoutMs =
    positiveMs('requestTimeoutMs', options.requestTimeoutMs) ?? sessionTimeoutMs
  const liveness: LivenessOptions = {}
  const pingIntervalMs = positiveMs('pingIntervalMs', options.pingIntervalMs)
  if (pingIntervalMs !== undefined) liveness.pingIntervalMs = pingIntervalMs
  const pingTimeoutMs = positiveMs('pingTimeoutMs', options.pingTimeoutMs)
  if (pingTimeoutMs !== undefined) liveness.pingTimeoutMs = pingTimeoutMs
  // ZooKeeper gives each server sessionTimeout / serverCount, so a black-holed server
  // cannot eat the whole session timeout before the others are tried.
  const handshakeTimeoutMs = Math.max(
    HANDSHAKE_MIN_MS,
    Math.min(connectTimeoutMs, sessionTimeoutMs / Math.max(2, servers.length)),
  )
  // Before any server has answered, a first try gets the time a live server has to
  // answer a ping; later a few times the slowest answer seen (server-list.ts).
  const firstHandshakeTimeoutMs = Math.min(
    handshakeTimeoutMs,
    Math.max(HANDSHAKE_MIN_MS, livenessSettings(sessionTimeoutMs, liveness).pingTimeoutMs),
  )
  return {
    auth: (auth as AuthInfo[]).map((a) => ({ scheme: a.scheme, credentials: a.credentials })),
    servers: [...(servers as string[])],
    sessionTimeoutMs,
    chroot: checkedChroot(options.chroot),
    connectTimeoutMs,
    requestTimeoutMs,
    handshakeTimeoutMs,
    minHandshakeTimeoutMs: Math.min(HANDSHAKE_MIN_MS, firstHandshakeTimeoutMs),
    firstHandshakeTimeoutMs,
    serverSuspectMs: sessionTimeoutMs / 3,
    liveness,
    backoffCapMs: BACKOFF_CAP_MS,
    closeTimeoutMs: Math.min(CLOSE_TIMEOUT_MS, requestTimeoutMs),
    logger: options.logger ?? SILENT,
    tls: options.tls,
    clock: internals.clock ?? SYSTEM_CLOCK,
  }
}

/** checkedChroot returns the chroot prefix ('' for none or '/'). */
function checkedChroot(chroot: string | undefined): string {
  if (chroot === undefined || chroot === '/') return ''
  const problem = pathProblem(chroot)
  if (problem !== null)
    throw new BadArgumentsError(`invalid chroot ${JSON.stringify(chroot)}: ${problem}`, {
      path: chroot,
    })
  return chroot
}

/** positiveMs checks an optional duration option. */
export function positiveMs(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new BadArgumentsError(
      `${name} must be a positive number of milliseconds, got ${String(value)}`,
    )
  return value
}
