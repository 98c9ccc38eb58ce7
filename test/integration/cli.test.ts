/**
 * The CLI as a newcomer uses it: `conclave shell -c` against a real server creates and
 * reads a node, and `conclave status` reports the server.
 */
import { execFile, spawn } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startServer, type ServerProcess } from '../helpers/server-process.js'
import { CONCLAVE_CLI } from '../helpers/cli-path.js'

const run = promisify(execFile)
const CLI = CONCLAVE_CLI
let server: ServerProcess

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

const shell = (command: string) =>
  run(process.execPath, [CLI, 'shell', '--servers', server.url, '-c', command])

it('creates and gets a node with shell -c', async () => {
  expect((await shell('create /app hello')).stdout.trim()).toBe('/app')
  expect((await shell('get /app')).stdout.trim()).toBe('hello')
  expect((await shell('create -s /app/job- "two words"')).stdout.trim()).toBe('/app/job-0000000000')
  expect((await shell('ls /app')).stdout.trim().split('\n')).toEqual(['job-0000000000'])
  expect((await shell('stat /app')).stdout).toMatch(/numChildren = 1/)
  expect((await shell('tree /')).stdout).toMatch(/app\n\s+job-0000000000/)
})

it('reports errors with their code and a non-zero exit', async () => {
  const failure = await shell('get /nothing').catch((err: { code: number; stderr: string }) => err)
  expect((failure as { code: number }).code).toBe(1)
  expect((failure as { stderr: string }).stderr).toMatch(/NO_NODE/)
})

it('authenticates with --auth and addauth, and reads and sets ACLs', async () => {
  const as = (auth: string, command: string) =>
    run(process.execPath, [CLI, 'shell', '--servers', server.url, '--auth', auth, '-c', command])
  expect((await as('digest:bob:pw', 'create --acl auth::cdrwa /bob mine')).stdout.trim()).toBe(
    '/bob',
  )
  const refused = await shell('get /bob').catch((err: { stderr: string }) => err)
  expect(refused.stderr).toMatch(/NO_AUTH/)
  expect((await as('digest:bob:pw', 'get /bob')).stdout.trim()).toBe('mine')
  const acl = (await as('digest:bob:pw', 'getacl /bob')).stdout.trim().split('\n')
  expect(acl).toEqual([
    expect.stringMatching(/^digest:bob:[A-Za-z0-9+/]{27}=:cdrwa$/),
    'aversion 0',
  ])
  expect((await as('digest:bob:pw', 'setacl /bob world:anyone:r -v 0')).stdout.trim()).toBe(
    'aversion 1',
  )
  expect((await shell('get /bob')).stdout.trim()).toBe('mine')
  expect((await shell('getacl /bob')).stdout.trim().split('\n')).toEqual([
    'world:anyone:r',
    'aversion 1',
  ])
  const bad = await shell('addauth digest nocolon').catch((err: { stderr: string }) => err)
  expect(bad.stderr).toMatch(/AUTH_FAILED/)
})

it('watch --from-zxid replays the changes after a zxid given as stat prints it', async () => {
  await shell('create /resume a')
  const czxid = /czxid = (0x[0-9a-f]+_[0-9a-f]{8})\n/.exec(
    (await shell('stat /resume')).stdout,
  )![1]!
  await shell('set /resume b')
  await shell('set /resume c')
  const { stdout } = await shell(`watch /resume --count 2 --from-zxid ${czxid}`)
  const events = stdout.trim().split('\n')
  expect(events).toEqual([
    expect.stringMatching(/^dataChanged \/resume zxid=0x[0-9a-f]+_[0-9a-f]{8}$/),
    expect.stringMatching(/^dataChanged \/resume zxid=0x[0-9a-f]+_[0-9a-f]{8}$/),
  ])
  // The printed zxid of the first event is accepted too: only the second change follows it.
  const first = events[0]!.slice(events[0]!.indexOf('zxid=') + 5)
  const again = await shell(`watch /resume --count 1 --from-zxid ${first}`)
  expect(again.stdout.trim()).toBe(events[1])
})

it('runs lines piped into the shell, printing results only (no banner, no prompts)', async () => {
  await shell('create /piped data')
  const child = spawn(process.execPath, [CLI, 'shell', '--servers', server.url], {
    env: { ...process.env, CONCLAVE_HISTORY_FILE: '' },
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdin.end('get /piped\nlss /\nls /piped\n')
  const code = await new Promise<number | null>((done) => child.once('exit', done))
  expect(code).toBe(0)
  expect(stdout).toBe('data\n')
  expect(stderr).toBe(
    "unknown command 'lss'. Did you mean 'ls'? Type 'help' for the list of commands.\n",
  )
})

it('shows status', async () => {
  const { stdout } = await run(process.execPath, [CLI, 'status', '--servers', server.url])
  expect(stdout).toMatch(/standalone/)
})

it('takes the servers from CONCLAVE_SERVERS when --servers is not given, in status and shell', async () => {
  const env = { ...process.env, CONCLAVE_SERVERS: server.url }
  const { stdout } = await run(process.execPath, [CLI, 'status'], { env })
  expect(stdout).toMatch(/standalone/)
  await run(process.execPath, [CLI, 'shell', '-c', 'create /from-env x'], { env })
  const { stdout: data } = await run(process.execPath, [CLI, 'shell', '-c', 'get /from-env'], {
    env,
  })
  expect(data.trim()).toBe('x')
  // --servers still wins: a port just freed, where nothing listens.
  const probe = createServer()
  const port = await new Promise<number>((done) =>
    probe.listen(0, '127.0.0.1', () => done((probe.address() as AddressInfo).port)),
  )
  await new Promise<void>((done) => probe.close(() => done()))
  const failure = (await run(process.execPath, [CLI, 'status', '--servers', `127.0.0.1:${port}`], {
    env,
  }).catch((err: unknown) => err)) as { code: number; stdout: string }
  expect(failure.code).toBe(1)
  // The cause, not fetch's bare "fetch failed".
  expect(failure.stdout).toMatch(/unreachable \([^)]*ECONNREFUSED/)
})

it('refuses a foreign or unusable data directory with a clear message, not a stack trace', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { tmpdir } = await import('node:os')
  const foreign = mkdtempSync(join(tmpdir(), 'conclave-foreign-'))
  writeFileSync(join(foreign, 'notes.txt'), 'not conclave data')
  const aFile = join(foreign, 'notes.txt')
  for (const [dir, pattern] of [
    [foreign, /not a Conclave data directory/],
    [aFile, /is a file, not a directory/],
  ] as const) {
    const failure = (await run(process.execPath, [
      CLI,
      'server',
      '--port',
      '0',
      '--data',
      dir,
      '--no-pretty',
    ]).catch((err: unknown) => err)) as {
      code: number
      stderr: string
    }
    expect(failure.code).toBe(2)
    expect(failure.stderr).toMatch(pattern)
    expect(failure.stderr).not.toMatch(/\n\s+at /) // no stack trace
  }
})
