/**
 * The plan of a local development ensemble (`conclave ensemble`): which ports each
 * member gets, where its data and config file live, and what its config says. Pure:
 * the command writes the files and starts the processes.
 */
import { join } from 'node:path'
import { ConfigError, type MemberAddress } from '../runtime/config.js'
import { ENSEMBLE_SIZE_MAX } from './ensemble-defaults.js'

/** PEER_PORT_OFFSET separates member i's peer port from its client port. */
export const PEER_PORT_OFFSET = 100

/** EnsembleOptions are the `conclave ensemble` flags the plan depends on. */
export interface EnsembleOptions {
  size: number
  /** dataDir is the ensemble's directory (absolute): members, secret. */
  dataDir: string
  basePort: number
  host: string
  tickMs?: number
  logLevel?: string
}

/** MemberPlan is one member: its address, its directory, its config file and that file's content. */
export interface MemberPlan {
  member: MemberAddress
  /** memberDir holds the member's config file and (under data/) its data directory. */
  memberDir: string
  configPath: string
  settings: Record<string, unknown>
}

/** EnsemblePlan is the whole local ensemble. */
export interface EnsemblePlan {
  members: MemberPlan[]
  secretPath: string
  /** connectionString is the client `--servers` value: host:port of every member. */
  connectionString: string
}

/** SECRET_FILE_NAME is the shared secret's file in the ensemble's directory. */
export const SECRET_FILE_NAME = 'secret'

/**
 * planEnsemble lays out `size` members: member i has client port basePort+i-1 and peer
 * port basePort+100+i-1, directory DIR/member-i with conclave.json in it and its data
 * under DIR/member-i/data (a data directory must hold only Conclave's own files, so the
 * config file cannot sit inside it). Throws ConfigError naming the bad flag.
 */
export function planEnsemble(options: EnsembleOptions): EnsemblePlan {
  const { size, basePort, host } = options
  if (!Number.isInteger(size) || size < 1 || size > ENSEMBLE_SIZE_MAX) {
    throw new ConfigError(
      `--size must be an integer in [1, ${ENSEMBLE_SIZE_MAX}], got ${String(size)}`,
    )
  }
  const highest = 65535 - PEER_PORT_OFFSET - (size - 1)
  if (!Number.isInteger(basePort) || basePort < 1 || basePort > highest) {
    throw new ConfigError(
      `--base-port must be an integer in [1, ${highest}] for ${size} members (peer ports are ${PEER_PORT_OFFSET} above), got ${String(basePort)}`,
    )
  }
  if (host.length === 0) throw new ConfigError('--host must not be empty')
  const addresses: MemberAddress[] = []
  for (let i = 1; i <= size; i++) {
    addresses.push({
      id: i,
      host,
      clientPort: basePort + i - 1,
      peerPort: basePort + PEER_PORT_OFFSET + i - 1,
    })
  }
  const members = addresses.map((member): MemberPlan => {
    const memberDir = join(options.dataDir, `member-${member.id}`)
    // Paths relative to the config file, so the directory can be moved as a whole.
    const settings: Record<string, unknown> = {
      id: member.id,
      host,
      dataDir: 'data',
      secretFile: `../${SECRET_FILE_NAME}`,
      members: addresses,
    }
    if (options.tickMs !== undefined) settings.tickMs = options.tickMs
    if (options.logLevel !== undefined) settings.logLevel = options.logLevel
    return { member, memberDir, configPath: join(memberDir, 'conclave.json'), settings }
  })
  const hostPart = host.includes(':') ? `[${host}]` : host
  return {
    members,
    secretPath: join(options.dataDir, SECRET_FILE_NAME),
    connectionString: addresses.map((m) => `${hostPart}:${m.clientPort}`).join(','),
  }
}
