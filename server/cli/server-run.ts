/**
 * What `conclave server` does once its flags are parsed: load the config, start the
 * member, stop it cleanly on SIGINT/SIGTERM. Loaded only when that command runs, so the
 * other commands start without loading the server.
 */
import type { ServerArgs } from './server-command.js'
import { ConfigError, type ServerConfig } from '../runtime/config.js'
import { createLogger } from '../runtime/logger.js'
import { MemberServer } from '../runtime/member-server.js'
import { StorageError } from '../storage/errors.js'
import { PeerLinksError, SecretFileError } from '../net/peer-errors.js'
import { TlsError } from '../net/tls-material.js'
import { readSecretFile } from '../net/peer-secret.js'
import { loadServerConfig } from './server-config.js'

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
    err instanceof TlsError ||
    (err instanceof PeerLinksError && err.code === 'INVALID_OPTIONS')
  )
}

/** checkSecretFile reads the secret once before anything starts, so a bad file fails fast and plainly. */
async function checkSecretFile(config: ServerConfig): Promise<void> {
  if (config.ensemble === undefined) return
  try {
    await readSecretFile(config.ensemble.secretFile)
  } catch (err) {
    fail(
      err instanceof SecretFileError
        ? err.message
        : `cannot read secret file: ${(err as Error).message}`,
      2,
    )
  }
}

/** runServer runs `conclave server` with its parsed flags until a signal stops it. */
export async function runServer(args: ServerArgs): Promise<void> {
  let config: ServerConfig
  try {
    config = loadServerConfig(args)
  } catch (err) {
    fail(err instanceof ConfigError ? err.message : String(err), 2)
  }
  await checkSecretFile(config)
  const logger = createLogger({
    level: config.logLevel,
    ...(args.pretty === undefined ? {} : { pretty: args.pretty }),
  })
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
      logger.warn(
        { afterMs: SHUTDOWN_DEADLINE_MS },
        'shutdown did not finish in time; exiting anyway',
      )
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
  // Started by `conclave ensemble` (or any parent) with an IPC channel: the channel closes
  // when that parent goes, however it goes (kill -9, a closed terminal, a crash), and a
  // member must not outlive it holding its ports and data directory.
  if (process.channel !== undefined) {
    process.once('disconnect', () => shutdown('parent process gone'))
    process.channel.unref()
  }
}
