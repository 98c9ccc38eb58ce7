/**
 * A stranger flooding a member's peer port, as its own process (so its churn does not
 * slow the test process, which runs the fault proxies between the members).
 *
 * argv[2] is JSON { port, sources, rawPerSource, wsPerSource }: from each source address
 * it keeps `rawPerSource` TCP connections that never send a byte and `wsPerSource`
 * WebSocket upgrades to the peer path that never send the hello, and re-opens each one
 * as soon as it closes. Every 200 ms, and once more when stdin ends (then it exits), it
 * prints one JSON line of AttackStats.
 */
import net from 'node:net'
import WebSocket from 'ws'

/** AttackStats is what the attacker saw so far. */
export interface AttackStats {
  opened: number
  /** outcomes counts how connections ended: `ws:<close code>`, `http:<status>`, `tcp:closed`, `error`. */
  outcomes: Record<string, number>
  /** lifetimeMaxMs is the longest any connection stayed open before the member ended it. */
  lifetimeMaxMs: number
  /** lifetimes counts connections by how long they lived, in whole seconds ("0" is under 1 s). */
  lifetimes: Record<string, number>
  /** longest is the outcome of the longest-lived connection. */
  longest: string
  /** open is how many connections are open now. */
  open: number
}

const PEER_PATH = '/conclave/peer'
const { port, sources, rawPerSource, wsPerSource } = JSON.parse(process.argv[2] ?? '{}') as {
  port: number
  sources: string[]
  rawPerSource: number
  wsPerSource: number
}
const stats: AttackStats = {
  opened: 0,
  outcomes: {},
  lifetimeMaxMs: 0,
  lifetimes: {},
  longest: '',
  open: 0,
}
const live = new Set<{ destroy(): void }>()
let stopping = false

function ended(outcome: string, openedAtMs: number | undefined): void {
  stats.outcomes[outcome] = (stats.outcomes[outcome] ?? 0) + 1
  if (openedAtMs === undefined) return
  const lifetimeMs = Date.now() - openedAtMs
  const second = String(Math.floor(lifetimeMs / 1000))
  stats.lifetimes[second] = (stats.lifetimes[second] ?? 0) + 1
  if (lifetimeMs > stats.lifetimeMaxMs) {
    stats.lifetimeMaxMs = lifetimeMs
    stats.longest = outcome
  }
}

function openRaw(localAddress: string): void {
  if (stopping) return
  stats.opened++
  let openedAtMs: number | undefined
  let firstBytes = ''
  const socket = net.connect({ host: '127.0.0.1', port, localAddress })
  const handle = { destroy: () => socket.destroy() }
  live.add(handle)
  socket.on('connect', () => {
    openedAtMs = Date.now()
    stats.open++
  })
  socket.on('data', (chunk: Buffer) => {
    if (firstBytes.length < 12) firstBytes += chunk.toString('latin1')
  })
  socket.on('error', () => {})
  socket.on('close', () => {
    live.delete(handle)
    if (openedAtMs !== undefined) stats.open--
    const status = /^HTTP\/1\.1 (\d{3})/.exec(firstBytes)?.[1]
    ended(
      status !== undefined ? `http:${status}` : openedAtMs === undefined ? 'error' : 'tcp:closed',
      openedAtMs,
    )
    setImmediate(() => openRaw(localAddress))
  })
}

function openWs(localAddress: string): void {
  if (stopping) return
  stats.opened++
  let openedAtMs: number | undefined
  let upgraded = false
  let status: number | undefined
  const ws = new WebSocket(`ws://127.0.0.1:${port}${PEER_PATH}`, {
    createConnection: (options: object) => {
      const socket = net.connect({ ...options, host: '127.0.0.1', port, localAddress })
      socket.once('connect', () => {
        openedAtMs = Date.now()
        stats.open++
      })
      return socket
    },
  })
  const handle = { destroy: () => ws.terminate() }
  live.add(handle)
  ws.on('upgrade', () => (upgraded = true))
  ws.on('unexpected-response', (_req, res) => {
    status = res.statusCode ?? 0
    ws.terminate()
  })
  ws.on('error', () => {})
  ws.on('close', (code: number) => {
    live.delete(handle)
    if (openedAtMs !== undefined) stats.open--
    // Connected but closed with no HTTP answer: the member cut the TCP connection (its deadline).
    const outcome = upgraded
      ? `ws:${code}`
      : status !== undefined
        ? `http:${status}`
        : openedAtMs !== undefined
          ? 'tcp:closed'
          : 'error'
    ended(outcome, openedAtMs)
    setImmediate(() => openWs(localAddress))
  })
}

for (const source of sources) {
  for (let i = 0; i < rawPerSource; i++) openRaw(source)
  for (let i = 0; i < wsPerSource; i++) openWs(source)
}
const report = setInterval(() => process.stdout.write(`${JSON.stringify(stats)}\n`), 200)
process.stdin.resume()
process.stdin.on('end', () => {
  stopping = true
  clearInterval(report)
  process.stdout.write(`${JSON.stringify(stats)}\n`)
  for (const handle of live) handle.destroy()
  process.exit(0)
})
