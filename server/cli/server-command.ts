/**
 * `conclave server`: run one server from a JSON config file and/or flags (flags win).
 */
import type { CommandModule } from 'yargs'
import { ConfigError, type ServerConfig } from '../runtime/config.js'
import { createLogger } from '../runtime/logger.js'
import { MemberServer } from '../runtime/member-server.js'
import { StorageError } from '../storage/errors.js'
import { PeerLinksError, SecretFileError } from '../net/peer-errors.js'
import { readSecretFile } from '../net/peer-secret.js'
import { loadServerConfig, type ServerFlags } from './server-config.js'

interface ServerArgs extends ServerFlags {
  pretty?: boolean
}


/** SHUTDOWN_DEADLINE_MS bounds a clean shutdown after SIGINT/SIGTERM. */
const SHUTDOWN_DEADLINE_MS = 5000
/** fail writes one line on stderr and exits: no stack trace for a mistake the operator can fix. */
function fail(message: string, exitCode: number): never {
  process.stderr.write(`conclave server: ${message}\n`)
  process.exit(exitCode)
}

/** isOperatorError is a failure the operator fixes in the config or files (exit 2), not a crash. */
function isOperatorError(err: unknown): err is Error {
  return (
    err instanceof ConfigError ||
    err instanceof StorageError ||
    err instanceof SecretFileError ||
    (err instanceof PeerLinksError && err.code === 'INVALID_OPTIONS')
  )
}

/** checkSecretFile reads the secret once before anything starts, so a bad file fails fast and plainly. */
async function checkSecretFile(config: ServerConfig): Promise<void> {
  if (config.ensemble === undefined) return
  try {
    await readSecretFile(config.ensemble.secretFile)
  } catch (err) {
    fail(err instanceof SecretFileError ? err.message : `cannot read secret file: ${(err as Error).message}`, 2)
  }
}

/** serverCommand is the yargs module for `conclave server`. */
export const serverCommand: CommandModule<object, ServerArgs> = {
  command: 'server',
  describe: 'run one Conclave server (standalone, or a member of the ensemble its config lists)',
  builder: (y) =>
    y
      .option('config', { type: 'string', describe: 'JSON config file (id, host, clientPort, dataDir, members, peerPort, secretFile, ...); relative paths in it are relative to the file' })
      .option('id', { type: 'number', describe: 'server id, 1-255' })
      .option('host', { type: 'string', describe: 'address to bind the client and peer ports to' })
      .option('port', { type: 'number', describe: 'client port (WebSocket + HTTP); 0 picks a free one' })
      .option('peer-port', { type: 'number', describe: "peer port to bind (default: this member's peerPort in the member list)" })
      .option('secret-file', { type: 'string', describe: "the ensemble's shared secret file (mode 0600)" })
      .option('data', { type: 'string', describe: 'data directory' })
      .option('tick-ms', { type: 'number' })
      .option('min-session-timeout-ms', { type: 'number' })
      .option('max-session-timeout-ms', { type: 'number' })
      .option('max-data-bytes', { type: 'number' })
      .option('snapshot-every-txns', { type: 'number', describe: 'take a snapshot after this many logged txns' })
      .option('reap-every-ticks', { type: 'number', describe: 'how often empty containers and expired TTL nodes are deleted' })
      .option('log-level', { type: 'string', describe: 'fatal|error|warn|info|debug|trace|silent' })
      .option('pretty', { type: 'boolean', describe: 'human-readable logs (default: when stdout is a terminal)' }),
  handler: async (args) => {
    let config: ServerConfig
    try {
      config = loadServerConfig(args)
    } catch (err) {
      fail(err instanceof ConfigError ? err.message : String(err), 2)
    }
    await checkSecretFile(config)
    const logger = createLogger({ level: config.logLevel, ...(args.pretty === undefined ? {} : { pretty: args.pretty }) })
    let server: MemberServer
    try {
      server = await MemberServer.start(config, logger)
    } catch (err) {
      // These messages are written for the operator: file, setting, what to do.
      const message = isOperatorError(err) ? err.message : `cannot start: ${(err as Error).message}`
      logger.fatal({ code: (err as { code?: unknown }).code }, message)
      fail(message, isOperatorError(err) ? 2 : 1)
    }
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'shutting down')
      // Never hang on the way out (a client that never finishes its close handshake, a
      // stuck disk): everything acknowledged is already durable, so exiting is safe.
      setTimeout(() => {
        logger.warn({ afterMs: SHUTDOWN_DEADLINE_MS }, 'shutdown did not finish in time; exiting anyway')
        process.exit(1)
      }, SHUTDOWN_DEADLINE_MS).unref()
      server.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'error while shutting down')
          process.exit(1)
        },
      )
    }
    process.once('SIGINT', () => shutdown('SIGINT'))
    process.once('SIGTERM', () => shutdown('SIGTERM'))
  },
}
