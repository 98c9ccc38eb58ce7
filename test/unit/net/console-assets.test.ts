/*
 * Goal: the client port serves the web console's three files under /ui/ (the page at
 * /ui/, /ui redirected there) with a content security policy, nothing else under /ui/
 * (no path reaches the file system), a 404 naming `npm run build` when the console is
 * not built; and it answers /status (and a preflight for it) with CORS headers only for
 * the members' origins. Method: a real ClientListener on a free port, raw HTTP requests.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { ClientListener } from '../../../server/net/client-listener.js'
import { loadConsoleAssets, type ConsoleAssets } from '../../../server/net/console-assets.js'

let listener: ClientListener | undefined
const dirs: string[] = []

afterEach(async () => {
  await listener?.close()
  listener = undefined
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** built writes a console build into a temp folder (all three files, or some). */
function built(files = ['index.html', 'style.css', 'app.js']): string {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-ui-'))
  dirs.push(dir)
  for (const file of files) writeFileSync(join(dir, file), `contents of ${file}`)
  return dir
}

async function start(
  console: ConsoleAssets | undefined,
  memberOrigins: string[] = [],
): Promise<number> {
  listener = await ClientListener.listen(
    {
      host: '127.0.0.1',
      port: 0,
      frameBytesMax: 1024,
      maxConnections: 10,
      maxConnectionsPerAddress: 10,
      memberOrigins,
      ...(console === undefined ? {} : { console }),
    },
    {
      onOpen: () => undefined,
      onFrame: () => undefined,
      onClose: () => undefined,
      health: () => ({ status: 200, body: { ok: true } }),
      status: () => ({ status: 200, body: { role: 'test' } }),
    },
    pino({ level: 'silent' }),
  )
  return listener.port
}

/** request sends one raw HTTP request (the path as given, not normalized as fetch would). */
function request(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        let body = ''
        res.on('data', (chunk: Buffer) => (body += chunk.toString()))
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

describe('the console files', () => {
  it('are loaded only when all three are built', () => {
    expect(loadConsoleAssets(built(['index.html', 'style.css']))).toBeUndefined()
    expect([...loadConsoleAssets(built())!.keys()].sort()).toEqual([
      '',
      'app.js',
      'index.html',
      'style.css',
    ])
  })

  it('are served under /ui/ with their types and a content security policy, and nothing else is', async () => {
    const port = await start(loadConsoleAssets(built()))
    const page = await request(port, '/ui/')
    expect(page.status).toBe(200)
    expect(page.body).toBe('contents of index.html')
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/)
    expect(page.headers['x-content-type-options']).toBe('nosniff')
    const script = await request(port, '/ui/app.js?v=1')
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(script.body).toBe('contents of app.js')
    const redirect = await request(port, '/ui')
    expect(redirect.status).toBe(301)
    expect(redirect.headers.location).toBe('/ui/')
    for (const path of [
      '/ui/nope.js',
      '/ui/../package.json',
      '/ui/%2e%2e/package.json',
      '/ui//app.js',
    ])
      expect((await request(port, path)).status, path).toBe(404)
    expect((await request(port, '/ui/', { method: 'POST' })).status).toBe(405)
  })

  it('answer that the console is not built when they are missing', async () => {
    const port = await start(undefined)
    const reply = await request(port, '/ui/')
    expect(reply.status).toBe(404)
    expect(reply.body).toMatch(/npm run build/)
  })
})

describe('CORS for console pages on other members', () => {
  it("answers /status and /health to the members' origins only, and a preflight for /status", async () => {
    const member = 'http://127.0.0.1:2282'
    const port = await start(undefined, [member])
    const allowed = await request(port, '/status', { headers: { origin: member } })
    expect(allowed.headers['access-control-allow-origin']).toBe(member)
    expect(allowed.headers.vary).toBe('origin')
    const health = await request(port, '/health', { headers: { origin: member } })
    expect(health.headers['access-control-allow-origin']).toBe(member)
    const stranger = await request(port, '/status', { headers: { origin: 'http://evil.example' } })
    expect(stranger.status).toBe(200)
    expect(stranger.headers['access-control-allow-origin']).toBeUndefined()
    const otherPath = await request(port, '/metrics', { headers: { origin: member } })
    expect(otherPath.headers['access-control-allow-origin']).toBeUndefined()
    const preflight = await request(port, '/status', {
      method: 'OPTIONS',
      headers: { origin: member, 'access-control-request-headers': 'authorization' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers['access-control-allow-headers']).toBe('authorization')
    const strangerPreflight = await request(port, '/status', {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example' },
    })
    expect(strangerPreflight.status).toBe(405)
  })
})
