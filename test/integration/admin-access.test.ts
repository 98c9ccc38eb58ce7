/**
 * Who may read /status and /metrics (issues 12, 14): with `adminAccess: "token"` a real
 * server answers them only with `authorization: Bearer <token>` (401 otherwise, also for
 * a wrong token), /health stays open, and `conclave status --admin-token-file` still
 * works. With `adminAccess: "loopback"` (a ClientListener on all addresses) they (and the web
 * console under /ui/) answer
 * loopback clients and refuse one coming over the host's other address with 403.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { ClientListener } from '../../server/net/client-listener.js'
import { CONCLAVE_CLI } from '../helpers/cli-path.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'

let dir: string
let server: ServerProcess
const TOKEN = 'admin-token-for-tests-0123456789'

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'conclave-admin-'))
  writeFileSync(join(dir, 'admin-token'), `${TOKEN}\n`, { mode: 0o600 })
  const configFile = join(dir, 'config.json')
  writeFileSync(configFile, JSON.stringify({ adminAccess: 'token', adminTokenFile: 'admin-token' }))
  server = await startServer({ args: ['--config', configFile] })
})
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** run runs the CLI and resolves with its exit code and stdout. */
function run(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [CONCLAVE_CLI, ...args], { timeout: 20_000 }, (err, stdout) =>
      resolve({ code: err === null ? 0 : Number(err.code ?? 1), stdout }),
    ),
  )
}

it("adminAccess 'token': /status needs the token, /health does not; conclave status passes it", async () => {
  const base = server.url.replace('ws://', 'http://')
  expect((await fetch(`${base}/health`)).status).toBe(200)
  const bare = await fetch(`${base}/status`)
  expect(bare.status).toBe(401)
  expect(((await bare.json()) as { error: string }).error).toMatch(/admin token/)
  const wrong = await fetch(`${base}/status`, { headers: { authorization: 'Bearer nope' } })
  expect(wrong.status).toBe(401)
  const right = await fetch(`${base}/status`, { headers: { authorization: `Bearer ${TOKEN}` } })
  expect(right.status).toBe(200)
  expect(((await right.json()) as { role: string }).role).toBe('standalone')
  expect((await fetch(`${base}/metrics`)).status).toBe(401)
  const wrongMetrics = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer no' } })
  expect(wrongMetrics.status).toBe(401)
  const metrics = await fetch(`${base}/metrics`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  })
  expect(metrics.status).toBe(200)
  expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  expect(await metrics.text()).toContain('conclave_role{role="standalone"} 1')
  // The console's files hold no data: they load without the token (the page asks for it).
  expect((await fetch(`${base}/ui/`)).status).toBe(200)

  const without = await run(['status', '--json', '--servers', server.url])
  expect(without.code).toBe(1)
  expect(without.stdout).toContain('HTTP 401')
  const withToken = await run([
    'status',
    '--json',
    '--servers',
    server.url,
    '--admin-token-file',
    join(dir, 'admin-token'),
  ])
  expect(withToken.code).toBe(0)
  expect((JSON.parse(withToken.stdout) as { role: string }[])[0]!.role).toBe('standalone')
})

it("adminAccess 'loopback': /status answers this host's loopback only", async () => {
  const listener = await ClientListener.listen(
    {
      host: '0.0.0.0',
      port: 0,
      frameBytesMax: 1024,
      maxConnections: 10,
      maxConnectionsPerAddress: 10,
      admin: { access: 'loopback' },
      console: new Map([['', { contentType: 'text/html', body: Buffer.from('<p>console</p>') }]]),
    },
    {
      onOpen: () => undefined,
      onFrame: () => undefined,
      onClose: () => undefined,
      health: () => ({ status: 200, body: {} }),
      status: () => ({ status: 200, body: { role: 'test' } }),
      metrics: async () => ({ contentType: 'text/plain', text: 'm 1\n' }),
    },
    pino({ level: 'silent' }),
  )
  try {
    expect((await fetch(`http://127.0.0.1:${listener.port}/status`)).status).toBe(200)
    expect((await fetch(`http://127.0.0.1:${listener.port}/ui/`)).status).toBe(200)
    expect((await fetch(`http://127.0.0.1:${listener.port}/metrics`)).status).toBe(200)
    const other = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && !a.internal && a.family === 'IPv4')
    if (other !== undefined) {
      const remote = await fetch(`http://${other.address}:${listener.port}/status`)
      expect(remote.status).toBe(403)
      expect((await fetch(`http://${other.address}:${listener.port}/metrics`)).status).toBe(403)
      expect((await fetch(`http://${other.address}:${listener.port}/health`)).status).toBe(200)
      // The web console follows /status here: this host only.
      expect((await fetch(`http://${other.address}:${listener.port}/ui/`)).status).toBe(403)
    }
  } finally {
    await listener.close()
  }
})
