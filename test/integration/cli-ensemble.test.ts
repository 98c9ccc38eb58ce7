/**
 * `conclave ensemble` as a developer uses it: three member processes come up on
 * consecutive ports, a node created through one member is read through another with
 * `conclave shell`, `conclave status` run from the same directory finds the members
 * without `--servers` (the connection file), and Ctrl-C (SIGINT) stops every member and
 * exits 0.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, expect, it } from 'vitest'
import { alive, freeBasePort } from '../helpers/cli-ensemble.js'
import { waitFor, withDeadline } from '../helpers/wait.js'
import { CONCLAVE_CLI } from '../helpers/cli-path.js'

const run = promisify(execFile)
const CLI = CONCLAVE_CLI
const SIZE = 3

let ensemble: ChildProcess | undefined
const output: string[] = []

afterAll(() => {
  // Only if the test failed half-way: the ensemble kills its members when it exits.
  if (ensemble?.exitCode === null) ensemble.kill('SIGKILL')
  for (const line of output) {
    const pid = /pid (\d+)/.exec(line)?.[1]
    if (pid !== undefined && alive(Number(pid))) process.kill(Number(pid), 'SIGKILL')
  }
})

it(
  'runs a 3-member ensemble: write through one member, read through another, SIGINT stops all',
  { timeout: 120_000 },
  async () => {
    const base = await freeBasePort(SIZE)
    const dir = mkdtempSync(join(tmpdir(), 'conclave-ensemble-'))
    ensemble = spawn(
      process.execPath,
      [
        CLI,
        'ensemble',
        '--size',
        String(SIZE),
        '--data',
        dir,
        '--base-port',
        String(base),
        '--no-pretty',
      ],
      // Started from its directory, as a developer starts it from a project: it writes
      // the connection file there.
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
    )
    const exited = new Promise<number | null>((resolve) =>
      ensemble!.once('exit', (code) => resolve(code)),
    )
    for (const stream of [ensemble.stdout!, ensemble.stderr!]) {
      stream.on('data', (chunk: Buffer) =>
        output.push(...chunk.toString().split('\n').filter(Boolean)),
      )
    }
    const logs = () => output.join('\n')

    const ports = [...Array(SIZE).keys()].map((i) => base + i)
    const servers = ports.map((p) => `127.0.0.1:${p}`)
    await waitFor(
      () => output.some((l) => l.includes(`client connection string: ${servers.join(',')}`)),
      { timeoutMs: 20_000, what: `connection string\n${logs()}` },
    )
    const pids = output
      .flatMap((l) => /^\[ensemble\] member \d+: .* pid (\d+)/.exec(l)?.slice(1) ?? [])
      .map(Number)
    expect(pids).toHaveLength(SIZE)
    const consoleUrl = `http://${servers[0]}/ui/`
    expect(output).toContain(`[ensemble] web console: ${consoleUrl}`)

    for (const port of ports) {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok, {
        timeoutMs: 60_000,
        what: `member on ${port} to answer /health\n${logs()}`,
      })
    }
    expect((await fetch(consoleUrl)).status).toBe(200)
    // Members answer /health before they elect; wait for one leader and followers, all
    // serving (a follower still synchronizing refuses sessions with NOT_SERVING).
    await waitFor(
      async () => {
        const statuses = await Promise.all(
          ports.map(
            async (p) =>
              (await (await fetch(`http://127.0.0.1:${p}/status`)).json()) as {
                role?: string
                serving?: boolean
              },
          ),
        )
        const roles = statuses.map((s) => s.role)
        return (
          roles.filter((r) => r === 'leading').length === 1 &&
          roles.filter((r) => r === 'following').length === SIZE - 1 &&
          statuses.every((s) => s.serving === true)
        )
      },
      { timeoutMs: 60_000, what: `a leader and ${SIZE - 1} followers\n${logs()}` },
    )

    const shell = (server: string, command: string) =>
      run(process.execPath, [CLI, 'shell', '--servers', server, '-c', command])
    expect((await shell(servers[0]!, 'create /from-member-1 hello')).stdout.trim()).toBe(
      '/from-member-1',
    )
    await shell(servers[2]!, 'sync /')
    expect((await shell(servers[2]!, 'get /from-member-1')).stdout.trim()).toBe('hello')
    // A log line of each member came through with its prefix.
    for (let i = 1; i <= SIZE; i++)
      expect(output.some((l) => l.startsWith(`[member ${i}] `))).toBe(true)

    // Not the default ports: status finds them in ./.conclave-servers.
    const connectionFile = join(dir, '.conclave-servers')
    expect(readFileSync(connectionFile, 'utf8')).toContain(`\n${servers.join(',')}\n`)
    const env = { ...process.env }
    delete env.CONCLAVE_SERVERS
    const status = await run(process.execPath, [CLI, 'status', '--json'], { cwd: dir, env })
    const rows = JSON.parse(status.stdout) as { server: string; role: string }[]
    expect(rows.map((r) => r.server)).toEqual(servers.map((s) => `ws://${s}`))
    expect(rows.filter((r) => r.role === 'leading')).toHaveLength(1)

    ensemble.kill('SIGINT')
    expect(await withDeadline(exited, 30_000, 'the ensemble to stop')).toBe(0)
    for (const pid of pids) expect(alive(pid)).toBe(false)
    // Stopped, it takes its connection file away: nothing points at ports no one serves.
    expect(existsSync(connectionFile)).toBe(false)
  },
)
