/**
 * ServerConfig: everything one server needs, with the defaults of design.md §11, and
 * the validation that turns a bad config file or flag into a ConfigError naming the
 * setting, never a stack trace.
 */
import {
  DATA_BYTES_MAX,
  FRAME_HEADROOM_BYTES,
  SESSION_TIMEOUT_MAX_MS,
  SESSION_TIMEOUT_MIN_MS,
} from '../../protocol/index.js'
import { DEFAULT_HANDSHAKE_LIMITS } from '../net/peer-options.js'
import type { TxnBuilderOptions } from '../requests/index.js'
import { TLS_KEYS, resolveTlsSettings, type TlsSettings } from './tls-config.js'
import { ADMIN_KEYS, resolveAdminSettings, type AdminSettings } from './admin-config.js'

/** MemberAddress is one ensemble member as every member's config lists it. */
export interface MemberAddress {
  id: number
  /** host is where the other members and clients reach this member (its advertised address). */
  host: string
  clientPort: number
  peerPort: number
}

/** EnsembleSettings are present when the server is a member of an ensemble of two or more. */
export interface EnsembleSettings {
  /** members are sorted by id, this server included; ids are unique in 1-255. */
  members: MemberAddress[]
  /** peerPort is the port the peer listener binds to (default: this member's entry's peerPort; 0 picks a free one). */
  peerPort: number
  /** secretFile is the shared secret's path; the runtime reads it at start (readSecretFile), resolveConfig does not. */
  secretFile: string
  /** ensembleId is an optional name for the ensemble, default ''. */
  ensembleId: string
  /** dialAddresses maps a member id to where to dial it instead of its advertised address (NAT, fault proxies in tests). */
  dialAddresses: Map<number, { host: string; port: number }>
}

/** ServerConfig is one server's settings. Times are in ms unless the name says ticks. */
export interface ServerConfig {
  /** id is this server's id, 1-255; it is the top byte of the session ids it creates. */
  id: number
  /** host is the address the client port binds to. */
  host: string
  /** clientPort is the port for clients (WebSocket) and HTTP (/health, /status); 0 picks a free one. */
  clientPort: number
  /** dataDir is where the server keeps its data (made durable by the storage layer). */
  dataDir: string
  /** tickMs is the length of one logical tick: session expiry and timeouts count in ticks. */
  tickMs: number
  minSessionTimeoutMs: number
  maxSessionTimeoutMs: number
  /** maxDataBytes is the largest znode payload accepted. */
  maxDataBytes: number
  /**
   * maxEphemeralsPerSession is the most ephemerals one session may own; past it a create
   * gets QUOTA_EXCEEDED. Independently, a session's ephemeral paths must fit its
   * closeSession txn within the txn limit (txnBytesMaxFor).
   */
  maxEphemeralsPerSession: number
  /** reapEveryTicks is how often empty containers and expired TTL nodes are looked for. */
  reapEveryTicks: number
  /** snapshotEveryTxns is how many logged txns trigger a snapshot. */
  snapshotEveryTxns: number
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /** ensemble is undefined for a standalone server (no `members`, or a list of one). */
  ensemble: EnsembleSettings | undefined
  /** leaderTimeoutTicks is the silence after which a follower leaves its leader and a leader without a quorum steps down. */
  leaderTimeoutTicks: number
  /** initTimeoutTicks bounds discovery plus synchronization with a new leader. */
  initTimeoutTicks: number
  /** diffLimitTxns is the most txns a DIFF or TRUNC carries, and how many committed txns stay in memory. */
  diffLimitTxns: number
  /** diffLimitBytes bounds the same in-memory txns by their bytes: a member keeps at most this much of its committed log for DIFFs. */
  diffLimitBytes: number
  /** watchWindowChanges is how many recent committed changes a member keeps for watches that resume from a position. */
  watchWindowChanges: number
  /** watchWindowBytes bounds the same window by its estimated memory. */
  watchWindowBytes: number
  /** maxConnections bounds the client connections one member holds at once; more are closed with 1013. */
  maxConnections: number
  /** maxConnectionsPerAddress bounds the client connections from one IP address (ZooKeeper's maxClientCnxns). */
  maxConnectionsPerAddress: number
  /** maxSessionCreatesPerSecond is the rate of new sessions one member opens (a token bucket holding one second's worth); past it connects get THROTTLED. */
  maxSessionCreatesPerSecond: number
  /** maxWatchesPerSession bounds the watches one session's connection holds; past it a watch is refused with QUOTA_EXCEEDED. */
  maxWatchesPerSession: number
  /** maxOutstandingRequests is how many requests of one connection may wait for their reply before the member stops reading it. */
  maxOutstandingRequests: number
  /** connectionBufferedBytesSoft: past this many bytes queued for a client, the member stops reading its requests and computing its reads. */
  connectionBufferedBytesSoft: number
  /** connectionBufferedBytesMax: past this many bytes queued for a client, the member closes the connection (1008). */
  connectionBufferedBytesMax: number
  /** connectionStalledMaxMs is how long a connection may stay over the soft mark (its client not reading) before it is closed (1008). */
  connectionStalledMaxMs: number
  /**
   * connectionWriteBytesInFlightMax: past this many bytes of one connection's write
   * requests proposed and not yet applied, the member stops reading it until half are
   * applied — so every other client's write waits behind at most this much of it.
   */
  connectionWriteBytesInFlightMax: number
  /** peerHandshakeTimeoutMs is how long an inbound peer connection has, from its TCP accept, to authenticate (and a dial to succeed). */
  peerHandshakeTimeoutMs: number
  /** peerHandshakesPerAddressMax bounds unauthenticated peer connections from one address that is not a member's. */
  peerHandshakesPerAddressMax: number
  /** peerMemberHandshakesPerAddressMax bounds unauthenticated peer connections from one member's address (the members' reserve). */
  peerMemberHandshakesPerAddressMax: number
  /** peerStrangerHandshakesMax bounds unauthenticated peer connections from all non-member addresses together. */
  peerStrangerHandshakesMax: number
  /** diskFullRetryMs is how often a write that failed on a full disk (ENOSPC/EDQUOT) is retried while the member stays out of the ensemble. */
  diskFullRetryMs: number
  /**
   * superDigest names the super user as `user:base64(sha1(user:password))` (ZooKeeper's
   * DigestAuthenticationProvider.superDigest); a connection that authenticates with
   * that digest passes every ACL. Empty: no super user.
   */
  superDigest: string
  /** tls says which ports speak TLS and with which files (tls-config.ts). */
  tls: TlsSettings
  /** admin says who may read /status (admin-config.ts). */
  admin: AdminSettings
}

/** DEFAULT_CONFIG holds the defaults for every optional setting. */
export const DEFAULT_CONFIG: Omit<ServerConfig, 'dataDir' | 'ensemble' | 'tls' | 'admin'> = {
  id: 1,
  host: '127.0.0.1',
  clientPort: 2281,
  tickMs: 100,
  minSessionTimeoutMs: SESSION_TIMEOUT_MIN_MS,
  maxSessionTimeoutMs: SESSION_TIMEOUT_MAX_MS,
  maxDataBytes: DATA_BYTES_MAX,
  maxEphemeralsPerSession: 10_000,
  reapEveryTicks: 10,
  snapshotEveryTxns: 100_000,
  logLevel: 'info',
  leaderTimeoutTicks: 10,
  initTimeoutTicks: 100,
  diffLimitTxns: 1000,
  diffLimitBytes: 64 * 1024 * 1024,
  watchWindowChanges: 100_000,
  watchWindowBytes: 16 * 1024 * 1024,
  maxConnections: 1000,
  maxConnectionsPerAddress: 256,
  maxSessionCreatesPerSecond: 1000,
  maxWatchesPerSession: 100_000,
  maxOutstandingRequests: 1000,
  connectionBufferedBytesSoft: 4 * 1024 * 1024,
  connectionBufferedBytesMax: 32 * 1024 * 1024,
  connectionStalledMaxMs: 30_000,
  connectionWriteBytesInFlightMax: 2 * 1024 * 1024,
  peerHandshakeTimeoutMs: DEFAULT_HANDSHAKE_LIMITS.handshakeTimeoutMs,
  peerHandshakesPerAddressMax: DEFAULT_HANDSHAKE_LIMITS.handshakesPerAddressMax,
  peerMemberHandshakesPerAddressMax: DEFAULT_HANDSHAKE_LIMITS.memberHandshakesPerAddressMax,
  peerStrangerHandshakesMax: DEFAULT_HANDSHAKE_LIMITS.strangerHandshakesMax,
  diskFullRetryMs: 1000,
  superDigest: '',
}

/** ENSEMBLE_KEYS are the config keys that describe the ensemble (JSON file keys). */
export const ENSEMBLE_KEYS = [
  'members',
  'peerPort',
  'secretFile',
  'ensembleId',
  'dialAddresses',
] as const

/** SERVER_ID_MAX is the largest server id: ids fit the top byte of a session id. */
const SERVER_ID_MAX = 255

/** HOST_LENGTH_MAX bounds a host name (DNS names are at most 253 characters). */
const HOST_LENGTH_MAX = 253

/** ENSEMBLE_ID_LENGTH_MAX bounds the ensemble's name. */
const ENSEMBLE_ID_LENGTH_MAX = 128

/** ConfigError is a setting that is missing or invalid; its message names the setting. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

function integer(
  source: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
  fallback?: number,
): number {
  const value = source[key] ?? fallback
  if (value === undefined) throw new ConfigError(`missing setting '${key}'`)
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(
      `setting '${key}' must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`,
    )
  }
  return n
}

function text(source: Record<string, unknown>, key: string, fallback?: string): string {
  const value = source[key] ?? fallback
  if (value === undefined) throw new ConfigError(`missing setting '${key}'`)
  if (typeof value !== 'string' || value.length === 0)
    throw new ConfigError(`setting '${key}' must be a non-empty string`)
  return value
}

/** superDigest checks the super user's digest: empty, or `user:base64(sha1)` (a 28-character hash). */
function superDigest(value: unknown): string {
  if (value === undefined || value === '') return ''
  // The message never quotes the value: it is a credential hash.
  if (typeof value !== 'string' || !/^[^:]+:[A-Za-z0-9+/]{27}=$/.test(value))
    throw new ConfigError(
      `setting 'superDigest' must be user:base64(sha1(user:password)) (see docs/operations.md)`,
    )
  return value
}

/** isRecord is a plain JSON object (not null, not an array). */
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** hostName checks a host name or address given under `key`. */
function hostName(value: unknown, key: string): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > HOST_LENGTH_MAX ||
    /\s/.test(value)
  ) {
    throw new ConfigError(
      `setting '${key}' must be a host name or address of 1-${HOST_LENGTH_MAX} characters without spaces, got ${JSON.stringify(value)}`,
    )
  }
  return value
}

const MEMBER_KEYS = ['id', 'host', 'clientPort', 'peerPort']

/** parseMembers checks the `members` list and returns it sorted by id. */
function parseMembers(value: unknown): MemberAddress[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ConfigError(
      `setting 'members' must be a non-empty list of {id, host, clientPort, peerPort}`,
    )
  }
  const members = value.map((entry: unknown, index): MemberAddress => {
    const at = `members[${index}]`
    if (!isRecord(entry))
      throw new ConfigError(`setting '${at}' must be an object {id, host, clientPort, peerPort}`)
    for (const key of Object.keys(entry)) {
      if (!MEMBER_KEYS.includes(key))
        throw new ConfigError(`unknown setting '${at}.${key}' (known: ${MEMBER_KEYS.join(', ')})`)
    }
    const prefixed: Record<string, unknown> = {}
    for (const key of MEMBER_KEYS) prefixed[`${at}.${key}`] = entry[key]
    return {
      id: integer(prefixed, `${at}.id`, 1, SERVER_ID_MAX),
      host: hostName(entry.host, `${at}.host`),
      // Advertised ports are what others dial, so 0 ("any free port") makes no sense here.
      clientPort: integer(prefixed, `${at}.clientPort`, 1, 65535),
      peerPort: integer(prefixed, `${at}.peerPort`, 1, 65535),
    }
  })
  const ids = new Set<number>()
  const addresses = new Map<string, string>()
  for (const m of members) {
    if (ids.has(m.id)) throw new ConfigError(`setting 'members': id ${m.id} appears twice`)
    ids.add(m.id)
    // Two members advertising one address would dial themselves or fight over a port.
    for (const [kind, port] of [
      ['clientPort', m.clientPort],
      ['peerPort', m.peerPort],
    ] as const) {
      const address = `${m.host.toLowerCase()}:${port}`
      const other = addresses.get(address)
      if (other !== undefined)
        throw new ConfigError(
          `setting 'members': member ${m.id}'s ${kind} ${address} is already ${other}`,
        )
      addresses.set(address, `member ${m.id}'s ${kind}`)
    }
  }
  return members.sort((a, b) => a.id - b.id)
}

/** parseHostPort reads `host:port` or `[ipv6]:port`. */
function parseHostPort(value: unknown, key: string): { host: string; port: number } {
  const match =
    typeof value === 'string' ? /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value) : null
  const port = match === null ? NaN : Number(match[3])
  if (match === null || port < 1 || port > 65535) {
    throw new ConfigError(
      `setting '${key}' must be 'host:port' with a port in [1, 65535], got ${JSON.stringify(value)}`,
    )
  }
  return { host: hostName(match[1] ?? match[2], key), port }
}

/** parseDialAddresses reads the `dialAddresses` object (member id -> 'host:port'). */
function parseDialAddresses(
  value: unknown,
  members: readonly MemberAddress[],
): Map<number, { host: string; port: number }> {
  const dial = new Map<number, { host: string; port: number }>()
  if (value === undefined) return dial
  if (!isRecord(value))
    throw new ConfigError(
      `setting 'dialAddresses' must be an object mapping member ids to 'host:port'`,
    )
  for (const [key, address] of Object.entries(value)) {
    const id = /^\d+$/.test(key) ? Number(key) : NaN
    if (!members.some((m) => m.id === id)) {
      throw new ConfigError(
        `setting 'dialAddresses.${key}': '${key}' is not the id of a member (members: ${members.map((m) => m.id).join(', ')})`,
      )
    }
    dial.set(id, parseHostPort(address, `dialAddresses.${key}`))
  }
  return dial
}

/**
 * resolveEnsemble reads the ensemble keys. It returns undefined for a standalone server
 * (no `members`, or a list of one), and the member this server is, when listed.
 */
function resolveEnsemble(
  raw: Record<string, unknown>,
  id: number,
): { ensemble: EnsembleSettings | undefined; self: MemberAddress | undefined } {
  // Checked even when unused, so a typo fails now rather than on the day a member is added.
  const peerPort = raw.peerPort === undefined ? undefined : integer(raw, 'peerPort', 0, 65535)
  if (raw.secretFile !== undefined) text(raw, 'secretFile')
  if (
    raw.ensembleId !== undefined &&
    (typeof raw.ensembleId !== 'string' || raw.ensembleId.length > ENSEMBLE_ID_LENGTH_MAX)
  ) {
    throw new ConfigError(
      `setting 'ensembleId' must be a string of at most ${ENSEMBLE_ID_LENGTH_MAX} characters`,
    )
  }
  if (raw.members === undefined) {
    if (raw.dialAddresses !== undefined)
      throw new ConfigError(`setting 'dialAddresses' needs a 'members' list`)
    return { ensemble: undefined, self: undefined }
  }
  const members = parseMembers(raw.members)
  const self = members.find((m) => m.id === id)
  if (self === undefined) {
    throw new ConfigError(
      `setting 'id': this server's id ${id} is not in 'members' (${members.map((m) => m.id).join(', ')})`,
    )
  }
  const dialAddresses = parseDialAddresses(raw.dialAddresses, members)
  if (members.length === 1) return { ensemble: undefined, self }
  if (raw.secretFile === undefined) {
    throw new ConfigError(
      `missing setting 'secretFile': an ensemble of ${members.length} members needs a shared secret file`,
    )
  }
  return {
    ensemble: {
      members,
      peerPort: peerPort ?? self.peerPort,
      secretFile: text(raw, 'secretFile'),
      ensembleId: raw.ensembleId ?? '',
      dialAddresses,
    },
    self,
  }
}

/** KNOWN_KEYS are every top-level key a config file may hold. */
const KNOWN_KEYS: readonly string[] = [
  ...Object.keys(DEFAULT_CONFIG),
  'dataDir',
  ...ENSEMBLE_KEYS,
  ...TLS_KEYS,
  ...ADMIN_KEYS,
].sort()

/**
 * resolveConfig validates raw settings (from a JSON file and flags merged by the CLI)
 * and fills in defaults. Unknown keys are refused so a typo does not go unnoticed.
 * A member list of two or more makes an ensemble member; this server's entry in it
 * supplies `clientPort` unless that is given at top level.
 */
export function resolveConfig(raw: Record<string, unknown>): ServerConfig {
  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.includes(key))
      throw new ConfigError(`unknown setting '${key}' (known: ${KNOWN_KEYS.join(', ')})`)
  }
  const d = DEFAULT_CONFIG
  const id = integer(raw, 'id', 1, SERVER_ID_MAX, d.id)
  const { ensemble, self } = resolveEnsemble(raw, id)
  const config: ServerConfig = {
    id,
    host: hostName(raw.host ?? d.host, 'host'),
    clientPort: integer(raw, 'clientPort', 0, 65535, self?.clientPort ?? d.clientPort),
    dataDir: text(raw, 'dataDir'),
    tickMs: integer(raw, 'tickMs', 1, 60_000, d.tickMs),
    minSessionTimeoutMs: integer(raw, 'minSessionTimeoutMs', 1, 2 ** 31 - 1, d.minSessionTimeoutMs),
    maxSessionTimeoutMs: integer(raw, 'maxSessionTimeoutMs', 1, 2 ** 31 - 1, d.maxSessionTimeoutMs),
    maxDataBytes: integer(raw, 'maxDataBytes', 0, 64 * 1024 * 1024, d.maxDataBytes),
    maxEphemeralsPerSession: integer(
      raw,
      'maxEphemeralsPerSession',
      1,
      10_000_000,
      d.maxEphemeralsPerSession,
    ),
    reapEveryTicks: integer(raw, 'reapEveryTicks', 1, 1_000_000, d.reapEveryTicks),
    snapshotEveryTxns: integer(raw, 'snapshotEveryTxns', 1, 1_000_000_000, d.snapshotEveryTxns),
    logLevel: text(raw, 'logLevel', d.logLevel) as ServerConfig['logLevel'],
    ensemble,
    // The core refuses timeouts under two ticks; the same bounds here give the same message earlier.
    leaderTimeoutTicks: integer(raw, 'leaderTimeoutTicks', 2, 1_000_000, d.leaderTimeoutTicks),
    initTimeoutTicks: integer(raw, 'initTimeoutTicks', 2, 1_000_000, d.initTimeoutTicks),
    diffLimitTxns: integer(raw, 'diffLimitTxns', 1, 100_000_000, d.diffLimitTxns),
    diffLimitBytes: integer(raw, 'diffLimitBytes', 1, 2 ** 40, d.diffLimitBytes),
    watchWindowChanges: integer(raw, 'watchWindowChanges', 0, 100_000_000, d.watchWindowChanges),
    watchWindowBytes: integer(raw, 'watchWindowBytes', 0, 2 ** 40, d.watchWindowBytes),
    ...resolveClientBounds(raw),
    peerHandshakeTimeoutMs: integer(
      raw,
      'peerHandshakeTimeoutMs',
      50,
      600_000,
      d.peerHandshakeTimeoutMs,
    ),
    peerHandshakesPerAddressMax: integer(
      raw,
      'peerHandshakesPerAddressMax',
      1,
      100_000,
      d.peerHandshakesPerAddressMax,
    ),
    peerMemberHandshakesPerAddressMax: integer(
      raw,
      'peerMemberHandshakesPerAddressMax',
      1,
      100_000,
      d.peerMemberHandshakesPerAddressMax,
    ),
    peerStrangerHandshakesMax: integer(
      raw,
      'peerStrangerHandshakesMax',
      1,
      100_000,
      d.peerStrangerHandshakesMax,
    ),
    diskFullRetryMs: integer(raw, 'diskFullRetryMs', 10, 600_000, d.diskFullRetryMs),
    superDigest: superDigest(raw.superDigest),
    tls: resolveTlsSettings(raw, ensemble !== undefined),
    admin: resolveAdminSettings(raw),
  }
  if (!(LOG_LEVELS as readonly string[]).includes(config.logLevel)) {
    throw new ConfigError(`setting 'logLevel' must be one of ${LOG_LEVELS.join(', ')}`)
  }
  if (config.minSessionTimeoutMs > config.maxSessionTimeoutMs) {
    throw new ConfigError(
      `minSessionTimeoutMs (${config.minSessionTimeoutMs}) exceeds maxSessionTimeoutMs (${config.maxSessionTimeoutMs})`,
    )
  }
  if (config.minSessionTimeoutMs < 2 * config.tickMs) {
    throw new ConfigError(
      `minSessionTimeoutMs must be at least two ticks (${2 * config.tickMs} ms)`,
    )
  }
  if (config.initTimeoutTicks < config.leaderTimeoutTicks) {
    throw new ConfigError(
      `initTimeoutTicks (${config.initTimeoutTicks}) must be at least leaderTimeoutTicks (${config.leaderTimeoutTicks})`,
    )
  }
  // A read is computed only under the soft mark, so the buffer may reach soft + one frame without the client misbehaving.
  if (
    config.connectionBufferedBytesMax <
    config.connectionBufferedBytesSoft + frameBytesMaxFor(config)
  ) {
    throw new ConfigError(
      `connectionBufferedBytesMax (${config.connectionBufferedBytesMax}) must be at least connectionBufferedBytesSoft plus one frame (${config.connectionBufferedBytesSoft + frameBytesMaxFor(config)})`,
    )
  }
  if (
    ensemble !== undefined &&
    ensemble.peerPort !== 0 &&
    ensemble.peerPort === config.clientPort
  ) {
    throw new ConfigError(
      `settings 'peerPort' and 'clientPort' are both ${config.clientPort}; the two listeners need different ports`,
    )
  }
  return config
}

/** ClientBoundKey names the settings that bound what one client may cost a member (issue 9). */
export type ClientBoundKey =
  | 'maxConnections'
  | 'maxConnectionsPerAddress'
  | 'maxSessionCreatesPerSecond'
  | 'maxWatchesPerSession'
  | 'maxOutstandingRequests'
  | 'connectionBufferedBytesSoft'
  | 'connectionBufferedBytesMax'
  | 'connectionStalledMaxMs'
  | 'connectionWriteBytesInFlightMax'

/** resolveClientBounds reads the per-client limits, each a positive integer. */
function resolveClientBounds(raw: Record<string, unknown>): Pick<ServerConfig, ClientBoundKey> {
  const d = DEFAULT_CONFIG
  const bound = (key: ClientBoundKey, max: number) => integer(raw, key, 1, max, d[key])
  return {
    maxConnections: bound('maxConnections', 1_000_000),
    maxConnectionsPerAddress: bound('maxConnectionsPerAddress', 1_000_000),
    maxSessionCreatesPerSecond: bound('maxSessionCreatesPerSecond', 1_000_000),
    maxWatchesPerSession: bound('maxWatchesPerSession', 100_000_000),
    maxOutstandingRequests: bound('maxOutstandingRequests', 1_000_000),
    connectionBufferedBytesSoft: bound('connectionBufferedBytesSoft', 2 ** 32),
    connectionBufferedBytesMax: bound('connectionBufferedBytesMax', 2 ** 36),
    connectionStalledMaxMs: bound('connectionStalledMaxMs', 24 * 3600 * 1000),
    connectionWriteBytesInFlightMax: bound('connectionWriteBytesInFlightMax', 2 ** 36),
  }
}

/** frameBytesMaxFor is the largest client frame a server with this config accepts. */
export function frameBytesMaxFor(config: Pick<ServerConfig, 'maxDataBytes'>): number {
  return config.maxDataBytes + FRAME_HEADROOM_BYTES
}

/**
 * txnBytesMaxFor is the largest txn (measured by txnBytesBound) this server prepares;
 * request preparation refuses a write whose txn would be larger. Twice the client
 * frame: a txn may outgrow its request (makeParents ancestors, sequential suffixes,
 * default ACLs, a session's ephemerals in its closeSession), but never past this.
 */
export function txnBytesMaxFor(config: Pick<ServerConfig, 'maxDataBytes'>): number {
  return 2 * frameBytesMaxFor(config)
}

/** txnBuilderOptionsFor is the limits the leader's TxnBuilder checks writes against. */
export function txnBuilderOptionsFor(
  config: Pick<ServerConfig, 'maxDataBytes' | 'maxEphemeralsPerSession'>,
): TxnBuilderOptions {
  return {
    dataBytesMax: config.maxDataBytes,
    txnBytesMax: txnBytesMaxFor(config),
    ephemeralsPerSessionMax: config.maxEphemeralsPerSession,
  }
}

/**
 * peerMessageBudgetBytesFor is the byte budget of one message between members: a
 * proposal batch, one part of a DIFF, one SNAP chunk close once their contents reach
 * it (always holding at least one txn or record, which txnBytesMaxFor keeps below it).
 */
export function peerMessageBudgetBytesFor(config: Pick<ServerConfig, 'maxDataBytes'>): number {
  return 2 * txnBytesMaxFor(config)
}

/** PEER_FRAME_BYTES_MIN is the smallest peer frame limit, whatever the data limit. */
const PEER_FRAME_BYTES_MIN = 16 * 1024 * 1024

/** peerFrameBytesMaxFor is the largest peer frame: twice the message budget, so the envelope always fits. */
export function peerFrameBytesMaxFor(config: Pick<ServerConfig, 'maxDataBytes'>): number {
  return Math.max(PEER_FRAME_BYTES_MIN, 2 * peerMessageBudgetBytesFor(config))
}
