/**
 * The fault-injecting proxy the peer-link and Jepsen-style tests rely on. Each mode is
 * checked on raw TCP against a recording target server: pass forwards both ways;
 * drop-all hold delays bytes and closes until healing and then delivers them intact;
 * drop-all reset resets current and new connections; one-way forwards one direction
 * only; delay holds chunks at least the delay and keeps their order; loss resets
 * connections periodically; flap alternates; resetConnections resets on demand.
 *
 * Method: "nothing arrived" is never a fixed sleep. A second connection through an
 * always-passing control proxy carries a probe sent after the held bytes; once the
 * target has the probe, bytes that the faulty proxy had let through would have arrived
 * too (same process, same loopback), so their absence is meaningful.
 */
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startFaultProxy, type FaultProxy } from '../../helpers/fault-proxy.js'
import { waitFor } from '../../helpers/wait.js'

/** TargetConnection is one connection as the target server sees it. */
interface TargetConnection {
  socket: net.Socket
  received: string
  closed: boolean
}

let target: net.Server
let targetConnections: TargetConnection[]
const proxies: FaultProxy[] = []
const clients: net.Socket[] = []

beforeEach(async () => {
  targetConnections = []
  target = net.createServer((socket) => {
    const c: TargetConnection = { socket, received: '', closed: false }
    targetConnections.push(c)
    socket.on('data', (d) => (c.received += d.toString()))
    socket.on('close', () => (c.closed = true))
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve))
})
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await Promise.all(proxies.splice(0).map((p) => p.close()))
  for (const c of targetConnections) c.socket.destroy()
  await new Promise<void>((resolve) => target.close(() => resolve()))
})

const targetPort = () => (target.address() as AddressInfo).port

async function proxy(mode?: Parameters<typeof startFaultProxy>[0]['mode']): Promise<FaultProxy> {
  const p = await startFaultProxy({
    target: { host: '127.0.0.1', port: targetPort() },
    ...(mode ? { mode } : {}),
  })
  proxies.push(p)
  return p
}

/** Client is a raw TCP client through a proxy that records what it receives and how it closed. */
interface Client {
  socket: net.Socket
  received: string
  closed: 'open' | 'clean' | 'error'
}

async function dial(p: FaultProxy): Promise<Client> {
  const socket = net.connect(p.port, p.host)
  clients.push(socket)
  const c: Client = { socket, received: '', closed: 'open' }
  socket.on('data', (d) => (c.received += d.toString()))
  socket.on('error', () => {})
  socket.on('close', (hadError) => (c.closed = hadError ? 'error' : 'clean'))
  await new Promise<void>((resolve) => socket.once('connect', resolve))
  return c
}

/** targetOf waits for the target side of the n-th accepted connection. */
const targetOf = (n: number) =>
  waitFor(() => targetConnections[n], { what: `target connection ${n}` })

/** settle proves time for stray bytes has passed: a probe through a passing proxy made several round trips. */
async function settle(): Promise<void> {
  const control = await proxy()
  const probe = await dial(control)
  const index = targetConnections.length
  const far = await targetOf(index)
  for (let i = 0; i < 3; i++) {
    probe.socket.write(`probe${i};`)
    await waitFor(() => far.received.includes(`probe${i};`), { what: 'probe at target' })
    far.socket.write(`echo${i};`)
    await waitFor(() => probe.received.includes(`echo${i};`), { what: 'probe echo' })
  }
  probe.socket.destroy()
}

describe('pass', () => {
  it('forwards both ways and counts bytes', async () => {
    const p = await proxy()
    const c = await dial(p)
    const far = await targetOf(0)
    c.socket.write('ping')
    await waitFor(() => far.received === 'ping')
    far.socket.write('pong!')
    await waitFor(() => c.received === 'pong!')
    expect(p.stats).toMatchObject({ accepted: 1, bytesToTarget: 4, bytesFromTarget: 5 })
    expect(p.connectionCount).toBe(1)
  })
})

describe('drop-all', () => {
  it('hold: holds bytes and closes both ways until healed, then delivers them intact', async () => {
    const p = await proxy()
    const c = await dial(p)
    const far = await targetOf(0)
    p.setMode({ kind: 'drop-all', how: 'hold' })
    c.socket.write('while partitioned')
    far.socket.write('from the far side')
    far.socket.end()
    await settle()
    expect(far.received).toBe('')
    expect(c.received).toBe('')
    expect(c.closed).toBe('open')
    p.heal()
    await waitFor(() => far.received === 'while partitioned', { what: 'held bytes delivered' })
    await waitFor(() => c.received === 'from the far side' && c.closed === 'clean', {
      what: 'held bytes and FIN delivered',
    })
  })

  it('hold: accepts new connections without reaching the target, and connects them on heal', async () => {
    const p = await proxy({ kind: 'drop-all', how: 'hold' })
    const c = await dial(p)
    c.socket.write('early')
    await settle()
    // Only the control connection of settle() reached the target.
    expect(targetConnections).toHaveLength(1)
    p.heal()
    await waitFor(() => targetConnections.some((t) => t.received === 'early'), {
      what: 'connection completed on heal',
    })
  })

  it('reset: resets current connections and every new one', async () => {
    const p = await proxy()
    const c = await dial(p)
    await targetOf(0)
    p.setMode({ kind: 'drop-all', how: 'reset' })
    await waitFor(() => c.closed === 'error', { what: 'client reset' })
    const again = net.connect(p.port, p.host)
    clients.push(again)
    const outcome = await new Promise<string>((resolve) => {
      again.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
      again.on('close', () => resolve('closed'))
    })
    expect(['ECONNRESET', 'closed']).toContain(outcome)
    expect(p.stats.resets).toBeGreaterThanOrEqual(2)
  })
})

describe('one-way', () => {
  it('forwards only the named direction', async () => {
    const p = await proxy()
    const c = await dial(p)
    const far = await targetOf(0)
    p.setMode({ kind: 'one-way', forward: 'to-target' })
    c.socket.write('gets through')
    far.socket.write('stuck')
    await waitFor(() => far.received === 'gets through')
    await settle()
    expect(c.received).toBe('')
    p.setMode({ kind: 'one-way', forward: 'from-target' })
    await waitFor(() => c.received === 'stuck')
  })
})

describe('delay', () => {
  it('holds every chunk at least delayMs and keeps order', async () => {
    const p = await proxy({ kind: 'delay', delayMs: 150 })
    const c = await dial(p)
    const far = await targetOf(0)
    const startedMs = Date.now()
    for (let i = 0; i < 5; i++) c.socket.write(`${i},`)
    await waitFor(() => far.received === '0,1,2,3,4,', { what: 'delayed chunks' })
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(145)
  })
})

describe('loss', () => {
  it('resets connections every resetEveryMs', async () => {
    const p = await proxy({ kind: 'loss', resetEveryMs: 100 })
    const c = await dial(p)
    await waitFor(() => c.closed === 'error', { what: 'a reset' })
    const d = await dial(p)
    await waitFor(() => d.closed === 'error', { what: 'another reset' })
    expect(p.stats.resets).toBeGreaterThanOrEqual(2)
  })
})

describe('flap', () => {
  it('starts down and comes up after a period, then goes down again', async () => {
    const p = await proxy()
    const c = await dial(p)
    const far = await targetOf(0)
    p.setMode({ kind: 'flap', periodMs: 150, down: 'hold' })
    c.socket.write('a')
    await waitFor(() => far.received === 'a', { what: 'first up phase' })
    // After the up phase it is held again: a later write waits for the next up phase.
    await waitFor(
      () => {
        c.socket.write('b')
        return far.received.includes('b')
      },
      { intervalMs: 40, what: 'flapping continues' },
    )
    expect(p.mode).toEqual({ kind: 'flap', periodMs: 150, down: 'hold' })
  })

  it('with reset as the down phase resets connections', async () => {
    const p = await proxy()
    const c = await dial(p)
    p.setMode({ kind: 'flap', periodMs: 100, down: 'reset' })
    await waitFor(() => c.closed === 'error', { what: 'reset in the down phase' })
  })
})

describe('control', () => {
  it('resetConnections resets what is open now; later connections pass', async () => {
    const p = await proxy()
    const c = await dial(p)
    await targetOf(0)
    p.resetConnections()
    await waitFor(() => c.closed === 'error')
    const d = await dial(p)
    const far = await targetOf(1)
    d.socket.write('fine')
    await waitFor(() => far.received === 'fine')
  })

  it('refuses invalid periods', async () => {
    const p = await proxy()
    expect(() => p.setMode({ kind: 'flap', periodMs: 0 })).toThrow(RangeError)
    expect(() => p.setMode({ kind: 'delay', delayMs: -1 })).toThrow(RangeError)
  })
})
