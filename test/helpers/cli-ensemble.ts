/**
 * `conclave ensemble` as a child process, for the tests of the CLI's local ensemble:
 * a free run of ports, the process with its output collected, and the members' pids
 * read from its "member i: ... pid N" lines.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { CONCLAVE_CLI } from './cli-path.js'
import { waitFor } from './wait.js'

/** portFree tells whether `port` can be bound on loopback right now. */
export async function portFree(port: number): Promise<boolean> {
  const server = net.createServer()
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => resolve(true))
  })
  if (ok) await new Promise<void>((resolve) => server.close(() => resolve()))
  return ok
}

/** freeBasePort finds P with P..P+size-1 and P+100..P+100+size-1 all free (a port-0 bind suggests P). */
export async function freeBasePort(size: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const probe = net.createServer()
    const base = await new Promise<number>((resolve) =>
      probe.listen(0, '127.0.0.1', () => resolve((probe.address() as net.AddressInfo).port)),
    )
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    if (base + 100 + size > 65535) continue
    const ports = [...Array(size).keys()].flatMap((i) => [base + i, base + 100 + i])
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base
  }
  throw new Error('no free run of ports found')
}

/** alive tells whether a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** CliEnsemble is a running `conclave ensemble` process. */
export interface CliEnsemble {
  readonly child: ChildProcess
  /** output holds every line it printed so far, stdout and stderr. */
  readonly output: string[]
  readonly exited: Promise<number | null>
  /** memberPids lists the pids of the members it reported starting. */
  memberPids(): number[]
}

/** spawnCliEnsemble starts `conclave ensemble --size <size> --data <dir> --base-port <base>` in `dir`. */
export function spawnCliEnsemble(dir: string, base: number, size: number): CliEnsemble {
  const child = spawn(
    process.execPath,
    [
      CONCLAVE_CLI,
      'ensemble',
      '--size',
      String(size),
      '--data',
      dir,
      '--base-port',
      String(base),
      '--no-pretty',
    ],
    // Its connection file (.conclave-servers) goes to the directory it is started from:
    // the ensemble's own, not the repository.
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
  )
  const output: string[] = []
  for (const stream of [child.stdout, child.stderr])
    stream.on('data', (chunk: Buffer) =>
      output.push(...chunk.toString().split('\n').filter(Boolean)),
    )
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  return {
    child,
    output,
    exited,
    memberPids: () =>
      output
        .flatMap((l) => /^\[ensemble\] member \d+: .* pid (\d+)/.exec(l)?.slice(1) ?? [])
        .map(Number),
  }
}

/** waitForMembersServing waits until every member answers /health on ports base..base+size-1. */
export async function waitForMembersHealthy(
  ensemble: CliEnsemble,
  base: number,
  size: number,
): Promise<void> {
  for (let i = 0; i < size; i++) {
    await waitFor(
      async () =>
        (await fetch(`http://127.0.0.1:${base + i}/health`).catch(() => undefined))?.ok === true,
      {
        timeoutMs: 60_000,
        what: `member on ${base + i} to answer /health\n${ensemble.output.join('\n')}`,
      },
    )
  }
}
