/**
 * The examples import `conclave/client` as users do, so they run from the built package:
 * `npm run build` first, then `npm run example:<name>` (or `npx tsx examples/<name>.ts`)
 * against a running ensemble (`npm start`).
 *
 * What the examples share: the command line (`--servers`, `--id`) and a shutdown
 * signal for Ctrl-C, so every example ends by releasing what it holds.
 */
import { hostname } from 'node:os'
import { parseArgs } from 'node:util'

/** ExampleArgs are the options every example takes. */
export interface ExampleArgs {
  servers: string[]
  id: string
  /** rest holds the example's own options, unparsed. */
  rest: Record<string, string | boolean | undefined>
}

/** exampleArgs reads `--servers a,b,c` (default: the three members of `npm start`) and `--id` (default: host and pid). */
export function exampleArgs(
  extra: Record<string, { type: 'string' | 'boolean' }> = {},
): ExampleArgs {
  const { values } = parseArgs({
    options: {
      servers: {
        type: 'string',
        default: 'ws://127.0.0.1:2281,ws://127.0.0.1:2282,ws://127.0.0.1:2283',
      },
      id: { type: 'string' },
      ...extra,
    },
  })
  const { servers, id, ...rest } = values as Record<string, string | boolean | undefined>
  return {
    servers: String(servers).split(','),
    id: typeof id === 'string' ? id : `${hostname()}-${process.pid}`,
    rest,
  }
}

/** pause waits `ms`, or less if `signal` aborts first. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true })
  })
}

/** say prints one line (examples talk to their terminal; the SDK itself prints nothing). */
export function say(line: string): void {
  process.stdout.write(`${line}\n`)
}

/**
 * shutdownSignal aborts on Ctrl-C or SIGTERM, so the example can release what it holds;
 * another one a second or more later exits at once. (Ctrl-C reaches npm, tsx and node
 * together, and tsx passes it on: the same keypress arrives twice.)
 */
export function shutdownSignal(): AbortSignal {
  const controller = new AbortController()
  let firstAtMs = 0
  const stop = () => {
    if (!controller.signal.aborted) {
      firstAtMs = Date.now()
      say('stopping...')
      controller.abort()
    } else if (Date.now() - firstAtMs > 1000) {
      process.exit(130)
    }
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  return controller.signal
}
