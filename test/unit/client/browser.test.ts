/*
 * Goal: the SDK runs in browsers from the same code. Method: install a global
 * `WebSocket` (the ws class behind a counting subclass, standing in for the browser's)
 * before the first connect and check the client uses it, with ArrayBuffer frames; and
 * scan the client's sources to check they import nothing but each other, protocol/,
 * and `ws` only through the dynamic import used when no global WebSocket exists.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { WebSocket as WsWebSocket } from 'ws'
import { connect } from '../../../client/index.js'
import { FakeServer } from './fake-server.js'

const CLIENT_DIR = fileURLToPath(new URL('../../../client/', import.meta.url))
const PROTOCOL_DIR = fileURLToPath(new URL('../../../protocol/', import.meta.url))

const instances: WsWebSocket[] = []
class GlobalWebSocket extends WsWebSocket {
  constructor(url: string) {
    super(url)
    instances.push(this)
  }
}

const original = (globalThis as { WebSocket?: unknown }).WebSocket
afterAll(() => {
  ;(globalThis as { WebSocket?: unknown }).WebSocket = original
})

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

describe('browser support', () => {
  it('uses the global WebSocket when there is one, with ArrayBuffer frames', async () => {
    ;(globalThis as { WebSocket?: unknown }).WebSocket = GlobalWebSocket
    const s = await FakeServer.start()
    try {
      const client = await connect({ servers: [s.url] })
      const { data } = await client.get('/x')
      expect(new TextDecoder().decode(data)).toBe('data of /x')
      await client.close()
      expect(instances).toHaveLength(1)
      expect(instances[0]!.binaryType).toBe('arraybuffer')
    } finally {
      await s.stop()
    }
  })

  it('imports no Node built-ins and reaches ws only by dynamic import', () => {
    const files = sourceFiles(CLIENT_DIR)
    expect(files.length).toBeGreaterThan(5)
    for (const file of files) {
      const text = readFileSync(file, 'utf8')
      const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!)
      for (const specifier of specifiers) {
        // Relative imports must stay inside client/ (client/recipes/ included) or reach protocol/.
        const target = specifier.startsWith('.') ? resolve(dirname(file), specifier) : undefined
        const allowed =
          target === undefined
            ? specifier === 'ws'
            : target.startsWith(CLIENT_DIR) || target.startsWith(PROTOCOL_DIR)
        expect(allowed, `${file} imports ${specifier}`).toBe(true)
      }
      expect(/from\s+'ws'/.test(text), `${file} imports ws statically`).toBe(false)
      expect(/\b(process|Buffer|require)\b[.(]/.test(text), `${file} uses a Node global`).toBe(
        false,
      )
    }
  })
})
