/**
 * Simulation: one seed, one process, one thread. A whole ensemble of SimServers and
 * a few SimClients run on a discrete-event agenda (virtual milliseconds, ties broken
 * by insertion order) under one seeded generator split into independent streams.
 * Every event — a tick, a peer message arriving, an fsync finishing, a client
 * message — is dispatched here, folded into the trace hash, and may schedule more.
 *
 * The run is cut into steps of one tick (TICK_MS). Before each step the fault
 * injector may start or end faults; after it the ensemble invariants are checked.
 * run.ts drives the phases (faults, recovery, drain, checks) on top of this class.
 */
import {
  decodeMessage,
  decodePeerMessage,
  encodeMessage,
  ProtocolError,
  type Envelope,
  type PeerMessage,
  type ServerId,
} from '../../protocol/index.js'
import { DataTree } from '../../server/tree/index.js'
import { EventQueue } from './event-queue.js'
import { HistoryRecorder } from './history-recorder.js'
import { EnsembleInvariants, InvariantViolation } from './invariants.js'
import type { ToClient, ToServer } from './messages.js'
import { SimNetwork } from './network.js'
import { SimRandom } from './random.js'
import { TICK_MS, type ScenarioProfile } from './scenario-profile.js'
import { SimClient, type ClientEnv } from './sim-client.js'
import type { FrontBug } from '../../server/runtime/client-front.js'
import { coreBug, executorBug } from './planted-bugs.js'
import { SimServer, simConfig, type ServerEnv } from './sim-server.js'
import { Trace } from './trace.js'

/** SimEvent is one thing due to happen at a virtual time. */
export type SimEvent =
  | { readonly k: 'tick'; readonly server: ServerId }
  | {
      readonly k: 'peer'
      readonly from: ServerId
      readonly to: ServerId
      readonly message: PeerMessage
    }
  | { readonly k: 'fsync'; readonly server: ServerId; readonly incarnation: number }
  | {
      readonly k: 'toServer'
      readonly server: ServerId
      readonly connId: number
      readonly message: ToServer
    }
  | {
      readonly k: 'toClient'
      readonly client: number
      readonly connId: number
      readonly message: ToClient
    }
  | { readonly k: 'act'; readonly client: number }
  | {
      readonly k: 'timer'
      readonly server: ServerId
      readonly incarnation: number
      readonly fn: () => void
    }
  | { readonly k: 'restart'; readonly server: ServerId }
  | { readonly k: 'resume'; readonly server: ServerId }

/** DiskLatency bounds the fsync latency the fault injector varies. */
export interface DiskLatency {
  minMs: number
  maxMs: number
}

/** Streams are the seed's independent random streams. */
interface Streams {
  readonly network: SimRandom
  readonly disk: SimRandom
  readonly schedule: SimRandom
  readonly faults: SimRandom
}

/** Simulation holds one seed's world. */
export class Simulation {
  readonly trace = new Trace()
  readonly network: SimNetwork
  readonly servers = new Map<ServerId, SimServer>()
  readonly clients: SimClient[] = []
  readonly history = new HistoryRecorder()
  readonly invariants = new EnsembleInvariants(new DataTree().digest())
  readonly random: Streams
  readonly diskLatency: DiskLatency = { minMs: 1, maxMs: 10 }
  nowMs = 0
  private readonly queue = new EventQueue<SimEvent>()
  /** Open client connections; `lastToServerMs`/`lastToClientMs` keep each direction FIFO, as TCP does. */
  private readonly conns = new Map<
    number,
    { client: SimClient; server: ServerId; lastToServerMs: number; lastToClientMs: number }
  >()
  private readonly deferred = new Map<ServerId, SimEvent[]>()
  /** Servers to crash the moment their disk holds unsynced writes, with the restart delay. */
  private readonly armedCrashes = new Map<
    number,
    readonly { id: ServerId; restartDelayMs: number }[]
  >()
  private nextArmId = 1
  private nextConnId = 1
  /** Servers that were established leaders after the previous event. */
  private readonly leading = new Set<ServerId>()
  /** unexpectedReplies collects client-protocol surprises, reported as violations. */
  readonly unexpected: string[] = []

  constructor(
    readonly seed: number,
    readonly profile: ScenarioProfile,
    root: SimRandom,
    private readonly wire: boolean,
    frontBug?: FrontBug,
  ) {
    this.network = new SimNetwork(profile.members)
    this.random = {
      network: root.fork(),
      disk: root.fork(),
      schedule: root.fork(),
      faults: root.fork(),
    }
    const serverEnv = this.serverEnv()
    for (const id of profile.members) {
      const server = new SimServer(
        {
          id,
          members: profile.members,
          peerConfig: {
            leaderTimeoutTicks: profile.leaderTimeoutTicks,
            initTimeoutTicks: profile.initTimeoutTicks,
            diffLimitTxns: profile.diffLimitTxns,
            proposalBatchMax: profile.proposalBatchMax,
            ...(profile.peerMessageBudgetBytes === undefined
              ? {}
              : { peerMessageBudgetBytes: profile.peerMessageBudgetBytes }),
            ...(coreBug(profile.bug) === undefined ? {} : { bug: coreBug(profile.bug) }),
          },
          config: simConfig(id, TICK_MS),
          snapshotEveryTxns: profile.snapshotEveryTxns,
          random: root.fork(),
          frontBug,
          executorBug: executorBug(profile.bug),
        },
        serverEnv,
      )
      this.servers.set(id, server)
      this.queue.push(this.random.schedule.between(1, TICK_MS), { k: 'tick', server: id })
    }
    const clientEnv = this.clientEnv()
    profile.clients.forEach((clientProfile, i) => {
      const client = new SimClient(i + 1, clientProfile, root.fork(), clientEnv)
      this.clients.push(client)
      this.queue.push(this.random.schedule.between(1, TICK_MS), { k: 'act', client: client.id })
    })
  }

  /** serverList returns the servers in id order. */
  serverList(): SimServer[] {
    return [...this.servers.values()]
  }

  /** server returns server `id`. */
  server(id: ServerId): SimServer {
    const server = this.servers.get(id)
    if (server === undefined) throw new Error(`no server ${id}`)
    return server
  }

  /** schedule queues an event `delayMs` from now. */
  schedule(delayMs: number, event: SimEvent): void {
    this.queue.push(this.nowMs + delayMs, event)
  }

  /** runUntil dispatches every event due before `endMs` and moves the clock there. */
  runUntil(endMs: number): void {
    for (
      let t = this.queue.peekTimeMs();
      t !== undefined && t < endMs;
      t = this.queue.peekTimeMs()
    ) {
      const next = this.queue.pop() as { timeMs: number; event: SimEvent }
      this.nowMs = next.timeMs
      this.dispatch(next.event)
    }
    this.nowMs = endMs
  }

  /** crash crashes server `id` now and schedules nothing; the caller schedules the restart. */
  crash(id: ServerId): void {
    const server = this.server(id)
    const loss = server.crash(this.random.disk)
    this.deferred.delete(id)
    this.trace.record(
      this.nowMs,
      `crash s${id} cached=${loss.cachedOps} kept=${loss.keptOps} torn=${loss.tornAppend}`,
    )
    if (loss.keptOps < loss.cachedOps) this.trace.count('fault.lost-unsynced-writes')
    if (loss.tornAppend) this.trace.count('fault.torn-append')
  }

  /**
   * armCrash arms a crash of `victims` (each restarted after its own delay) that
   * strikes all of them at once the moment any of them has written something it has
   * not synced — the worst moment. Returns the id under which it is armed.
   */
  armCrash(victims: readonly { id: ServerId; restartDelayMs: number }[]): number {
    const armId = this.nextArmId++
    this.armedCrashes.set(armId, victims)
    return armId
  }

  /** disarmCrash cancels an armed crash that never found its moment; returns whether it was still armed. */
  disarmCrash(armId: number): boolean {
    return this.armedCrashes.delete(armId)
  }

  private fireArmedCrashes(): void {
    for (const [armId, victims] of this.armedCrashes) {
      if (!victims.some(({ id }) => this.server(id).up && this.server(id).disk.cachedOps > 0))
        continue
      this.armedCrashes.delete(armId)
      this.trace.count(
        victims.length > 1 ? 'fault.power-loss-while-unsynced' : 'fault.crash-while-unsynced',
      )
      for (const { id, restartDelayMs } of victims) {
        if (!this.server(id).up) continue
        this.crash(id)
        this.schedule(restartDelayMs, { k: 'restart', server: id })
      }
    }
  }

  /** pause stops delivering events to server `id` until a `resume` event. */
  pause(id: ServerId): void {
    this.server(id).paused = true
    this.trace.record(this.nowMs, `pause s${id}`)
  }

  private dispatch(event: SimEvent): void {
    this.dispatchOne(event)
    if (this.armedCrashes.size > 0) this.fireArmedCrashes()
    this.watchLeaders()
  }

  /** watchLeaders reports every server that just became an established leader (cheap getters; status() only on a change). */
  private watchLeaders(): void {
    for (const server of this.servers.values()) {
      const leading = server.up && server.peer.role === 'leading' && server.peer.established
      if (leading && !this.leading.has(server.id)) {
        this.leading.add(server.id)
        const epoch = server.peer.status().epoch
        if (epoch !== undefined) this.invariants.noteLeader(server.id, epoch)
      } else if (!leading) this.leading.delete(server.id)
    }
  }

  private dispatchOne(event: SimEvent): void {
    switch (event.k) {
      case 'tick': {
        const server = this.server(event.server)
        this.schedule(this.profile.tickIntervalsMs.get(event.server) ?? TICK_MS, event)
        if (!server.up || server.paused) return
        this.trace.record(this.nowMs, `tick s${event.server}`)
        server.tick()
        return
      }
      case 'peer':
        return this.deliverPeer(event)
      case 'fsync': {
        const server = this.server(event.server)
        if (server.paused) return this.defer(event.server, event)
        this.trace.record(this.nowMs, `fsync s${event.server}`)
        server.fsyncDone(event.incarnation)
        return
      }
      case 'toServer':
        return this.deliverToServer(event)
      case 'toClient': {
        const client = this.clients[event.client - 1] as SimClient
        this.trace.record(
          this.nowMs,
          `s>c${event.client} ${event.message.type}${event.message.type === 'reply' ? ` ${event.message.xid} ${event.message.err}` : ''}`,
        )
        client.onMessage(event.connId, event.message)
        return
      }
      case 'act': {
        const client = this.clients[event.client - 1] as SimClient
        this.schedule(TICK_MS - 10 + this.random.schedule.int(21), event)
        client.act()
        return
      }
      case 'restart': {
        const server = this.server(event.server)
        if (server.up) return
        this.trace.record(this.nowMs, `restart s${event.server}`)
        server.restart()
        return
      }
      case 'resume':
        return this.resume(event.server)
      case 'timer': {
        const server = this.server(event.server)
        if (server.paused) return this.defer(event.server, event)
        server.timerDue(event.incarnation, event.fn)
        return
      }
    }
  }

  private deliverPeer(event: Extract<SimEvent, { k: 'peer' }>): void {
    const server = this.server(event.to)
    if (!server.up) return
    if (this.network.isCut(event.from, event.to)) {
      this.trace.count('net.cut-in-flight')
      return
    }
    if (server.paused) return this.defer(event.to, event)
    this.trace.record(this.nowMs, `${event.from}>${event.to} ${event.message.type}`)
    server.receive(event.from, this.wire ? throughWire(event.message) : event.message)
  }

  private deliverToServer(event: Extract<SimEvent, { k: 'toServer' }>): void {
    const server = this.server(event.server)
    const conn = this.conns.get(event.connId)
    if (!server.up) {
      // Connection refused or reset: the client hears of it at once.
      if (conn !== undefined && event.message.type !== 'disconnect') {
        this.conns.delete(event.connId)
        this.sendClient(event.connId, {
          type: 'closed',
          code: 1006,
          reason: `server ${event.server} is down`,
        })
      }
      return
    }
    if (server.paused) return this.defer(event.server, event)
    this.trace.record(
      this.nowMs,
      `c>s${event.server} ${event.message.type}${event.message.type === 'request' ? ` ${event.message.xid} ${event.message.request.op}` : ''}`,
    )
    server.onClient(event.connId, event.message)
  }

  private defer(id: ServerId, event: SimEvent): void {
    let list = this.deferred.get(id)
    if (list === undefined) this.deferred.set(id, (list = []))
    list.push(event)
  }

  private resume(id: ServerId): void {
    const server = this.server(id)
    if (!server.paused) return
    server.paused = false
    this.trace.record(this.nowMs, `resume s${id}`)
    const list = this.deferred.get(id) ?? []
    this.deferred.delete(id)
    for (const event of list) this.queue.push(this.nowMs, event)
  }

  private sendClient(connId: number, message: ToClient): void {
    const conn = this.conns.get(connId)
    if (conn === undefined) return
    if (message.type === 'closed') this.conns.delete(connId)
    conn.lastToClientMs = Math.max(
      conn.lastToClientMs,
      this.nowMs + this.random.network.between(1, 5),
    )
    this.queue.push(conn.lastToClientMs, { k: 'toClient', client: conn.client.id, connId, message })
  }

  private serverEnv(): ServerEnv {
    return {
      nowMs: () => this.nowMs,
      sendPeer: (from: ServerId, envelope: Envelope) => {
        const outcome = this.network.route(from, envelope.to, this.nowMs, this.random.network)
        if (outcome.fate !== 'delivered') this.trace.count(`net.${outcome.fate}`)
        for (const at of outcome.arrivalsMs)
          this.queue.push(at, { k: 'peer', from, to: envelope.to, message: envelope.message })
      },
      sendClient: (connId, message) => this.sendClient(connId, message),
      scheduleTimer: (server, incarnation, delayMs, fn) =>
        this.schedule(delayMs, { k: 'timer', server: server.id, incarnation, fn }),
      scheduleFsync: (server, incarnation) => {
        const delayMs = this.random.disk.between(this.diskLatency.minMs, this.diskLatency.maxMs)
        this.schedule(delayMs, { k: 'fsync', server: server.id, incarnation })
      },
      trace: (line) => this.trace.record(this.nowMs, line),
      count: (name, by) => this.trace.count(name, by),
      observer: this.invariants,
    }
  }

  private clientEnv(): ClientEnv {
    return {
      nowMs: () => this.nowMs,
      servers: this.profile.members,
      open: (client, server) => {
        const connId = this.nextConnId++
        this.conns.set(connId, { client, server, lastToServerMs: 0, lastToClientMs: 0 })
        return connId
      },
      send: (connId, message) => {
        const conn = this.conns.get(connId)
        if (conn === undefined) return
        if (message.type === 'disconnect') this.conns.delete(connId)
        conn.lastToServerMs = Math.max(
          conn.lastToServerMs,
          this.nowMs + this.random.network.between(1, 5),
        )
        this.queue.push(conn.lastToServerMs, {
          k: 'toServer',
          server: conn.server,
          connId,
          message,
        })
      },
      history: this.history,
      acknowledged: (zxid) => this.invariants.acknowledged(zxid),
      unexpected: (what) => this.unexpected.push(what),
      trace: (line) => this.trace.record(this.nowMs, line),
    }
  }

  /** checkStep runs the ensemble invariants and reports client-protocol surprises. */
  checkStep(): void {
    this.invariants.checkStep(this.serverList())
    const surprise = this.unexpected[0]
    if (surprise !== undefined) throw new InvariantViolation('client-protocol', surprise)
  }
}

/** throughWire sends a message through the real codec and shape check, as the network layer would. */
function throughWire(message: PeerMessage): PeerMessage {
  const decoded = decodeMessage(encodeMessage(message))
  if (!decoded.ok) throw decoded.error
  const result = decodePeerMessage(decoded.value)
  if (result instanceof ProtocolError)
    throw new InvariantViolation(
      'exception',
      `peer message does not survive the wire: ${result.message}`,
    )
  return result
}
