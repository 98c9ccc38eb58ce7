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
import { parseServers, resolveServers } from './servers.js'
import { completeShellLine, type Completion } from './shell-complete.js'
import { HISTORY_SIZE, historyFilePath, loadHistory, saveHistory } from './shell-history.js'
import { parseAuth, runShellLine, ShellUsageError, type ShellOutput } from './shell-line.js'

const stdout: ShellOutput = { out: (line) => process.stdout.write(line + '\n') }

/** COMPLETION_TIMEOUT_MS bounds the children listing behind one Tab, so a lost connection does not hang the prompt. */
const COMPLETION_TIMEOUT_MS = 2000

/** describeError turns a failure into one line for the user. */
function describeError(err: unknown): string {
  const code = err instanceof Error ? (err as unknown as { code?: unknown }).code : undefined
  if (err instanceof Error && typeof code === 'string')
    return err.message.startsWith(code) ? err.message : `${code}: ${err.message}`
  if (err instanceof ShellUsageError) return err.message
  return err instanceof Error ? err.message : String(err)
}

/** connectedTo names the server and session, for the banner and reconnections. */
function connectedTo(client: Client): string {
  return `${client.serverUrl} (server ${client.serverId}), session 0x${client.sessionId.toString(16)}`
}

async function interactive(client: Client): Promise<void> {
  const historyPath = historyFilePath()
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt: 'conclave> ',
    history: historyPath === undefined ? [] : loadHistory(historyPath),
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
    completer: (line: string, done: (err: null, result: Completion) => void) => {
      const list = (path: string) => client.children(path, { timeoutMs: COMPLETION_TIMEOUT_MS })
      void completeShellLine(line, list).then((result) => done(null, result))
    },
  })
  let historyWarned = false
  rl.on('history', (newestFirst: string[]) => {
    if (historyPath === undefined) return
    const problem = saveHistory(historyPath, newestFirst)
    if (problem !== undefined && !historyWarned) {
      historyWarned = true
      process.stderr.write(`history not saved: ${problem}\n`)
    }
  })
  // On a terminal only: lines piped in (`conclave shell < commands`) get just the results.
  if (rl.terminal)
    process.stdout.write(
      [
        `Connected to ${connectedTo(client)}.`,
        `Type 'help' for the commands; Tab completes commands and paths${historyPath === undefined ? '' : `; history in ${historyPath}`}.`,
        '',
      ].join('\n'),
    )
  client.on('state', (state) => {
    // 'closed' only comes as the shell ends: nothing to tell.
    if (state === 'connected') process.stdout.write(`\n[connected to ${connectedTo(client)}]\n`)
    else if (state !== 'closed') process.stdout.write(`\n[${state}]\n`)
  })
  let running: AbortController | undefined
  rl.on('SIGINT', () => {
    if (running !== undefined) running.abort()
    else rl.close()
  })
  // Piped lines get no prompts either, only results.
  const prompt = () => {
    if (rl.terminal) rl.prompt()
  }
  prompt()
  for await (const line of rl) {
    running = new AbortController()
    try {
      if (!(await runShellLine(client, line, stdout, running.signal))) break
    } catch (err) {
      if (!running.signal.aborted) process.stderr.write(describeError(err) + '\n')
    }
    running = undefined
    prompt()
  }
  rl.close()
}

/** runShell runs `conclave shell` with its parsed flags. */
export async function runShell(args: ShellArgs): Promise<void> {
  const { servers, source } = resolveServers(args.servers)
  let client: Client
  try {
    const auth = (args.auth ?? []).map(parseAuth)
    client = await connect({
      auth,
      servers: parseServers(servers),
      sessionTimeoutMs: args['session-timeout-ms'],
      connectTimeoutMs: 5000,
      tls: clientTlsOptions(args),
    })
  } catch (err) {
    const from = args.servers === undefined ? ` (from ${source})` : ''
    process.stderr.write(`cannot connect to ${servers}${from}: ${describeError(err)}\n`)
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
