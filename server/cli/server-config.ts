/**
 * How `conclave server` turns a JSON config file and its flags into a ServerConfig:
 * read the file, resolve its relative paths against the file's own directory (so a
 * config works from any working directory), lay the flags over it, and validate.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { ConfigError, resolveConfig, type ServerConfig } from '../runtime/config.js'
import { TLS_PATH_KEYS } from '../runtime/tls-config.js'

/** ServerFlags are the `conclave server` flags that map to config settings. */
export interface ServerFlags {
  config?: string
  id?: number
  host?: string
  port?: number
  'peer-port'?: number
  'secret-file'?: string
  data?: string
  'tick-ms'?: number
  'min-session-timeout-ms'?: number
  'max-session-timeout-ms'?: number
  'max-data-bytes'?: number
  'reap-every-ticks'?: number
  'snapshot-every-txns'?: number
  'log-level'?: string
  'client-tls'?: boolean
  'peer-tls'?: boolean
  'client-cert-auth'?: string
  'tls-cert-file'?: string
  'tls-key-file'?: string
  'tls-ca-file'?: string
  'client-ca-file'?: string
}

/** PATH_KEYS are the settings that name files; relative ones in a file are relative to the file. */
const PATH_KEYS = ['dataDir', 'secretFile', 'adminTokenFile', ...TLS_PATH_KEYS] as const

/** readConfigFile loads a JSON config file, or explains clearly why it cannot. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(
      `cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    )
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`)
  }
  return resolveFilePaths(value as Record<string, unknown>, dirname(resolve(path)))
}

/**
 * resolveFilePaths returns `settings` with relative path settings made absolute
 * against `baseDir`. Non-string values are left for resolveConfig to refuse.
 */
export function resolveFilePaths(
  settings: Record<string, unknown>,
  baseDir: string,
): Record<string, unknown> {
  const out = { ...settings }
  for (const key of PATH_KEYS) {
    const value = out[key]
    if (typeof value === 'string' && value.length > 0) out[key] = resolve(baseDir, value)
  }
  return out
}

/** loadServerConfig reads the config file (if any), lays the flags over it and validates. Throws ConfigError. */
export function loadServerConfig(flags: ServerFlags): ServerConfig {
  const fromFile = flags.config === undefined ? {} : readConfigFile(flags.config)
  const fromFlags: Record<string, unknown> = {
    id: flags.id,
    host: flags.host,
    clientPort: flags.port,
    peerPort: flags['peer-port'],
    secretFile: flags['secret-file'],
    dataDir: flags.data,
    tickMs: flags['tick-ms'],
    minSessionTimeoutMs: flags['min-session-timeout-ms'],
    maxSessionTimeoutMs: flags['max-session-timeout-ms'],
    maxDataBytes: flags['max-data-bytes'],
    reapEveryTicks: flags['reap-every-ticks'],
    snapshotEveryTxns: flags['snapshot-every-txns'],
    logLevel: flags['log-level'],
    clientTls: flags['client-tls'],
    peerTls: flags['peer-tls'],
    clientCertAuth: flags['client-cert-auth'],
    tlsCertFile: flags['tls-cert-file'],
    tlsKeyFile: flags['tls-key-file'],
    tlsCaFile: flags['tls-ca-file'],
    clientCaFile: flags['client-ca-file'],
  }
  const merged: Record<string, unknown> = { ...fromFile }
  for (const [key, value] of Object.entries(fromFlags)) if (value !== undefined) merged[key] = value
  return resolveConfig(merged)
}
