/**
 * One server process of a benchmark ensemble: spawned with its output going straight
 * to a log file (the bench process never reads it, so it costs the load generator
 * nothing), signalled for faults, and always killed when the bench process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'

const live = new Set<ChildProcess>()
let exitHookInstalled = false

/** killAll is the exit hook: a stopped process is continued first so SIGKILL is not left pending. */
function killAll(): void {
  for (const child of live) {
    child.kill('SIGCONT')
    child.kill('SIGKILL')
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130))
}

/** MemberProcess is a spawned server; `exited` resolves with its exit code or signal name. */
export class MemberProcess {
  readonly exited: Promise<string>

  private constructor(
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    live.add(child)
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        live.delete(child)
        resolve(signal ?? `code ${code}`)
      }),
    )
  }

  /** spawn starts `command args`, appending stdout and stderr to `logFile`. */
  static spawn(command: string, args: string[], logFile: string, cwd?: string): MemberProcess {
    installExitHook()
    const fd = openSync(logFile, 'a')
    try {
      const child = spawn(command, args, { stdio: ['ignore', fd, fd], cwd })
      return new MemberProcess(child, logFile)
    } finally {
      closeSync(fd)
    }
  }

  /** alive is true until the process has exited. */
  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** signal sends `signal` to the process (no-op once it has exited). */
  signal(signal: NodeJS.Signals): void {
    if (this.alive()) this.child.kill(signal)
  }

  /** rssBytes is the resident set size from /proc, or undefined once the process is gone. */
  rssBytes(): number | undefined {
    try {
      const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8')
      const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]
      return kb === undefined ? undefined : Number(kb) * 1024
    } catch {
      return undefined
    }
  }

  /** logTail is the end of the log file, for error messages. */
  logTail(chars = 2000): string {
    try {
      return readFileSync(this.logFile, 'utf8').slice(-chars)
    } catch {
      return ''
    }
  }

  /** stop sends SIGTERM (after SIGCONT) and waits up to `graceMs`, then SIGKILL. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.alive()) return
    this.child.kill('SIGCONT')
    this.child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)),
    )
    const outcome = await Promise.race([this.exited, timedOut])
    clearTimeout(timer)
    if (outcome === 'timeout') {
      this.child.kill('SIGKILL')
      await this.exited
    }
  }
}
