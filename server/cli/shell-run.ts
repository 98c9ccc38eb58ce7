/**
 * What `conclave shell` does once its flags are parsed: connect (with credentials and
 * TLS as given), then run one command or the interactive loop. Loaded only when that
 * command runs, so `conclave --version` or `conclave server` never load the SDK or the
 * protocol.
 */
import readline from 'node:readline'
import { connect, type Client } from '../../client/index.js'
import { clientTlsOptions } from './client-tls-flags.js'
import type { ShellArgs } from './shell-command.js'
import { parseServers } from './servers.js'
import { parseAuth, runShellLine, ShellUsageError, type ShellOutput } from './shell-line.js'

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

/** runShell runs `conclave shell` with its parsed flags. */
export async function runShell(args: ShellArgs): Promise<void> {
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
}
