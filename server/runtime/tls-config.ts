/**
 * The TLS settings of a member (issue 12): which ports speak TLS, the PEM files, and
 * whether clients must present a certificate. Kept apart from config.ts so the TLS
 * rules (what needs what) read in one place.
 */
import { ConfigError } from './config.js'

/** ClientCertAuth: 'none' asks for no client certificate; 'request' verifies one if sent; 'require' refuses clients without a valid one. */
export type ClientCertAuth = 'none' | 'request' | 'require'

/** TlsSettings are the checked TLS settings; `enabled` is false when neither port uses TLS. */
export interface TlsSettings {
  /** clientTls makes the client port wss:// and https:// only. */
  clientTls: boolean
  /** peerTls makes peer links TLS with mutual verification against caFile (on top of the HMAC handshake). */
  peerTls: boolean
  clientCertAuth: ClientCertAuth
  certFile: string | undefined
  keyFile: string | undefined
  caFile: string | undefined
  clientCaFile: string | undefined
  /** reloadCheckMs is how often the PEM files are checked for a change (SIGHUP reloads at once). */
  reloadCheckMs: number
}

/** TLS_KEYS are the config keys of the TLS settings. */
export const TLS_KEYS = [
  'clientTls',
  'peerTls',
  'clientCertAuth',
  'tlsCertFile',
  'tlsKeyFile',
  'tlsCaFile',
  'clientCaFile',
  'tlsReloadCheckMs',
] as const

/** TLS_PATH_KEYS are the TLS keys that name files (relative ones resolve against the config file). */
export const TLS_PATH_KEYS = ['tlsCertFile', 'tlsKeyFile', 'tlsCaFile', 'clientCaFile'] as const

/** DEFAULT_TLS_RELOAD_CHECK_MS: certificate files are looked at every 5 s. */
export const DEFAULT_TLS_RELOAD_CHECK_MS = 5000

const CLIENT_CERT_AUTH = ['none', 'request', 'require'] as const

/** resolveTlsSettings checks the TLS keys of `raw`; `ensemble` tells whether peerTls can apply. Throws ConfigError. */
export function resolveTlsSettings(raw: Record<string, unknown>, ensemble: boolean): TlsSettings {
  const settings: TlsSettings = {
    clientTls: flag(raw, 'clientTls'),
    peerTls: flag(raw, 'peerTls'),
    clientCertAuth: clientCertAuth(raw.clientCertAuth),
    certFile: path(raw, 'tlsCertFile'),
    keyFile: path(raw, 'tlsKeyFile'),
    caFile: path(raw, 'tlsCaFile'),
    clientCaFile: path(raw, 'clientCaFile'),
    reloadCheckMs: reloadCheckMs(raw.tlsReloadCheckMs),
  }
  const on = settings.clientTls || settings.peerTls
  if (on && (settings.certFile === undefined || settings.keyFile === undefined))
    throw new ConfigError(
      `settings 'tlsCertFile' and 'tlsKeyFile' are needed when ${settings.clientTls ? 'clientTls' : 'peerTls'} is on`,
    )
  if (settings.peerTls && !ensemble)
    throw new ConfigError(`setting 'peerTls' needs an ensemble ('members' of two or more)`)
  if (settings.peerTls && settings.caFile === undefined)
    throw new ConfigError(
      `setting 'tlsCaFile' is needed when peerTls is on: members verify each other against it`,
    )
  if (settings.clientCertAuth !== 'none') {
    if (!settings.clientTls) throw new ConfigError(`setting 'clientCertAuth' needs clientTls: true`)
    if (settings.clientCaFile === undefined && settings.caFile === undefined)
      throw new ConfigError(
        `setting 'clientCertAuth' is '${settings.clientCertAuth}': set 'clientCaFile' or 'tlsCaFile' to verify client certificates`,
      )
  }
  return settings
}

function flag(raw: Record<string, unknown>, key: string): boolean {
  const value = raw[key]
  if (value === undefined) return false
  // Flags and environment-style configs may carry the words.
  if (value === true || value === 'true') return true
  if (value === false || value === 'false') return false
  throw new ConfigError(`setting '${key}' must be true or false, got ${JSON.stringify(value)}`)
}

function path(raw: Record<string, unknown>, key: string): string | undefined {
  const value = raw[key]
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0)
    throw new ConfigError(`setting '${key}' must be a non-empty file path`)
  return value
}

function clientCertAuth(value: unknown): ClientCertAuth {
  if (value === undefined) return 'none'
  if (typeof value === 'string' && (CLIENT_CERT_AUTH as readonly string[]).includes(value))
    return value as ClientCertAuth
  throw new ConfigError(
    `setting 'clientCertAuth' must be one of ${CLIENT_CERT_AUTH.join(', ')}, got ${JSON.stringify(value)}`,
  )
}

function reloadCheckMs(value: unknown): number {
  if (value === undefined) return DEFAULT_TLS_RELOAD_CHECK_MS
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 50 || n > 3_600_000)
    throw new ConfigError(
      `setting 'tlsReloadCheckMs' must be an integer in [50, 3600000], got ${JSON.stringify(value)}`,
    )
  return n
}
