/**
 * The interactive shell as a user at a terminal meets it (issue 14), against a real
 * `conclave ensemble` on non-default ports: started from the ensemble's directory
 * without --servers it finds the members in .conclave-servers and says which one it
 * is connected to; Tab completes a command and a znode path from the server; and after
 * quitting and starting again, the up arrow brings back the earlier session's line.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  alive,
  freeBasePort,
  spawnCliEnsemble,
  waitForMembersHealthy,
  type CliEnsemble,
} from '../helpers/cli-ensemble.js'
import { CONCLAVE_CLI } from '../helpers/cli-path.js'
import { assertScriptAvailable, KEYS, spawnInPty, type Pty } from '../helpers/pty.js'
import { waitFor, withDeadline } from '../helpers/wait.js'

const run = promisify(execFile)
const SIZE = 3

const dir = mkdtempSync(join(tmpdir(), 'conclave-shell-pty-'))
const historyFile = join(dir, 'history')
/** env is the shell's environment: no $CONCLAVE_SERVERS, so the connection file is what it finds. */
const env: NodeJS.ProcessEnv = { ...process.env, CONCLAVE_HISTORY_FILE: historyFile }
delete env.CONCLAVE_SERVERS
let base = 0
let ensemble: CliEnsemble | undefined
const shells: Pty[] = []

beforeAll(async () => {
  assertScriptAvailable()
  base = await freeBasePort(SIZE)
  ensemble = spawnCliEnsemble(dir, base, SIZE)
  await waitForMembersHealthy(ensemble, base, SIZE)
  // /health answers before an election; a write needs a serving leader and follower.
  await waitFor(
    async () =>
      (
        await run(process.execPath, [CONCLAVE_CLI, 'shell', '-c', 'create -p /app/config/db x'], {
          cwd: dir,
          env,
        }).catch(() => undefined)
      )?.stdout.trim() === '/app/config/db',
    { timeoutMs: 60_000, what: `the ensemble to take a write\n${ensemble.output.join('\n')}` },
  )
  await run(process.execPath, [CONCLAVE_CLI, 'shell', '-c', 'create /app/consumers y'], {
    cwd: dir,
    env,
  })
}, 120_000)

afterAll(async () => {
  for (const shell of shells) if (shell.child.exitCode === null) shell.child.kill('SIGKILL')
  if (ensemble === undefined) return
  ensemble.child.kill('SIGINT')
  await withDeadline(ensemble.exited, 30_000, 'the ensemble to stop').catch(() => {
    ensemble!.child.kill('SIGKILL')
    for (const pid of ensemble!.memberPids()) if (alive(pid)) process.kill(pid, 'SIGKILL')
  })
})

/** startShell starts `conclave shell` in a terminal, in the ensemble's directory, and waits for its prompt. */
async function startShell(): Promise<Pty> {
  const shell = spawnInPty([process.execPath, CONCLAVE_CLI, 'shell'], { cwd: dir, env })
  shells.push(shell)
  await shell.waitForScreen('conclave> ', 0, 'the first prompt', 20_000)
  return shell
}

/** typeAndSee types `text` and waits until the terminal has echoed it, so a following Tab is a key of its own. */
async function typeAndSee(shell: Pty, text: string): Promise<number> {
  const from = shell.screen().length
  shell.type(text)
  return shell.waitForScreen(text, from, `the echo of ${JSON.stringify(text)}`)
}

it(
  'finds the ensemble from its connection file, completes commands and paths on Tab, and keeps history across sessions',
  { timeout: 120_000 },
  async () => {
    const first = await startShell()
    const members = [...Array(SIZE).keys()].map((i) => `ws://127.0.0.1:${base + i}`)
    const banner =
      /Connected to (ws:\/\/127\.0\.0\.1:\d+) \(server (\d)\), session 0x[0-9a-f]+\./.exec(
        first.screen(),
      )
    expect(banner, first.screen()).not.toBeNull()
    expect(members).toContain(banner![1])

    // A command: 'cre' + Tab becomes 'create '.
    let mark = await typeAndSee(first, 'cre')
    first.type(KEYS.tab)
    await first.waitForScreen(/^ate $/m, mark, "Tab to complete 'cre' to 'create '")
    first.type(KEYS.clearLine)

    // A path: the common prefix of /app's children first, then the list, then the one.
    mark = await typeAndSee(first, 'ls /app/co')
    first.type(KEYS.tab)
    mark = await first.waitForScreen(/^n/, mark, "Tab to complete '/app/co' to '/app/con'")
    first.type(KEYS.tab)
    await first.waitForScreen(
      /\/app\/config\s+\/app\/consumers/,
      mark,
      'a second Tab to list both children',
    )
    mark = await typeAndSee(first, 'f')
    first.type(KEYS.tab)
    mark = await first.waitForScreen(/^ig/, mark, "Tab to complete '/app/conf' to '/app/config'")
    first.type(KEYS.enter)
    mark = await first.waitForScreen(/^db$/m, mark, 'ls /app/config to list db')

    await typeAndSee(first, 'get /app/config/db')
    first.type(KEYS.enter)
    mark = await first.waitForScreen(/^x$/m, mark, 'get to print the data')
    await typeAndSee(first, 'addauth digest someone:secret')
    first.type(KEYS.enter)
    await first.waitForScreen('conclave> ', mark + 1, 'the prompt after addauth')
    await typeAndSee(first, 'quit')
    first.type(KEYS.enter)
    expect(await withDeadline(first.exited, 10_000, 'the shell to quit')).toBe(0)

    const saved = readFileSync(historyFile, 'utf8').split('\n')
    expect(saved).toEqual(['ls /app/config', 'get /app/config/db', 'quit', ''])

    // A new session: up once is 'quit', twice the earlier session's get (addauth was not kept).
    const second = await startShell()
    mark = second.screen().length
    second.type(KEYS.up)
    mark = await second.waitForScreen('quit', mark, 'the up arrow to bring back quit')
    second.type(KEYS.up)
    mark = await second.waitForScreen(
      'get /app/config/db',
      mark,
      'a second up arrow to bring back get',
    )
    second.type(KEYS.enter)
    await second.waitForScreen(/^x$/m, mark, 'the recalled get to print the data')
    second.type('quit' + KEYS.enter)
    expect(await withDeadline(second.exited, 10_000, 'the second shell to quit')).toBe(0)
  },
)
