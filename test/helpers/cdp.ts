/**
 * A headless Chromium driven over the DevTools protocol (CDP) with the `ws` package, for
 * tests of the web console: launch, navigate, evaluate in the page, screenshot. No
 * puppeteer: the protocol calls a test needs are a handful. The browser is found as the
 * consumer test finds it (test/consumer/chromium.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import WebSocket from 'ws'
import { chromiumPath, HEADLESS_ARGS } from '../consumer/chromium.js'
import { withDeadline } from './wait.js'

/** CDP_CALL_TIMEOUT_MS bounds one protocol call. */
const CDP_CALL_TIMEOUT_MS = 15_000

/** BrowserPage is one page of a headless Chromium. */
export interface BrowserPage {
  /** navigate loads `url` and resolves once the page fired its load event. */
  navigate(url: string): Promise<void>
  /** evaluate runs `expression` in the page (promises awaited) and returns its value as JSON. */
  evaluate<T = unknown>(expression: string): Promise<T>
  /** screenshot saves a PNG of the viewport to `file`. */
  screenshot(file: string): Promise<void>
  /** log is what the page printed and threw (console, exceptions), for failure messages. */
  readonly log: readonly string[]
  /** close ends the browser and removes its profile. */
  close(): Promise<void>
}

/** launchBrowser starts headless Chromium with a `width`x`height` viewport and attaches to its page. */
export async function launchBrowser(
  options: { width?: number; height?: number } = {},
): Promise<BrowserPage> {
  const profile = mkdtempSync(join(tmpdir(), 'conclave-chromium-'))
  const browser = spawn(
    chromiumPath(),
    [
      ...HEADLESS_ARGS,
      '--hide-scrollbars',
      '--remote-debugging-port=0',
      `--window-size=${options.width ?? 1400},${options.height ?? 1000}`,
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    // Its own process group, so close() ends its helper processes (renderer, GPU) too.
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  )
  try {
    const browserUrl = await withDeadline(devToolsUrl(browser), 30_000, 'Chromium to start')
    const port = new URL(browserUrl).port
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
      type: string
      webSocketDebuggerUrl: string
    }[]
    const target = targets.find((t) => t.type === 'page')
    if (target === undefined) throw new Error('Chromium opened no page')
    const session = await CdpSession.open(target.webSocketDebuggerUrl)
    await session.call('Page.enable')
    await session.call('Runtime.enable')
    return pageOf(session, browser, profile)
  } catch (err) {
    killGroup(browser)
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
    throw err
  }
}

/** killGroup ends the browser and every process it started (its process group). */
function killGroup(browser: ChildProcess): void {
  try {
    process.kill(-browser.pid!, 'SIGKILL')
  } catch {
    browser.kill('SIGKILL')
  }
}

/** devToolsUrl reads the browser's DevTools WebSocket URL from its stderr. */
function devToolsUrl(browser: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = ''
    browser.stderr!.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000)
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(output)
      if (match !== null) resolve(match[1]!)
    })
    browser.once('exit', (code) => reject(new Error(`Chromium exited (${code}): ${output}`)))
  })
}

function pageOf(session: CdpSession, browser: ChildProcess, profile: string): BrowserPage {
  const log: string[] = []
  session.on('Runtime.consoleAPICalled', (params) => {
    const { type, args } = params as { type: string; args: { value?: unknown }[] }
    log.push(`console.${type}: ${args.map((a) => String(a.value)).join(' ')}`)
  })
  session.on('Runtime.exceptionThrown', (params) => {
    const { exceptionDetails } = params as {
      exceptionDetails: { text: string; exception?: { description?: string } }
    }
    log.push(`exception: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`)
  })
  return {
    log,
    async navigate(url) {
      const loaded = session.once('Page.loadEventFired')
      const result = (await session.call('Page.navigate', { url })) as { errorText?: string }
      if (result.errorText !== undefined)
        throw new Error(`navigating to ${url}: ${result.errorText}`)
      await withDeadline(loaded, 30_000, `the page ${url} to load`)
    },
    async evaluate<T>(expression: string): Promise<T> {
      const reply = (await session.call('Runtime.evaluate', {
        expression,
        awaitPromise: true,
        returnByValue: true,
      })) as {
        result: { value?: unknown }
        exceptionDetails?: { text: string; exception?: { description?: string } }
      }
      if (reply.exceptionDetails !== undefined) {
        const details = reply.exceptionDetails
        throw new Error(`in the page: ${details.exception?.description ?? details.text}`)
      }
      return reply.result.value as T
    },
    async screenshot(file) {
      const { data } = (await session.call('Page.captureScreenshot', { format: 'png' })) as {
        data: string
      }
      mkdirSync(dirname(file), { recursive: true })
      writeFileSync(file, Buffer.from(data, 'base64'))
    },
    async close() {
      session.close()
      const exited = new Promise<void>((resolve) => browser.once('exit', () => resolve()))
      killGroup(browser)
      await exited
      // A helper may still be flushing into the profile for a moment after the kill.
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
    },
  }
}

/** CdpSession is one DevTools protocol connection: calls by id, events by name. */
class CdpSession {
  private nextId = 1
  private readonly pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (err: Error) => void }
  >()
  private readonly listeners = new Map<string, ((params: unknown) => void)[]>()

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (raw: Buffer) => {
      const message = JSON.parse(raw.toString()) as {
        id?: number
        method?: string
        params?: unknown
        result?: unknown
        error?: { message: string }
      }
      if (message.id !== undefined) {
        const call = this.pending.get(message.id)
        this.pending.delete(message.id)
        if (message.error !== undefined) call?.reject(new Error(`CDP: ${message.error.message}`))
        else call?.resolve(message.result)
      } else if (message.method !== undefined) {
        for (const listener of this.listeners.get(message.method) ?? []) listener(message.params)
      }
    })
    socket.on('close', () => {
      for (const call of this.pending.values()) call.reject(new Error('CDP connection closed'))
      this.pending.clear()
    })
  }

  static async open(url: string): Promise<CdpSession> {
    const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 })
    await new Promise<void>((resolve, reject) => {
      socket.once('open', resolve)
      socket.once('error', reject)
    })
    return new CdpSession(socket)
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.nextId++
    const reply = new Promise<unknown>((resolve, reject) =>
      this.pending.set(id, { resolve, reject }),
    )
    this.socket.send(JSON.stringify({ id, method, params }))
    return withDeadline(reply, CDP_CALL_TIMEOUT_MS, `CDP ${method}`)
  }

  on(method: string, listener: (params: unknown) => void): void {
    this.listeners.set(method, [...(this.listeners.get(method) ?? []), listener])
  }

  once(method: string): Promise<unknown> {
    return new Promise((resolve) => {
      const listener = (params: unknown) => {
        this.listeners.set(
          method,
          (this.listeners.get(method) ?? []).filter((l) => l !== listener),
        )
        resolve(params)
      }
      this.on(method, listener)
    })
  }

  close(): void {
    this.socket.close()
  }
}
