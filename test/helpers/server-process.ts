/**
 * Real server processes for integration tests: `conclave server` spawned with port 0
 * and a fresh data directory; the bound port is read from its "listening" log line.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withDeadline } from './wait.js'
import { CONCLAVE_CLI } from './cli-path.js'

const CLI = CONCLAVE_CLI

/** ServerProcess is a running `conclave server` child process. */
export interface ServerProcess {
  readonly port: number
  readonly url: string
  readonly httpUrl: string
  readonly dataDir: string
  readonly child: ChildProcess
  /** logs holds every stdout/stderr line so far (JSON lines from pino). */
  readonly logs: string[]
  /** stop sends SIGTERM and waits for exit; `kill` sends any signal without waiting. */
  stop(): Promise<void>
  kill(signal: NodeJS.Signals): void
  exited: Promise<number | null>
}

/** ServerOptions are extra flags; `args` is appended verbatim. */
export interface ServerOptions {
  args?: string[]
  dataDir?: string
  port?: number
}

/** startServer spawns a server and resolves once it listens. */
export async function startServer(options: ServerOptions = {}): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'conclave-test-'))
  const ownsDataDir = options.dataDir === undefined
  const child = spawn(
    process.execPath,
    [
      CLI,
      'server',
      '--port',
      String(options.port ?? 0),
      '--data',
      dataDir,
      '--no-pretty',
      '--log-level',
      'info',
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const logs: string[] = []
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  const port = await withDeadline(
    new Promise<number>((resolvePort, reject) => {
      let buffered = ''
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString()
        let newline: number
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline)
          buffered = buffered.slice(newline + 1)
          logs.push(line)
          try {
            const entry = JSON.parse(line) as { msg?: string; port?: number }
            if (entry.msg === 'listening' && typeof entry.port === 'number') resolvePort(entry.port)
          } catch {
            // not JSON: keep it in the logs only
          }
        }
      }
      child.stdout.on('data', onData)
      child.stderr.on('data', (chunk: Buffer) =>
        logs.push(...chunk.toString().split('\n').filter(Boolean)),
      )
      void exited.then((code) =>
        reject(new Error(`server exited with ${code} before listening:\n${logs.join('\n')}`)),
      )
    }),
    20_000,
    'server start',
  )
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    dataDir,
    child,
    logs,
    exited,
    kill: (signal) => child.kill(signal),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await withDeadline(exited, 10_000, 'server stop').catch(() => child.kill('SIGKILL'))
      if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
