/**
 * A fenced store, the test double of the storage a leader or lock holder writes to:
 * every write carries the writer's fencing token, and a write whose token is lower
 * than the highest the store has seen for that key is refused. This is the
 * storage-side check docs/recipes.md asks for; the recipe tests use it to show that a
 * stalled former owner's late write is refused, and that it really was attempted.
 *
 * `serveFencedStore` puts it behind HTTP on loopback so that client processes (killed
 * or stopped by a test) can write to it:
 *   POST /write {key, token, value, writer} -> 200 {accepted: true} | 409 {accepted: false, highest}
 *   GET  /read?key=K                        -> 200 {value, token} | 404
 *   POST /enter {key, token, writer}        -> 200 {inside}   (occupancy: who works on `key` now)
 *   POST /exit  {key, token}                -> 200 {inside}
 *
 * Occupancy is how a semaphore test checks "never more holders than allowed" through
 * tokens: every holder enters with its lease's token before working and exits before
 * releasing; `maxInside` is the most tokens inside at once.
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'

/** FencedWrite is one write the store was asked to do, accepted or not. */
export interface FencedWrite {
  key: string
  token: bigint
  value: string
  writer: string
  accepted: boolean
  /** highestBefore is the highest token seen for the key before this write. */
  highestBefore: bigint
  atMs: number
}

/** Occupancy is one enter or exit of a holder. */
export interface Occupancy {
  key: string
  token: bigint
  kind: 'enter' | 'exit'
  /** inside is the number of tokens inside after this change. */
  inside: number
  atMs: number
}

/** FencedStore keeps one value per key and the highest token that wrote it. */
export class FencedStore {
  /** occupancy lists every enter and exit in arrival order. */
  readonly occupancy: Occupancy[] = []
  private readonly inside = new Map<string, Set<bigint>>()
  /** history lists every write attempt in arrival order. */
  readonly history: FencedWrite[] = []
  private readonly values = new Map<string, { value: string; token: bigint }>()
  private readonly highest = new Map<string, bigint>()
  private readonly listeners = new Set<(write: FencedWrite) => void>()

  /** write stores `value` unless a higher token has written `key` already. */
  write(key: string, token: bigint, value: string, writer: string): FencedWrite {
    const highestBefore = this.highest.get(key) ?? -1n
    const accepted = token >= highestBefore
    if (accepted) {
      this.highest.set(key, token)
      this.values.set(key, { value, token })
    }
    const write: FencedWrite = {
      key,
      token,
      value,
      writer,
      accepted,
      highestBefore,
      atMs: Date.now(),
    }
    this.history.push(write)
    for (const listener of this.listeners) listener(write)
    return write
  }

  /** enter records that the holder of `token` works on `key` now; returns how many do. */
  enter(key: string, token: bigint): number {
    let set = this.inside.get(key)
    if (set === undefined) this.inside.set(key, (set = new Set()))
    set.add(token)
    this.occupancy.push({ key, token, kind: 'enter', inside: set.size, atMs: Date.now() })
    return set.size
  }

  /** exit records that the holder of `token` stopped working on `key` (a test calls it for a holder it killed). */
  exit(key: string, token: bigint): number {
    const set = this.inside.get(key)
    set?.delete(token)
    this.occupancy.push({ key, token, kind: 'exit', inside: set?.size ?? 0, atMs: Date.now() })
    return set?.size ?? 0
  }

  /** maxInside is the most holders of `key` inside at once so far. */
  maxInside(key: string): number {
    return Math.max(0, ...this.occupancy.filter((o) => o.key === key).map((o) => o.inside))
  }

  /** read returns the value of `key` and the token that wrote it. */
  read(key: string): { value: string; token: bigint } | undefined {
    return this.values.get(key)
  }

  /** accepted lists the accepted writes of `key`, in order. */
  accepted(key: string): FencedWrite[] {
    return this.history.filter((w) => w.key === key && w.accepted)
  }

  /** rejected lists the refused writes of `key`, in order. */
  rejected(key: string): FencedWrite[] {
    return this.history.filter((w) => w.key === key && !w.accepted)
  }

  /** onWrite calls `listener` after every write attempt; returns the unsubscribe function. */
  onWrite(listener: (write: FencedWrite) => void): () => void {
    this.listeners.add(listener)
    return () => void this.listeners.delete(listener)
  }
}

/** ServedStore is a FencedStore listening on loopback. */
export interface ServedStore {
  readonly store: FencedStore
  readonly url: string
  close(): Promise<void>
}

/** serveFencedStore serves `store` over HTTP on a free loopback port. */
export async function serveFencedStore(store = new FencedStore()): Promise<ServedStore> {
  const server = createServer((request, response) => {
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' })
      response.end(
        JSON.stringify(body, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
      )
    }
    const url = new URL(request.url ?? '/', 'http://store')
    if (request.method === 'GET' && url.pathname === '/read') {
      const entry = store.read(url.searchParams.get('key') ?? '')
      return entry === undefined ? reply(404, {}) : reply(200, entry)
    }
    if (request.method === 'POST' && (url.pathname === '/enter' || url.pathname === '/exit')) {
      readBody(request).then(
        (text) => {
          const body = JSON.parse(text) as { key: string; token: string }
          const inside =
            url.pathname === '/enter'
              ? store.enter(body.key, BigInt(body.token))
              : store.exit(body.key, BigInt(body.token))
          reply(200, { inside })
        },
        () => reply(400, {}),
      )
      return
    }
    if (request.method === 'POST' && url.pathname === '/write') {
      readBody(request).then(
        (text) => {
          const body = JSON.parse(text) as {
            key: string
            token: string
            value: string
            writer: string
          }
          const write = store.write(body.key, BigInt(body.token), body.value, body.writer)
          reply(write.accepted ? 200 : 409, {
            accepted: write.accepted,
            highest: write.accepted ? write.token : write.highestBefore,
          })
        },
        () => reply(400, {}),
      )
      return
    }
    reply(404, {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    store,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (text += chunk))
    request.on('end', () => resolve(text))
    request.on('error', reject)
  })
}
