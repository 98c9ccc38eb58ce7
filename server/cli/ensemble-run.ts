/**
 * What `conclave ensemble` does once its flags are parsed: write each member's config,
 * start one server process per member with its output prefixed, stop them in order on
 * SIGINT/SIGTERM. Loaded only when that command runs.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import readline from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { EnsembleArgs } from './ensemble-command.js'
import { ConfigError } from '../runtime/config.js'
import { SecretFileError } from '../net/peer-errors.js'
import { MARKER_FILE_NAME } from '../storage/data-dir.js'
import { lockHolder } from '../storage/data-dir-lock.js'
import { planEnsemble, type EnsemblePlan } from './ensemble-layout.js'
import { ensureSecretFile } from './ensemble-secret.js'
import { CONNECTION_FILE_NAME, formatConnectionFile } from './servers.js'

/** STOP_GRACE_MS is how long members get to stop after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5000

/** CONCLAVE_JS is the `conclave` entry point each member runs. */
const CONCLAVE_JS = fileURLToPath(new URL('./main.js', import.meta.url))

/** say writes one line of the ensemble's own output (not a member's). */
function say(line: string): void {
  process.stdout.write(`[ensemble] ${line}\n`)
}

/** prefixLines copies `from` to `to` line by line, each line prefixed. */
function prefixLines(from: Readable, to: Writable, prefix: string): void {
  const lines = readline.createInterface({ input: from, crlfDelay: Infinity })
  lines.on('line', (line) => to.write(`${prefix}${line}\n`))
}

/** writeConfigs writes the secret (once) and every member's config file; throws ConfigError or SecretFileError. */
async function writeConfigs(plan: EnsemblePlan): Promise<'created' | 'reused'> {
  await mkdir(resolve(plan.secretPath, '..'), { recursive: true })
  const secret = await ensureSecretFile(plan.secretPath)
  for (const m of plan.members) {
    await mkdir(m.memberDir, { recursive: true })
    // Rewritten on every start, so a changed --size, --base-port or --tick-ms takes effect.
    await writeFile(m.configPath, JSON.stringify(m.settings, null, 2) + '\n')
  }
  return secret
}

/** startMember spawns one member's server process with its output prefixed. */
function startMember(configPath: string, id: number, pretty: boolean): ChildProcess {
  const child = spawn(
    process.execPath,
    [CONCLAVE_JS, 'server', '--config', configPath, pretty ? '--pretty' : '--no-pretty'],
    {
      // The IPC channel is the member's lifeline: it stops when the channel closes, so no
      // member outlives this process, even one killed with SIGKILL.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Its own process group: a terminal's Ctrl-C reaches only us, and we stop the members once, in order.
      detached: true,
    },
  )
  prefixLines(child.stdout!, process.stdout, `[member ${id}] `)
  prefixLines(child.stderr!, process.stderr, `[member ${id}] `)
  return child
}

/**
 * whyBusy says why the ensemble of `plan` cannot start here, in one line, or undefined:
 * a member's data directory locked by a live process, or a port another process holds.
 */
async function whyBusy(
  plan: EnsemblePlan,
  dataDir: string,
  basePort: number,
): Promise<string | undefined> {
  for (const m of plan.members) {
    const memberData = resolve(m.memberDir, String(m.settings.dataDir))
    const pid = await lockHolder(memberData)
    if (pid !== undefined)
      return `member ${m.member.id}'s data directory ${memberData} is in use by pid ${pid}: an ensemble is already running on ${dataDir}. Stop it, or start another with a different --data and --base-port.`
  }
  for (const m of plan.members) {
    for (const [what, port] of [
      ['client', m.member.clientPort],
      ['peer', m.member.peerPort],
    ] as const) {
      if (!(await portFree(m.member.host, port)))
        return `member ${m.member.id}'s ${what} port ${port} on ${m.member.host} is taken by another process. Choose other ports with --base-port (now ${basePort}).`
    }
  }
  return undefined
}

/** portFree tells whether `port` on `host` can be bound now. */
function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer()
    probe.once('error', () => done(false))
    probe.listen(port, host, () => probe.close(() => done(true)))
  })
}

/**
 * ConnectionFile is the `.conclave-servers` this ensemble wrote in the directory it was
 * started from, for `conclave shell` and `conclave status` run there.
 */
interface ConnectionFile {
  path: string
  text: string
}

/** writeConnectionFile writes it; a directory it cannot write to costs only the convenience. */
async function writeConnectionFile(
  plan: EnsemblePlan,
  dataDir: string,
): Promise<ConnectionFile | undefined> {
  const path = resolve(CONNECTION_FILE_NAME)
  const text = formatConnectionFile(
    plan.connectionString,
    `written by 'conclave ensemble --data ${dataDir}' (pid ${process.pid})`,
  )
  try {
    await writeFile(path, text)
    return { path, text }
  } catch (err) {
    say(
      `note: could not write ${path} (${(err as Error).message}); pass --servers to shell and status`,
    )
    return undefined
  }
}

/** removeConnectionFile removes it when stopping, unless another ensemble has written its own since. */
function removeConnectionFile(file: ConnectionFile | undefined): void {
  if (file === undefined) return
  try {
    if (readFileSync(file.path, 'utf8') === file.text) rmSync(file.path)
  } catch {
    // Already gone: nothing to do.
  }
}

/** runEnsemble runs `conclave ensemble` with its parsed flags until a signal stops it. */
export async function runEnsemble(args: EnsembleArgs): Promise<void> {
  let plan: EnsemblePlan
  let secret: 'created' | 'reused'
  try {
    // `--data` with no value would put the ensemble in the current directory.
    if (args.data.trim() === '') throw new ConfigError('--data must name a directory')
    plan = planEnsemble({
      size: args.size,
      dataDir: resolve(args.data),
      basePort: args['base-port'],
      host: args.host,
      ...(args['tick-ms'] === undefined ? {} : { tickMs: args['tick-ms'] }),
      ...(args['log-level'] === undefined ? {} : { logLevel: args['log-level'] }),
    })
    // Refuse before anything is written: a running ensemble's files stay as they are.
    const busy = await whyBusy(plan, resolve(args.data), args['base-port'])
    if (busy !== undefined) {
      process.stderr.write(`conclave ensemble: ${busy}\n`)
      process.exit(2)
    }
    secret = await writeConfigs(plan)
  } catch (err) {
    const known = err instanceof ConfigError || err instanceof SecretFileError
    process.stderr.write(
      `conclave ensemble: ${known ? (err as Error).message : `cannot prepare ${args.data}: ${(err as Error).message}`}\n`,
    )
    process.exit(2)
  }
  const pretty = args.pretty ?? process.stdout.isTTY === true
  say(`${secret === 'created' ? 'created' : 'using'} the shared secret ${plan.secretPath}`)
  if (existsSync(join(resolve(args.data), MARKER_FILE_NAME))) {
    // An earlier `npm start` ran one standalone server right in this directory.
    say(
      `note: ${resolve(args.data)} also holds a standalone server's data, which the ensemble does not use (members keep theirs in member-<i>/data)`,
    )
  }
  const running = new Map<number, ChildProcess>()
  let stopping = false
  let connectionFile: ConnectionFile | undefined
  for (const m of plan.members) {
    const child = startMember(m.configPath, m.member.id, pretty)
    running.set(m.member.id, child)
    say(
      `member ${m.member.id}: client port ${m.member.clientPort}, peer port ${m.member.peerPort}, pid ${child.pid}, config ${m.configPath}`,
    )
    child.on('error', (err) => say(`member ${m.member.id} could not be started: ${err.message}`))
    // 'close', not 'exit': it comes after the member's last output line has been passed on.
    child.on('close', (code, signal) => {
      running.delete(m.member.id)
      if (!stopping) {
        say(
          `member ${m.member.id} exited with ${signal === null ? `code ${code}` : `signal ${signal}`}; not restarting it`,
        )
        if (running.size === 0) {
          say('every member has exited')
          removeConnectionFile(connectionFile)
          process.exit(1)
        }
      } else if (running.size === 0) {
        say('all members stopped')
        removeConnectionFile(connectionFile)
        process.exit(0)
      }
    })
  }
  say(`client connection string: ${plan.connectionString}`)
  // Every member serves the console; the first one's address is enough to open it.
  say(`web console: http://${plan.connectionString.split(',')[0]}/ui/`)
  connectionFile = await writeConnectionFile(plan, resolve(args.data))
  say(
    connectionFile === undefined
      ? `try: npx conclave shell --servers ${plan.connectionString}    (Ctrl-C stops the ensemble)`
      : `try: npx conclave shell    (run here, it finds the members in ${CONNECTION_FILE_NAME}; Ctrl-C stops the ensemble)`,
  )

  const stopAll = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    say(`${signal}: stopping ${running.size} member(s)`)
    if (running.size === 0) {
      removeConnectionFile(connectionFile)
      process.exit(0)
    }
    for (const child of running.values()) child.kill('SIGTERM')
    setTimeout(() => {
      for (const [id, child] of running) {
        say(`member ${id} did not stop within ${STOP_GRACE_MS} ms; killing it`)
        child.kill('SIGKILL')
      }
    }, STOP_GRACE_MS).unref()
  }
  process.on('SIGINT', () => stopAll('SIGINT'))
  process.on('SIGTERM', () => stopAll('SIGTERM'))
  // If this process dies some other way, do not leave the detached members behind.
  process.on('exit', () => {
    for (const child of running.values()) child.kill('SIGKILL')
  })
}
