/**
 * A fault-injecting TCP proxy for one peer link, modelled on etcd's pkg/proxy: tests
 * put one between two members (the dialer dials the proxy, the proxy dials the
 * acceptor) and switch its mode at run time.
 *
 * Modes:
 * - `pass`: forward both ways.
 * - `drop-all` (a partition): `hold` stops forwarding both ways and accepts new
 *   connections without reaching the target, like a firewall DROP rule (bytes and FINs
 *   wait in kernel buffers and go through when the partition heals, as TCP
 *   retransmission would deliver them); `reset` resets every connection and every new one.
 * - `one-way` (an asymmetric partition): forward only the named direction; the other
 *   is held as in `drop-all hold`.
 * - `flap`: alternate `pass` and `drop-all` (hold or reset) every `periodMs`, starting down.
 * - `loss`: forward, but reset every connection every `resetEveryMs`. Dropping single
 *   TCP chunks would corrupt the byte stream, not lose messages, so loss on TCP is
 *   modelled the way it ends in practice: the connection breaks.
 * - `delay`: hold every chunk `delayMs` before forwarding it, keeping order.
 *
 * Limits (documented for the tests that use it):
 * - It works on byte streams, not packets: it cannot reorder or duplicate data inside a
 *   connection, and it cannot model partial packet loss (TCP would hide it anyway).
 * - A held direction pauses reading, so the sender's kernel buffers fill and its writes
 *   stall, as in a real partition; a delayed direction buffers in memory, bounded by
 *   pausing the sender past DELAY_BUFFER_BYTES_MAX.
 * - It runs in the test process on loopback; it cannot partition a member from its
 *   clients or from the disk, and a member that dials past it is not affected.
 * - Time-based modes use real timers, so their timing is approximate (ms scale).
 */
import net from 'node:net'
import type { AddressInfo } from 'node:net'

/** Direction names one way through the proxy: from the dialer to the target, or back. */
export type Direction = 'to-target' | 'from-target'

/** FaultMode is what the proxy does to traffic; see the file comment for each kind. */
export type FaultMode =
  | { kind: 'pass' }
  | { kind: 'drop-all'; how: 'hold' | 'reset' }
  | { kind: 'one-way'; forward: Direction }
  | { kind: 'flap'; periodMs: number; down?: 'hold' | 'reset' }
  | { kind: 'loss'; resetEveryMs: number }
  | { kind: 'delay'; delayMs: number }

/** FaultProxyTarget is where the proxy forwards to, fixed or looked up for each new connection. */
export type FaultProxyTarget =
  { host: string; port: number } | (() => { host: string; port: number })

/** FaultProxyOptions: the target, and optionally the first mode (default pass). */
export interface FaultProxyOptions {
  target: FaultProxyTarget
  mode?: FaultMode
}

/** FaultProxyStats counts what the proxy did since it started. */
export interface FaultProxyStats {
  accepted: number
  resets: number
  bytesToTarget: number
  bytesFromTarget: number
}

/** FaultProxy is a running proxy; change its behaviour with setMode at any time. */
export interface FaultProxy {
  readonly host: string
  readonly port: number
  readonly mode: FaultMode
  /** setMode switches behaviour for current and future connections at once. */
  setMode(mode: FaultMode): void
  /** heal is setMode({ kind: 'pass' }). */
  heal(): void
  /** resetConnections resets (TCP RST) every connection open now, whatever the mode. */
  resetConnections(): void
  /** connectionCount is the number of client connections currently open through the proxy. */
  readonly connectionCount: number
  readonly stats: Readonly<FaultProxyStats>
  close(): Promise<void>
}

/** DELAY_BUFFER_BYTES_MAX bounds bytes waiting in one direction's delay queue before the sender is paused. */
export const DELAY_BUFFER_BYTES_MAX = 4 * 1024 * 1024

/** Behaviour is a mode reduced to what each connection must do right now. */
interface Behaviour {
  gates: Record<Direction, 'open' | 'held'>
  delayMs: number
  reset: boolean
}

const PASS: Behaviour = {
  gates: { 'to-target': 'open', 'from-target': 'open' },
  delayMs: 0,
  reset: false,
}
const HOLD: Behaviour = {
  gates: { 'to-target': 'held', 'from-target': 'held' },
  delayMs: 0,
  reset: false,
}
const RESET: Behaviour = { ...HOLD, reset: true }

/** startFaultProxy listens on a free loopback port and forwards to the target under `mode`. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const proxy = new FaultProxyImpl(options.target)
  await proxy.listen()
  proxy.setMode(options.mode ?? { kind: 'pass' })
  return proxy
}

/** Pipe carries one direction of one connection, honouring the gate, delay and end-of-stream. */
class Pipe {
  private readonly queue: { releaseAtMs: number; chunk: Buffer }[] = []
  private queuedBytes = 0
  private timer: NodeJS.Timeout | undefined
  private destBlocked = false
  private paused = true
  private sourceClosed: 'no' | 'clean' | 'error' = 'no'
  private closePropagated = false
  private gate: 'open' | 'held' = 'held'
  private delayMs = 0

  constructor(
    private readonly source: net.Socket,
    private readonly dest: net.Socket,
    private readonly countBytes: (n: number) => void,
  ) {
    // Start paused (the gate starts held): nothing flows until `apply` opens it.
    source.pause()
    source.on('data', (chunk: Buffer) => this.onChunk(chunk))
    source.on('close', (hadError) => {
      this.sourceClosed = hadError ? 'error' : 'clean'
      this.release()
    })
    dest.on('drain', () => {
      this.destBlocked = false
      this.updateFlow()
    })
  }

  apply(gate: 'open' | 'held', delayMs: number): void {
    this.gate = gate
    this.delayMs = delayMs
    this.updateFlow()
    this.release()
  }

  stop(): void {
    clearTimeout(this.timer)
    this.queue.length = 0
  }

  private onChunk(chunk: Buffer): void {
    if (this.gate === 'open' && this.delayMs === 0 && this.queue.length === 0) {
      this.write(chunk)
    } else {
      this.queue.push({ releaseAtMs: Date.now() + this.delayMs, chunk })
      this.queuedBytes += chunk.length
      this.updateFlow()
      this.release()
    }
  }

  /** release forwards every queued chunk that is due, then propagates a pending close. */
  private release(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.gate !== 'open') return
    const nowMs = Date.now()
    while (this.queue.length > 0) {
      const head = this.queue[0] as { releaseAtMs: number; chunk: Buffer }
      if (head.releaseAtMs > nowMs) {
        this.timer = setTimeout(() => this.release(), head.releaseAtMs - nowMs)
        return
      }
      this.queue.shift()
      this.queuedBytes -= head.chunk.length
      this.write(head.chunk)
    }
    this.updateFlow()
    if (this.sourceClosed === 'no' || this.closePropagated) return
    this.closePropagated = true
    if (this.sourceClosed === 'clean') this.dest.end()
    else if (!this.dest.destroyed) this.dest.resetAndDestroy()
  }

  private write(chunk: Buffer): void {
    if (this.dest.destroyed) return
    this.countBytes(chunk.length)
    if (!this.dest.write(chunk)) {
      this.destBlocked = true
      this.updateFlow()
    }
  }

  /** updateFlow pauses the source while the gate is held, the destination is full, or the delay queue is. */
  private updateFlow(): void {
    const shouldPause =
      this.gate === 'held' || this.destBlocked || this.queuedBytes > DELAY_BUFFER_BYTES_MAX
    if (shouldPause && !this.paused) this.source.pause()
    if (!shouldPause && this.paused) this.source.resume()
    this.paused = shouldPause
  }
}

/** Connection is one client connection and, once the partition allows, its target connection. */
interface Connection {
  client: net.Socket
  target?: net.Socket
  pipes: Pipe[]
}

class FaultProxyImpl implements FaultProxy {
  readonly host = '127.0.0.1'
  private readonly server: net.Server
  private readonly connections = new Set<Connection>()
  private current: FaultMode = { kind: 'pass' }
  private behaviour: Behaviour = PASS
  private modeTimer: NodeJS.Timeout | undefined
  private closing = false
  readonly stats: FaultProxyStats = { accepted: 0, resets: 0, bytesToTarget: 0, bytesFromTarget: 0 }

  constructor(private readonly target: FaultProxyTarget) {
    this.server = net.createServer((client) => this.onClient(client))
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, this.host, resolve))
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port
  }

  get mode(): FaultMode {
    return this.current
  }

  get connectionCount(): number {
    return this.connections.size
  }

  setMode(mode: FaultMode): void {
    validateMode(mode)
    clearInterval(this.modeTimer)
    this.modeTimer = undefined
    this.current = mode
    switch (mode.kind) {
      case 'pass':
        return this.apply(PASS)
      case 'drop-all':
        return this.apply(mode.how === 'hold' ? HOLD : RESET)
      case 'one-way': {
        const held: Direction = mode.forward === 'to-target' ? 'from-target' : 'to-target'
        return this.apply({ ...PASS, gates: { ...PASS.gates, [held]: 'held' } })
      }
      case 'delay':
        return this.apply({ ...PASS, delayMs: mode.delayMs })
      case 'loss':
        this.apply(PASS)
        this.modeTimer = setInterval(() => this.resetConnections(), mode.resetEveryMs)
        return
      case 'flap': {
        const down = mode.down === 'reset' ? RESET : HOLD
        let up = false
        this.apply(down)
        this.modeTimer = setInterval(() => {
          up = !up
          this.apply(up ? PASS : down)
        }, mode.periodMs)
        return
      }
    }
  }

  heal(): void {
    this.setMode({ kind: 'pass' })
  }

  resetConnections(): void {
    for (const connection of [...this.connections]) this.reset(connection)
  }

  async close(): Promise<void> {
    this.closing = true
    clearInterval(this.modeTimer)
    this.resetConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private apply(behaviour: Behaviour): void {
    this.behaviour = behaviour
    for (const connection of [...this.connections]) this.applyTo(connection)
  }

  private applyTo(connection: Connection): void {
    const b = this.behaviour
    if (b.reset) return this.reset(connection)
    const anyOpen = b.gates['to-target'] === 'open' || b.gates['from-target'] === 'open'
    if (connection.target === undefined && anyOpen) this.connectTarget(connection)
    const [toTarget, fromTarget] = connection.pipes
    toTarget?.apply(b.gates['to-target'], b.delayMs)
    fromTarget?.apply(b.gates['from-target'], b.delayMs)
  }

  private onClient(client: net.Socket): void {
    this.stats.accepted++
    client.on('error', () => {})
    if (this.closing || this.behaviour.reset) {
      this.stats.resets++
      client.resetAndDestroy()
      return
    }
    // Hold everything the client sends until a gate opens (pause before any data flows).
    client.pause()
    const connection: Connection = { client, pipes: [] }
    this.connections.add(connection)
    client.on('close', () => {
      if (connection.target === undefined) this.forget(connection)
    })
    this.applyTo(connection)
  }

  private connectTarget(connection: Connection): void {
    let address: { host: string; port: number }
    try {
      address = typeof this.target === 'function' ? this.target() : this.target
    } catch {
      // The target is not known yet (not started): like a refused connection.
      return this.reset(connection)
    }
    const target = net.connect(address.port, address.host)
    target.on('error', () => {})
    connection.target = target
    connection.pipes = [
      new Pipe(connection.client, target, (n) => (this.stats.bytesToTarget += n)),
      new Pipe(target, connection.client, (n) => (this.stats.bytesFromTarget += n)),
    ]
    let open = 2
    const onClose = () => {
      if (--open === 0) this.forget(connection)
    }
    connection.client.on('close', onClose)
    target.on('close', onClose)
  }

  private reset(connection: Connection): void {
    this.stats.resets++
    for (const pipe of connection.pipes) pipe.stop()
    if (!connection.client.destroyed) connection.client.resetAndDestroy()
    if (connection.target !== undefined && !connection.target.destroyed)
      connection.target.resetAndDestroy()
    this.forget(connection)
  }

  private forget(connection: Connection): void {
    for (const pipe of connection.pipes) pipe.stop()
    this.connections.delete(connection)
  }
}

function validateMode(mode: FaultMode): void {
  const positive = (name: string, v: number) => {
    if (!Number.isFinite(v) || v <= 0)
      throw new RangeError(`fault proxy: ${name} must be a positive number of ms, got ${v}`)
  }
  if (mode.kind === 'flap') positive('periodMs', mode.periodMs)
  if (mode.kind === 'loss') positive('resetEveryMs', mode.resetEveryMs)
  if (mode.kind === 'delay' && (!Number.isFinite(mode.delayMs) || mode.delayMs < 0)) {
    throw new RangeError(
      `fault proxy: delayMs must be a non-negative number of ms, got ${mode.delayMs}`,
    )
  }
}
