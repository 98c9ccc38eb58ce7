/**
 * `conclave server`: run one server from a JSON config file and/or flags (flags win).
 */
import { readFileSync } from 'node:fs'
import type { CommandModule } from 'yargs'
import { ConfigError, resolveConfig } from '../runtime/config.js'
import { createLogger } from '../runtime/logger.js'
import { ConclaveServer } from '../runtime/server.js'
import { StorageError } from '../storage/errors.js'

interface ServerArgs {
  config?: string
  id?: number
  host?: string
  port?: number
  data?: string
  'tick-ms'?: number
  'min-session-timeout-ms'?: number
  'max-session-timeout-ms'?: number
  'max-data-bytes'?: number
  'reap-every-ticks'?: number
  'snapshot-every-txns'?: number
  'log-level'?: string
  pretty?: boolean
}

/** readConfigFile loads a JSON config file, or explains clearly why it cannot. */
function readConfigFile(path: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
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
  return value as Record<string, unknown>
}

/** serverCommand is the yargs module for `conclave server`. */
export const serverCommand: CommandModule<object, ServerArgs> = {
  command: 'server',
  describe: 'run one Conclave server',
  builder: (y) =>
    y
      .option('config', { type: 'string', describe: 'JSON config file (settings: id, host, clientPort, dataDir, tickMs, ...)' })
      .option('id', { type: 'number', describe: 'server id, 1-255' })
      .option('host', { type: 'string', describe: 'address to bind the client port to' })
      .option('port', { type: 'number', describe: 'client port (WebSocket + HTTP); 0 picks a free one' })
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
    let config
    try {
      const fromFile = args.config === undefined ? {} : readConfigFile(args.config)
      const fromFlags: Record<string, unknown> = {
        id: args.id,
        host: args.host,
        clientPort: args.port,
        dataDir: args.data,
        tickMs: args['tick-ms'],
        minSessionTimeoutMs: args['min-session-timeout-ms'],
        maxSessionTimeoutMs: args['max-session-timeout-ms'],
        maxDataBytes: args['max-data-bytes'],
        reapEveryTicks: args['reap-every-ticks'],
        snapshotEveryTxns: args['snapshot-every-txns'],
        logLevel: args['log-level'],
      }
      const merged: Record<string, unknown> = { ...fromFile }
      for (const [key, value] of Object.entries(fromFlags)) if (value !== undefined) merged[key] = value
      config = resolveConfig(merged)
    } catch (err) {
      process.stderr.write(`conclave server: ${err instanceof ConfigError ? err.message : String(err)}\n`)
      process.exit(2)
    }
    const logger = createLogger({ level: config.logLevel, ...(args.pretty === undefined ? {} : { pretty: args.pretty }) })
    let server: ConclaveServer
    try {
      server = await ConclaveServer.start(config, logger)
    } catch (err) {
      // A StorageError's message is written for the operator: file, offset, what to do.
      const message = err instanceof StorageError ? err.message : `cannot start: ${(err as Error).message}`
      logger.fatal({ code: (err as { code?: unknown }).code }, message)
      process.stderr.write(`conclave server: ${message}\n`)
      process.exit(err instanceof StorageError ? 2 : 1)
    }
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'shutting down')
      void server.stop().then(() => process.exit(0))
    }
    process.once('SIGINT', () => shutdown('SIGINT'))
    process.once('SIGTERM', () => shutdown('SIGTERM'))
  },
}
