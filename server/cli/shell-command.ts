/**
 * `conclave shell`: an interactive shell, or one command with `-c "..."`.
 */
import { clientTlsOptions, withClientTlsFlags, type ClientTlsFlags } from './client-tls-flags.js'
import readline from 'node:readline'
import type { CommandModule } from 'yargs'
import type { Client } from '../../client/index.js'
import { SERVERS_DESCRIPTION, defaultServers, parseServers } from './servers.js'
import { parseAuth, runShellLine, ShellUsageError, type ShellOutput } from './shell-line.js'

interface ShellArgs extends ClientTlsFlags {
  servers: string
  c?: string
  'session-timeout-ms': number
  auth?: string[]
}

const stdout: ShellOutput = { out: (line) => process.stdout.write(line + '\n') }

/** describeError turns a failure into one line for the user. */
function describeError(err: unknown): string {
  const code = err instanceof Error ? (err as unknown as { code?: unknown }).code : undefined
  if (err instanceof Error && typeof code === 'string')
    return err.message.startsWith(code) ? err.message : `${code}: ${err.message}`
  if (err instanceof ShellUsageError) return err.message
  return err instanceof Error ? err.message : String(err)
}

async function interactive(client: Client): Promise<void> {
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt: 'conclave> ',
  })
  client.on('state', (state) => process.stdout.write(`\n[${state}]\n`))
  let running: AbortController | undefined
  rl.on('SIGINT', () => {
    if (running !== undefined) running.abort()
    else rl.close()
  })
  rl.prompt()
  for await (const line of rl) {
    running = new AbortController()
    try {
      if (!(await runShellLine(client, line, stdout, running.signal))) break
    } catch (err) {
      if (!running.signal.aborted) process.stderr.write(describeError(err) + '\n')
    }
    running = undefined
    rl.prompt()
  }
  rl.close()
}

/** shellCommand is the yargs module for `conclave shell`. */
export const shellCommand: CommandModule<object, ShellArgs> = {
  command: 'shell',
  describe: 'interactive shell (or one command with -c)',
  builder: (y) =>
    withClientTlsFlags(y)
      .option('servers', {
        type: 'string',
        default: defaultServers(),
        describe: SERVERS_DESCRIPTION,
      })
      .option('c', { type: 'string', describe: 'run one command and exit, e.g. -c "get /app"' })
      .option('session-timeout-ms', { type: 'number', default: 10_000 })
      .option('auth', {
        type: 'string',
        array: true,
        describe: 'credentials sent on every connection, e.g. digest:user:password',
      }),
  handler: async (args) => {
    // Loaded here, not at the top, so `conclave server` never loads the client SDK.
    const { connect } = await import('../../client/index.js')
    let client: Client
    try {
      const auth = (args.auth ?? []).map(parseAuth)
      client = await connect({
        auth,
        servers: parseServers(args.servers),
        sessionTimeoutMs: args['session-timeout-ms'],
        connectTimeoutMs: 5000,
        tls: clientTlsOptions(args),
      })
    } catch (err) {
      process.stderr.write(`cannot connect to ${args.servers}: ${describeError(err)}\n`)
      process.exit(1)
    }
    let failed = false
    try {
      if (args.c !== undefined) {
        const controller = new AbortController()
        process.once('SIGINT', () => controller.abort())
        await runShellLine(client, args.c, stdout, controller.signal)
      } else {
        await interactive(client)
      }
    } catch (err) {
      failed = true
      process.stderr.write(describeError(err) + '\n')
    } finally {
      await client.close()
    }
    process.exit(failed ? 1 : 0)
  },
}
