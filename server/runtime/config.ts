/**
 * ServerConfig: everything one server needs, with the defaults of design.md §11, and
 * the validation that turns a bad config file or flag into a ConfigError naming the
 * setting, never a stack trace.
 */
import { DATA_BYTES_MAX, FRAME_HEADROOM_BYTES, SESSION_TIMEOUT_MAX_MS, SESSION_TIMEOUT_MIN_MS } from '../../protocol/index.js'

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
  /** reapEveryTicks is how often empty containers and expired TTL nodes are looked for. */
  reapEveryTicks: number
  /** snapshotEveryTxns is how many logged txns trigger a snapshot. */
  snapshotEveryTxns: number
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
}

/** DEFAULT_CONFIG holds the defaults for every optional setting. */
export const DEFAULT_CONFIG: Omit<ServerConfig, 'dataDir'> = {
  id: 1,
  host: '127.0.0.1',
  clientPort: 2281,
  tickMs: 100,
  minSessionTimeoutMs: SESSION_TIMEOUT_MIN_MS,
  maxSessionTimeoutMs: SESSION_TIMEOUT_MAX_MS,
  maxDataBytes: DATA_BYTES_MAX,
  reapEveryTicks: 10,
  snapshotEveryTxns: 100_000,
  logLevel: 'info',
}

/** ConfigError is a setting that is missing or invalid; its message names the setting. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

function integer(source: Record<string, unknown>, key: string, min: number, max: number, fallback?: number): number {
  const value = source[key] ?? fallback
  if (value === undefined) throw new ConfigError(`missing setting '${key}'`)
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`setting '${key}' must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`)
  }
  return n
}

function text(source: Record<string, unknown>, key: string, fallback?: string): string {
  const value = source[key] ?? fallback
  if (typeof value !== 'string' || value.length === 0) throw new ConfigError(`setting '${key}' must be a non-empty string`)
  return value
}

/**
 * resolveConfig validates raw settings (from a JSON file and flags merged by the CLI)
 * and fills in defaults. Unknown keys are refused so a typo does not go unnoticed.
 */
export function resolveConfig(raw: Record<string, unknown>): ServerConfig {
  const known = new Set<string>([...Object.keys(DEFAULT_CONFIG), 'dataDir'])
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) throw new ConfigError(`unknown setting '${key}' (known: ${[...known].sort().join(', ')})`)
  }
  const d = DEFAULT_CONFIG
  const config: ServerConfig = {
    id: integer(raw, 'id', 1, 255, d.id),
    host: text(raw, 'host', d.host),
    clientPort: integer(raw, 'clientPort', 0, 65535, d.clientPort),
    dataDir: text(raw, 'dataDir'),
    tickMs: integer(raw, 'tickMs', 1, 60_000, d.tickMs),
    minSessionTimeoutMs: integer(raw, 'minSessionTimeoutMs', 1, 2 ** 31 - 1, d.minSessionTimeoutMs),
    maxSessionTimeoutMs: integer(raw, 'maxSessionTimeoutMs', 1, 2 ** 31 - 1, d.maxSessionTimeoutMs),
    maxDataBytes: integer(raw, 'maxDataBytes', 0, 64 * 1024 * 1024, d.maxDataBytes),
    reapEveryTicks: integer(raw, 'reapEveryTicks', 1, 1_000_000, d.reapEveryTicks),
    snapshotEveryTxns: integer(raw, 'snapshotEveryTxns', 1, 1_000_000_000, d.snapshotEveryTxns),
    logLevel: text(raw, 'logLevel', d.logLevel) as ServerConfig['logLevel'],
  }
  if (!(LOG_LEVELS as readonly string[]).includes(config.logLevel)) {
    throw new ConfigError(`setting 'logLevel' must be one of ${LOG_LEVELS.join(', ')}`)
  }
  if (config.minSessionTimeoutMs > config.maxSessionTimeoutMs) {
    throw new ConfigError(`minSessionTimeoutMs (${config.minSessionTimeoutMs}) exceeds maxSessionTimeoutMs (${config.maxSessionTimeoutMs})`)
  }
  if (config.minSessionTimeoutMs < 2 * config.tickMs) {
    throw new ConfigError(`minSessionTimeoutMs must be at least two ticks (${2 * config.tickMs} ms)`)
  }
  return config
}

/** frameBytesMaxFor is the largest client frame a server with this config accepts. */
export function frameBytesMaxFor(config: ServerConfig): number {
  return config.maxDataBytes + FRAME_HEADROOM_BYTES
}
