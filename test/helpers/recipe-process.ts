/**
 * Client processes for the recipe tests: a `*-main.ts` helper spawned with tsx, driven
 * by JSON lines on stdin and reporting JSON lines on stdout, so that a test can kill -9
 * or SIGSTOP a lock holder or a leader for real (its socket, timers and session die or
 * freeze with it). Processes never outlive the test: `stop` ends them, and an exit hook
 * SIGKILLs whatever is left.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { withDeadline } from './wait.js'

const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..')

/** ProcessEvent is one JSON line a helper printed. */
export type ProcessEvent = Record<string, unknown> & { event: string }

/** RecipeProcess is a running helper. */
export interface RecipeProcess {
  readonly name: string
  readonly pid: number
  /** events holds every line printed so far. */
  readonly events: ProcessEvent[]
  send(command: Record<string, unknown>): void
  /** next waits for the first event from index `since` on that matches (default: any index). */
  next(
    predicate: (event: ProcessEvent) => boolean,
    options?: { timeoutMs?: number; since?: number; what?: string },
  ): Promise<ProcessEvent>
  kill(signal: NodeJS.Signals): void
  readonly exited: Promise<number | null>
  /** stop resumes a stopped process, closes its stdin and waits; SIGKILL after 5 s. */
  stop(): Promise<void>
}

const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/** startRecipeProcess spawns `test/helpers/<main>` with `args` and waits for its {"event":"ready"} line. */
export async function startRecipeProcess(
  main: string,
  name: string,
  args: Record<string, unknown>,
  readyTimeoutMs = 60_000,
): Promise<RecipeProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', `test/helpers/${main}`, JSON.stringify({ ...args, name })],
    {
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  )
  live.add(child)
  const exited = new Promise<number | null>((done) =>
    child.once('exit', (code) => {
      live.delete(child)
      done(code)
    }),
  )
  const events: ProcessEvent[] = []
  const waiters = new Set<() => void>()
  const stderr: string[] = []
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()))
  let buffered = ''
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    let newline: number
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      try {
        events.push(JSON.parse(line) as ProcessEvent)
      } catch {
        events.push({ event: 'text', text: line })
      }
      for (const wake of [...waiters]) wake()
    }
  })
  child.on('exit', () => {
    for (const wake of [...waiters]) wake()
  })
  const next: RecipeProcess['next'] = (predicate, options = {}) => {
    const what = `${name}: ${options.what ?? 'event'}`
    const found = new Promise<ProcessEvent>((done, fail) => {
      const check = () => {
        const hit = events.slice(options.since ?? 0).find(predicate)
        if (hit !== undefined) {
          waiters.delete(check)
          done(hit)
        } else if (child.exitCode !== null || child.signalCode !== null) {
          waiters.delete(check)
          fail(
            new Error(
              `${what}: the process exited (${child.exitCode ?? child.signalCode}); stderr: ${stderr.join('').slice(-2000)}`,
            ),
          )
        }
      }
      waiters.add(check)
      check()
    })
    return withDeadline(found, options.timeoutMs ?? 30_000, what)
  }
  const proc: RecipeProcess = {
    name,
    pid: child.pid!,
    events,
    send: (command) => child.stdin.write(JSON.stringify(command) + '\n'),
    next,
    kill: (signal) => void child.kill(signal),
    exited,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGCONT')
      child.stdin.end()
      await withDeadline(exited, 5000, `${name} exit`).catch(() => child.kill('SIGKILL'))
    },
  }
  await next((e) => e.event === 'ready', { timeoutMs: readyTimeoutMs, what: 'ready' })
  return proc
}
