/**
 * A program in a pseudo-terminal, for tests of what a user types: util-linux's
 * `script` gives the child a terminal (so readline runs with completion and history)
 * while the test writes keystrokes to its stdin and reads the screen from its stdout.
 * `script` is part of every Debian-based image (bsdutils is essential); node-pty would
 * need a native build.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { waitFor } from './wait.js'

/** ANSI_ESCAPES are the cursor and erase sequences readline writes. */
// eslint-disable-next-line no-control-regex
const ANSI_ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]/g

/** KEYS are the keystrokes the tests send. */
export const KEYS = { tab: '\t', enter: '\r', up: '\x1b[A', clearLine: '\x15' } as const

/** Pty is a running program in a pseudo-terminal. */
export interface Pty {
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  /** screen is everything printed so far, escape sequences and carriage returns removed. */
  screen(): string
  /** type sends keystrokes. */
  type(keys: string): void
  /**
   * waitForScreen waits until the text printed since `from` (a screen().length taken
   * before) matches `pattern`; returns the offset just past the match.
   */
  waitForScreen(
    pattern: RegExp | string,
    from: number,
    what: string,
    timeoutMs?: number,
  ): Promise<number>
}

/** quote makes one shell word of `arg` (script runs its command with a shell). */
function quote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`
}

/** assertScriptAvailable fails with what to install when `script` is missing. */
export function assertScriptAvailable(): void {
  const probe = spawnSync('script', ['--version'], { encoding: 'utf8' })
  if (probe.error !== undefined)
    throw new Error(
      `these tests need util-linux's 'script' to give the shell a terminal (apt-get install bsdutils): ${probe.error.message}`,
    )
}

/** spawnInPty runs `argv` in a pseudo-terminal of its own. */
export function spawnInPty(argv: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Pty {
  const child = spawn('script', ['-q', '-e', '-c', argv.map(quote).join(' '), '/dev/null'], {
    cwd: options.cwd,
    env: { TERM: 'xterm', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let raw = ''
  child.stdout.on('data', (chunk: Buffer) => (raw += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (raw += chunk.toString()))
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  const screen = () => raw.replace(ANSI_ESCAPES, '').replace(/\r/g, '')
  return {
    child,
    exited,
    screen,
    type: (keys) => child.stdin.write(keys),
    waitForScreen: async (pattern, from, what, timeoutMs = 10_000) => {
      const match = await waitFor(
        () => {
          const text = screen().slice(from)
          if (typeof pattern === 'string') {
            const at = text.indexOf(pattern)
            return at < 0 ? undefined : { end: at + pattern.length }
          }
          const found = pattern.exec(text)
          return found === null ? undefined : { end: found.index + found[0].length }
        },
        {
          timeoutMs,
          what: `${what}; the screen since then:\n${JSON.stringify(screen().slice(from))}`,
        },
      )
      return from + match.end
    },
  }
}
