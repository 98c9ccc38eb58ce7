/**
 * HandshakeGate: the peer port's door. It sees every inbound TCP connection from the
 * moment it is accepted, gives it a slot (peer-admission.ts) or refuses it, and holds it
 * to one deadline, counted from the TCP accept, for everything before authentication:
 * the HTTP upgrade request, the WebSocket upgrade, hello, proof. A stranger that
 * connects and says nothing, trickles bytes, or stops half-way is cut when the deadline
 * passes; one that arrives when its bound is full displaces the oldest connection that
 * is least proven (peer-admission.ts), or is refused with HTTP 503.
 *
 * Log lines about strangers go through a LogLimiter and never carry their bytes: only
 * the remote address, the stage reached and the bound.
 */
import { isIP } from 'node:net'
import { lookup } from 'node:dns/promises'
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import type { LogLimiter } from './log-limiter.js'
import {
  HandshakeSlots,
  normalizeAddress,
  type HandshakeLimits,
  type HandshakeSlotCounts,
  type PendingHandshake,
} from './peer-admission.js'
import type { PeerConnection } from './peer-connection.js'
import { PeerCloseCode } from './peer-errors.js'

/** BUSY_RESPONSE is what a connection refused before its WebSocket upgrade reads. */
const BUSY_RESPONSE =
  'HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-type: text/plain\r\n\r\ntoo many peer handshakes in progress\n'

/** GateOptions configure a HandshakeGate. */
export interface GateOptions {
  limits: HandshakeLimits
  /** handshakeTimeoutMs is the deadline, from the TCP accept, to authenticate. */
  handshakeTimeoutMs: number
  /** memberAddresses are the normalized IP addresses the config lists for the other members. */
  memberAddresses: ReadonlySet<string>
  /** log writes the (rate-limited) lines about refused, displaced and expired connections. */
  log: LogLimiter
}

interface Pending {
  slot: PendingHandshake
  socket: Socket
  remote: string
  acceptedAtMs: number
  timer: NodeJS.Timeout
  connection?: PeerConnection
}

/** HandshakeGate admits, times and releases unauthenticated inbound connections; PeerLinks feeds it socket events. */
export class HandshakeGate {
  private readonly slots: HandshakeSlots
  private readonly bySocket = new Map<Socket, Pending>()
  private readonly byConnection = new Map<PeerConnection, Pending>()
  private readonly bySlot = new Map<PendingHandshake, Pending>()
  /** unprovenHeldMaxMs is the longest any connection that never authenticated held its slot. */
  private unprovenHeldMaxMs = 0

  constructor(private readonly options: GateOptions) {
    this.slots = new HandshakeSlots(options.limits, (address) =>
      options.memberAddresses.has(address),
    )
  }

  /** log is the rate-limited writer of the lines strangers can cause; accepted connections log their refusals through it. */
  get log(): LogLimiter {
    return this.options.log
  }

  /** onConnection admits a freshly accepted TCP connection, or refuses it with HTTP 503 and closes it. */
  onConnection(socket: Socket): void {
    const address = normalizeAddress(socket.remoteAddress)
    const remote = `${address}:${socket.remotePort ?? '?'}`
    const admission = this.slots.admit(address)
    if (!admission.admitted) {
      this.options.log.warn(
        { remote, limit: admission.limit, ...this.slots.counts() },
        'peer connection refused: too many handshakes in progress',
      )
      refuse(socket)
      return
    }
    if (admission.evicted !== undefined) this.evict(admission.evicted, remote, admission.limit)
    const pending: Pending = {
      slot: admission.slot,
      socket,
      remote,
      acceptedAtMs: Date.now(),
      timer: setTimeout(() => this.expire(pending), this.options.handshakeTimeoutMs),
    }
    this.bySocket.set(socket, pending)
    this.bySlot.set(pending.slot, pending)
    socket.once('close', () => this.release(pending))
  }

  /** holdsSlot tells whether `socket` was admitted and is still within its deadline (upgrade only those). */
  holdsSlot(socket: unknown): boolean {
    return this.bySocket.has(socket as Socket)
  }

  /** attach links the WebSocket connection made on an admitted socket to its slot. */
  attach(socket: unknown, connection: PeerConnection): void {
    const pending = this.bySocket.get(socket as Socket)
    if (pending === undefined) return
    pending.connection = connection
    this.byConnection.set(connection, pending)
  }

  /** vouch marks the slot of a socket whose upgrade request carried a valid admission token: it is never displaced. */
  vouch(socket: unknown): void {
    const pending = this.bySocket.get(socket as Socket)
    if (pending !== undefined) this.slots.vouch(pending.slot)
  }

  /** helloAccepted marks the connection's slot as past the hello: displaced only after the silent ones. */
  helloAccepted(connection: PeerConnection): void {
    const pending = this.byConnection.get(connection)
    if (pending !== undefined) this.slots.helloAccepted(pending.slot)
  }

  /**
   * done frees the slot of a connection that authenticated or closed, and returns how
   * long it held it (ms since the TCP accept), or undefined if it held none.
   */
  done(connection: PeerConnection, authenticated: boolean): number | undefined {
    const pending = this.byConnection.get(connection)
    if (pending === undefined) return undefined
    this.release(pending, authenticated)
    return Date.now() - pending.acceptedAtMs
  }

  /** counts tells how many slots are held, and the longest an unauthenticated connection held one (ms). */
  counts(): HandshakeSlotCounts & { unprovenHeldMaxMs: number } {
    return { ...this.slots.counts(), unprovenHeldMaxMs: this.unprovenHeldMaxMs }
  }

  /** close stops every deadline timer and cuts every connection still waiting for one. */
  close(): void {
    for (const pending of [...this.bySocket.values()]) {
      this.release(pending)
      if (pending.connection === undefined) pending.socket.destroy()
    }
  }

  private release(pending: Pending, authenticated = false): void {
    if (!this.bySocket.has(pending.socket)) return
    if (!authenticated)
      this.unprovenHeldMaxMs = Math.max(this.unprovenHeldMaxMs, Date.now() - pending.acceptedAtMs)
    clearTimeout(pending.timer)
    this.slots.release(pending.slot)
    this.bySocket.delete(pending.socket)
    this.bySlot.delete(pending.slot)
    if (pending.connection !== undefined) this.byConnection.delete(pending.connection)
  }

  private expire(pending: Pending): void {
    if (!this.bySocket.has(pending.socket)) return
    const { connection } = pending
    this.release(pending)
    if (connection !== undefined) {
      // The connection logs its own refusal (through the same limiter), naming what it waited for.
      connection.expireHandshake(this.options.handshakeTimeoutMs)
      return
    }
    this.options.log.warn(
      {
        remote: pending.remote,
        stage: 'http',
        bytesRead: pending.socket.bytesRead,
        timeoutMs: this.options.handshakeTimeoutMs,
      },
      'peer connection cut: no WebSocket upgrade within the handshake deadline',
    )
    pending.socket.destroy()
  }

  private evict(slot: PendingHandshake, by: string, limit: string | undefined): void {
    const pending = this.bySlot.get(slot)
    if (pending === undefined) return
    this.release(pending)
    const stage =
      pending.connection === undefined ? 'http' : slot.stage === 'hello' ? 'hello' : 'websocket'
    this.options.log.warn(
      {
        remote: pending.remote,
        stage,
        heldMs: Date.now() - pending.acceptedAtMs,
        displacedBy: by,
        limit,
        ...this.slots.counts(),
      },
      'peer connection displaced: it had not proven itself and a newer connection needed its slot',
    )
    if (pending.connection !== undefined)
      pending.connection.close(PeerCloseCode.BUSY, 'too many handshakes in progress')
    else refuse(pending.socket)
  }
}

function refuse(socket: Socket): void {
  socket.on('error', () => socket.destroy())
  socket.end(BUSY_RESPONSE)
  // end() waits for the peer to read; a stranger that does not read must not keep the socket.
  setTimeout(() => socket.destroy(), 1000).unref()
}

/**
 * resolveMemberAddresses turns member hosts (names or addresses) into the set of
 * normalized IP addresses their connections are expected from. A name that does not
 * resolve within `timeoutMs` is left out with a warning: its member's connections then
 * count as strangers' (they still get through, without the reserve).
 */
export async function resolveMemberAddresses(
  hosts: readonly string[],
  logger: Logger,
  timeoutMs = 2000,
): Promise<Set<string>> {
  const addresses = new Set<string>()
  await Promise.all(
    [...new Set(hosts)].map(async (host) => {
      if (isIP(host) !== 0) {
        addresses.add(normalizeAddress(host))
        return
      }
      let timer: NodeJS.Timeout | undefined
      try {
        const found = await Promise.race([
          lookup(host, { all: true }),
          new Promise<never>(
            (_, reject) =>
              (timer = setTimeout(
                () => reject(new Error(`no answer within ${timeoutMs} ms`)),
                timeoutMs,
              )),
          ),
        ])
        for (const { address } of found) addresses.add(normalizeAddress(address))
      } catch (err) {
        logger.warn(
          { host, err: (err as Error).message },
          'cannot resolve a member host; connections from it get no reserved handshake slots',
        )
      } finally {
        clearTimeout(timer)
      }
    }),
  )
  return addresses
}
