/**
 * Who may read the admin endpoints of the client port (`/status`, and later
 * `/metrics`). `/health` is always open: load balancers and orchestrators probe it.
 */
import { ConfigError } from './config.js'

/** AdminAccess: 'open' to anyone who reaches the port; 'loopback' from this host only; 'token' with the admin token from anywhere. */
export type AdminAccess = 'open' | 'loopback' | 'token'

/** AdminSettings are the checked admin settings. */
export interface AdminSettings {
  access: AdminAccess
  /** tokenFile holds the admin token (read at start with the shared secret's checks: owner-only mode). */
  tokenFile: string | undefined
}

/** ADMIN_KEYS are the config keys of the admin settings. */
export const ADMIN_KEYS = ['adminAccess', 'adminTokenFile'] as const

/**
 * DEFAULT_ADMIN_ACCESS is 'open': /status carries no data and no credentials, and
 * operators read it from other hosts (`conclave status --servers ...`), as they do
 * ZooKeeper's admin server. Restrict it where the client port faces untrusted networks.
 */
export const DEFAULT_ADMIN_ACCESS: AdminAccess = 'open'

const ACCESS = ['open', 'loopback', 'token'] as const

/** resolveAdminSettings checks the admin keys of `raw`; throws ConfigError. */
export function resolveAdminSettings(raw: Record<string, unknown>): AdminSettings {
  const access = raw.adminAccess ?? DEFAULT_ADMIN_ACCESS
  if (typeof access !== 'string' || !(ACCESS as readonly string[]).includes(access))
    throw new ConfigError(
      `setting 'adminAccess' must be one of ${ACCESS.join(', ')}, got ${JSON.stringify(access)}`,
    )
  const tokenFile = raw.adminTokenFile
  if (tokenFile !== undefined && (typeof tokenFile !== 'string' || tokenFile.length === 0))
    throw new ConfigError(`setting 'adminTokenFile' must be a non-empty file path`)
  if (access === 'token' && tokenFile === undefined)
    throw new ConfigError(`setting 'adminAccess' is 'token': set 'adminTokenFile'`)
  return { access: access as AdminAccess, tokenFile: tokenFile }
}
