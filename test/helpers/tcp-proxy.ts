/**
 * A TCP proxy for fault injection on loopback: it forwards connections to a target and
 * can cut every current connection, refuse new ones, or let them through again.
 */
import net from 'node:net'
import type { AddressInfo } from 'node:net'

/** TcpProxy forwards `port` to a target port on 127.0.0.1. */
export interface TcpProxy {
  readonly port: number
  readonly url: string
  /** cut destroys every connection open now (clients see a connection drop). */
  cut(): void
  /** block makes new connections fail at once until `unblock`. */
  block(): void
  unblock(): void
  /** connectionCount is the number of connections currently forwarded. */
  readonly connectionCount: number
  close(): Promise<void>
}

/** startProxy listens on a free port and forwards to `targetPort`. */
export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>()
  let blocked = false
  const server = net.createServer((inbound) => {
    if (blocked) {
      inbound.destroy()
      return
    }
    const outbound = net.connect(targetPort, '127.0.0.1')
    const pair: [net.Socket, net.Socket] = [inbound, outbound]
    pairs.add(pair)
    const drop = () => {
      pairs.delete(pair)
      inbound.destroy()
      outbound.destroy()
    }
    inbound.on('error', drop).on('close', drop)
    outbound.on('error', drop).on('close', drop)
    inbound.pipe(outbound)
    outbound.pipe(inbound)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    cut: () => {
      for (const [a, b] of [...pairs]) {
        a.destroy()
        b.destroy()
      }
      pairs.clear()
    },
    block: () => {
      blocked = true
    },
    unblock: () => {
      blocked = false
    },
    get connectionCount() {
      return pairs.size
    },
    close: async () => {
      blocked = true
      for (const [a, b] of pairs) {
        a.destroy()
        b.destroy()
      }
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
