/**
 * Conclave as its users get it: the packages are packed (`npm pack`) and installed from
 * their tarballs into fresh projects outside this repository, then used the way a
 * consumer would — plain Node.js (ESM and CommonJS), a TypeScript project with the
 * strictest settings, and a browser page bundled with esbuild running in headless
 * Chromium — each against a real server.
 */
import { execFile, spawn } from 'node:child_process'
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type ServerProcess } from '../helpers/server-process.js'
import { withDeadline } from '../helpers/wait.js'
import { chromiumPath, HEADLESS_ARGS } from './chromium.js'

const run = promisify(execFile)
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url))
// The native compiler by path: node_modules/.bin/tsc may be either of the two TypeScript
// packages (typescript, the JS API for typescript-eslint, and typescript-native).
const TSC = join(REPO_ROOT, 'node_modules/typescript-native/bin/tsc')
const OWN_VERSION = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
).version
/** SERVER_ONLY_PACKAGES must never reach a project that installs only the SDK. */
const SERVER_ONLY_PACKAGES = ['pino', 'yargs', 'prom-client', 'tsx', 'esbuild', 'typescript']

let scratch: string
let server: ServerProcess
let sdkProject: string
let fullProject: string

/** pack runs `npm pack` in `dir` (already built by the test setup) and returns the tarball's path. */
async function pack(dir: string, into: string): Promise<string> {
  const { stdout } = await run(
    'npm',
    ['pack', '--json', '--ignore-scripts', '--pack-destination', into],
    { cwd: dir },
  )
  const [info] = JSON.parse(stdout) as [{ filename: string }]
  return join(into, info.filename)
}

/** project makes an empty consumer project and installs `tarball` into it from the registry's point of view. */
async function project(name: string, tarball: string): Promise<string> {
  const dir = join(scratch, name)
  mkdirSync(dir)
  // A version of its own, so a CLI that read the nearest package.json would say 9.9.9.
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name, version: '9.9.9', private: true, type: 'module' }),
  )
  await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball],
    { cwd: dir },
  )
  return dir
}

/** installedPackages lists every package in a project's node_modules (from npm's hidden lockfile). */
function installedPackages(dir: string): string[] {
  const lock = JSON.parse(readFileSync(join(dir, 'node_modules/.package-lock.json'), 'utf8')) as {
    packages: Record<string, unknown>
  }
  return Object.keys(lock.packages).map((path) =>
    path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length),
  )
}

/** inProject copies a fixture program into a consumer project (its imports resolve from there) and returns its path. */
function inProject(dir: string, fixture: string): string {
  const path = join(dir, fixture)
  copyFileSync(join(FIXTURES, fixture), path)
  return path
}

/** bytesUnder sums the sizes of the files under `dir`. */
function bytesUnder(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) total += bytesUnder(path)
    else if (entry.isFile()) total += statSync(path).size
  }
  return total
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'conclave-consumer-'))
  server = await startServer()
  const [fullTarball, sdkTarball] = await Promise.all([
    pack(REPO_ROOT, scratch),
    pack(join(REPO_ROOT, 'client'), scratch),
  ])
  // One after the other: two npm installs at once fight over npm's cache.
  sdkProject = await project('sdk-consumer', sdkTarball)
  fullProject = await project('full-consumer', fullTarball)
}, 240_000)

afterAll(async () => {
  await server?.stop()
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true })
})

describe('the SDK alone (@conclave/client)', () => {
  it('installs without the server or its dependencies', () => {
    const packages = installedPackages(sdkProject)
    expect(packages).toEqual(expect.arrayContaining(['@conclave/client', 'ws', 'msgpackr']))
    expect(
      packages.filter((name) => SERVER_ONLY_PACKAGES.includes(name) || name === 'conclave'),
    ).toEqual([])
    const shipped = readdirSync(join(sdkProject, 'node_modules/@conclave/client/dist'))
    expect(shipped.sort()).toEqual(['client', 'protocol'])
    const sizeKiB = Math.round(bytesUnder(join(sdkProject, 'node_modules')) / 1024)
    console.info(`SDK alone: ${packages.length} packages, ${sizeKiB} KiB installed (node_modules)`)
  })

  it('works from plain Node.js ESM', async () => {
    const { stdout } = await run(
      process.execPath,
      [inProject(sdkProject, 'node-esm.mjs'), '@conclave/client', server.url, '/consumer-sdk-esm'],
      { cwd: sdkProject },
    )
    expect(JSON.parse(stdout)).toEqual({
      created: '/consumer-sdk-esm',
      data: 'changed',
      missing: true,
      event: 'dataChanged',
    })
  })

  it('works from CommonJS (require of the ES module, Node.js 20.19+)', async () => {
    const { stdout } = await run(
      process.execPath,
      [inProject(sdkProject, 'node-cjs.cjs'), '@conclave/client'],
      { cwd: sdkProject },
    )
    expect(JSON.parse(stdout)).toEqual({ connect: 'function', ephemeral: 'ephemeral' })
  })

  it('compiles in a strict TypeScript project, with browser types and with Node.js types', async () => {
    for (const [variant, options] of Object.entries(STRICT_TS_VARIANTS)) {
      const errors = await compileStrict(sdkProject, '@conclave/client', variant, options)
      expect(errors, `${variant}: tsc output`).toBe('')
    }
  })

  it('runs in a browser: bundled by esbuild with no plugin, in headless Chromium, against a real server', async () => {
    const bundle = await build({
      entryPoints: [join(FIXTURES, 'browser-entry.js')],
      // Resolve the SDK from the consumer's node_modules, as the consumer's own bundler would.
      nodePaths: [join(sdkProject, 'node_modules')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    })
    const script = bundle.outputFiles[0]!.text
    expect(script).not.toMatch(/from\s*["']node:/)
    const result = await inBrowser(script, { server: server.url, path: '/consumer-browser' })
    expect(result).toMatchObject({
      created: '/consumer-browser',
      data: 'changed in the browser',
      event: 'dataChanged',
    })
    expect(String(result.userAgent)).toMatch(/Chrome/)
  })
})

describe('the whole package (conclave)', () => {
  it('serves the SDK as conclave/client to plain Node.js and to strict TypeScript', async () => {
    const { stdout } = await run(
      process.execPath,
      [inProject(fullProject, 'node-esm.mjs'), 'conclave/client', server.url, '/consumer-full-esm'],
      { cwd: fullProject },
    )
    expect(JSON.parse(stdout)).toEqual({
      created: '/consumer-full-esm',
      data: 'changed',
      missing: true,
      event: 'dataChanged',
    })
    const errors = await compileStrict(
      fullProject,
      'conclave/client',
      'dom',
      STRICT_TS_VARIANTS.dom,
    )
    expect(errors).toBe('')
  })

  it('installs a conclave command that runs built JavaScript and knows its own version', async () => {
    const packages = installedPackages(fullProject)
    expect(
      packages.filter((name) => name === 'tsx' || name === 'esbuild' || name === 'typescript'),
    ).toEqual([])
    console.info(
      `whole package: ${packages.length} packages, ${Math.round(bytesUnder(join(fullProject, 'node_modules')) / 1024)} KiB installed (node_modules)`,
    )
    const { stdout } = await run(join(fullProject, 'node_modules/.bin/conclave'), ['--version'], {
      cwd: fullProject,
    })
    expect(stdout.trim()).toBe(OWN_VERSION)
    const status = await run(
      join(fullProject, 'node_modules/.bin/conclave'),
      ['status', '--servers', server.url],
      { cwd: fullProject },
    )
    expect(status.stdout).toMatch(/standalone/)
    // The web console ships built, so an installed server serves it under /ui/.
    expect(readdirSync(join(fullProject, 'node_modules/conclave/dist/ui')).sort()).toEqual([
      'app.js',
      'index.html',
      'style.css',
    ])
  })
})

/**
 * STRICT_TS_VARIANTS: a browser project (DOM, no Node types), a Node.js project (Node
 * types, no DOM) and one on the newest lib with both, where the SDK's declarations must
 * merge with TypeScript's and Node's own.
 */
const STRICT_TS_VARIANTS = {
  dom: { lib: ['ES2022', 'DOM'], types: [] as string[] },
  node: { lib: ['ES2022'], types: ['node'] },
  esnext: { lib: ['ESNext', 'DOM'], types: ['node'] },
}

/** compileStrict type-checks the strict fixture importing `packageName` in `dir`; returns tsc's output (empty when clean). */
async function compileStrict(
  dir: string,
  packageName: string,
  variant: string,
  options: { lib: string[]; types: string[] },
): Promise<string> {
  const source = join(dir, `strict-${variant}.ts`)
  writeFileSync(
    source,
    readFileSync(join(FIXTURES, 'strict.ts'), 'utf8').replaceAll('CONCLAVE_PACKAGE', packageName),
  )
  const tsconfig = join(dir, `tsconfig.${variant}.json`)
  writeFileSync(
    tsconfig,
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        noImplicitOverride: true,
        noPropertyAccessFromIndexSignature: true,
        skipLibCheck: false,
        noEmit: true,
        lib: options.lib,
        types: options.types,
        // Node's types come from this repository; the consumer installs nothing for them.
        typeRoots: [join(REPO_ROOT, 'node_modules/@types')],
      },
      files: [source],
    }),
  )
  const result = await run(TSC, ['-p', tsconfig], { cwd: dir }).catch(
    (err: { stdout: string; stderr: string }) => err,
  )
  return `${result.stdout}${result.stderr}`.trim()
}

/**
 * inBrowser serves a page running `script` and opens it in headless Chromium; resolves
 * with what the page posts to /result.
 */
async function inBrowser(
  script: string,
  query: Record<string, string>,
): Promise<Record<string, unknown>> {
  let posted: (body: Record<string, unknown>) => void = () => {}
  const result = new Promise<Record<string, unknown>>((resolve) => (posted = resolve))
  const http: Server = createServer((request, response) => {
    if (request.method === 'POST' && request.url === '/result') {
      let body = ''
      request.on('data', (chunk: Buffer) => (body += chunk.toString()))
      request.on('end', () => {
        response.end('ok')
        posted(JSON.parse(body) as Record<string, unknown>)
      })
      return
    }
    if (request.url === '/app.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(script)
      return
    }
    response
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><title>conclave</title><script type="module" src="/app.js"></script>')
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const page = `http://127.0.0.1:${(http.address() as AddressInfo).port}/?${new URLSearchParams(query).toString()}`
  const profile = mkdtempSync(join(scratch, 'chromium-'))
  const browser = spawn(chromiumPath(), [...HEADLESS_ARGS, `--user-data-dir=${profile}`, page], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let browserErrors = ''
  browser.stderr.on(
    'data',
    (chunk: Buffer) => (browserErrors = (browserErrors + chunk.toString()).slice(-4000)),
  )
  const exited = new Promise<never>((_, reject) =>
    browser.once('exit', (code) =>
      reject(new Error(`chromium exited (${code}) before the page reported: ${browserErrors}`)),
    ),
  )
  try {
    const body = await withDeadline(
      Promise.race([result, exited]),
      60_000,
      'the browser page to report',
    )
    if (typeof body.error === 'string') throw new Error(`the page failed: ${body.error}`)
    return body
  } finally {
    browser.kill('SIGKILL')
    await new Promise<void>((resolve) => http.close(() => resolve()))
  }
}
