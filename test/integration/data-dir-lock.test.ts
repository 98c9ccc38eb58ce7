/**
 * One process per data directory: a second server (or `conclave repair`) on a
 * directory a live server uses is refused with one line and exit 2; a lock left by a
 * killed server is taken over on the next start.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, expect, it } from 'vitest'
import { startServer, type ServerProcess } from '../helpers/server-process.js'
import { CONCLAVE_CLI } from '../helpers/cli-path.js'

const run = promisify(execFile)
const CLI = CONCLAVE_CLI
const started: ServerProcess[] = []
afterAll(async () => {
  for (const server of started) await server.stop().catch(() => {})
})

async function refusal(args: string[]): Promise<{ code: number; stderr: string }> {
  return (await run(process.execPath, [CLI, ...args]).then(
    () => ({ code: 0, stderr: '' }),
    (err: unknown) => err,
  )) as { code: number; stderr: string }
}

it('refuses a second server and a repair on a directory in use, and takes over the lock of a killed server', async () => {
  const first = await startServer()
  started.push(first)
  const pid = Number.parseInt(readFileSync(join(first.dataDir, 'lock'), 'utf8'), 10)
  expect(pid).toBe(first.child.pid)

  const second = await refusal(['server', '--port', '0', '--data', first.dataDir, '--no-pretty'])
  expect(second.code).toBe(2)
  expect(second.stderr).toMatch(new RegExp(`in use by another process \\(pid ${pid}\\)`))
  expect(second.stderr).not.toMatch(/\n\s+at /)
  const repair = await refusal(['repair', '--data', first.dataDir])
  expect(repair.code).toBe(2)
  expect(repair.stderr).toMatch(/in use by another process/)

  first.kill('SIGKILL')
  await first.exited
  const again = await startServer({ dataDir: first.dataDir })
  started.push(again)
  expect(Number.parseInt(readFileSync(join(first.dataDir, 'lock'), 'utf8'), 10)).toBe(
    again.child.pid,
  )
})
