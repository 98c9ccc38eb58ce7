/**
 * The supervisor behind `npm start` (`conclave ensemble`, issue 14): its members never
 * outlive it, however it dies (kill -9, a closed terminal's SIGHUP), and a second start
 * on a data directory a running ensemble holds refuses in one line naming the pid,
 * without touching any of the running ensemble's files.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  alive,
  freeBasePort,
  spawnCliEnsemble,
  waitForMembersHealthy,
  type CliEnsemble,
} from '../helpers/cli-ensemble.js'
import { waitFor, withDeadline } from '../helpers/wait.js'

const SIZE = 3
const started: CliEnsemble[] = []

afterEach(() => {
  for (const ensemble of started.splice(0)) {
    if (ensemble.child.exitCode === null) ensemble.child.kill('SIGKILL')
    for (const pid of ensemble.memberPids()) if (alive(pid)) process.kill(pid, 'SIGKILL')
  }
})

/**
 * supervisorFiles maps every file under `dir` that the supervisor writes (the secret, each
 * member's config) to its content and mtime; the members' own data directories, which
 * the running members write, are left out.
 */
function supervisorFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>()
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name)
      const stat = statSync(path)
      if (stat.isDirectory()) {
        if (name !== 'data') walk(path)
      } else files.set(path, `${stat.mtimeMs} ${readFileSync(path).toString('base64')}`)
    }
  }
  walk(dir)
  return files
}

describe('conclave ensemble as a supervisor', () => {
  for (const signal of ['SIGKILL', 'SIGHUP'] as const) {
    it(
      `leaves no member running once it is killed with ${signal}`,
      { timeout: 120_000 },
      async () => {
        const base = await freeBasePort(SIZE)
        const ensemble = spawnCliEnsemble(
          mkdtempSync(join(tmpdir(), 'conclave-supervised-')),
          base,
          SIZE,
        )
        started.push(ensemble)
        await waitForMembersHealthy(ensemble, base, SIZE)
        const pids = ensemble.memberPids()
        expect(pids).toHaveLength(SIZE)
        ensemble.child.kill(signal)
        await withDeadline(ensemble.exited, 10_000, 'the supervisor to exit')
        await waitFor(() => pids.every((pid) => !alive(pid)), {
          timeoutMs: 5_000,
          what: `members ${pids.join(', ')} to exit after the supervisor's ${signal}`,
        })
      },
    )
  }

  it(
    'refuses a second start on a live data directory in one line naming the pid, changing no file',
    { timeout: 120_000 },
    async () => {
      const base = await freeBasePort(SIZE)
      const dir = mkdtempSync(join(tmpdir(), 'conclave-supervised-'))
      const first = spawnCliEnsemble(dir, base, SIZE)
      started.push(first)
      await waitForMembersHealthy(first, base, SIZE)
      const before = supervisorFiles(dir)
      const otherBase = await freeBasePort(SIZE)
      const second = spawnCliEnsemble(dir, otherBase, SIZE)
      started.push(second)
      expect(await withDeadline(second.exited, 30_000, 'the second start to refuse')).toBe(2)
      const pids = first.memberPids()
      expect(second.output.join('\n')).toMatch(
        new RegExp(
          `data directory .* is in use by pid (${pids.join('|')}): an ensemble is already running`,
        ),
      )
      expect(second.memberPids()).toEqual([])
      // Lock files and logs of the running members may not change: compare everything else too.
      expect(supervisorFiles(dir)).toEqual(before)
    },
  )
})
