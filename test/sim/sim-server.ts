/**
 * SimServer: one simulated ensemble member. It runs the shipped member runtime — the
 * Replica from server/runtime (core Peer, ReadyExecutor, tree, sessions, leader
 * duties, watches and the client front) — and wires simulated I/O into its seams:
 * - time: virtual milliseconds; timers and "next turn" are events on the agenda;
 * - storage: SimDisk, whose writes sit in a page cache until an fsync event completes;
 * - peer transport: the simulated network (a SNAP's live tree is walked into records
 *   at send and rebuilt into a tree on arrival, as the chunked transfer does);
 * - client transport: SimClientSocket, which carries real protocol frames (msgpack)
 *   between a SimClient and the client front.
 *
 * A crash loses the page cache (see disk.ts) and everything in memory; a restart
 * builds a new Replica from the snapshot and hands the core the durable epochs and
 * log, as MemberServer does.
 */
import pino from 'pino'
import {
  decodeServerMessage,
  encodeClientMessage,
  formatZxid,
  type Envelope,
  type PeerMessage,
  type ServerId,
  type Txn,
  type Zxid,
} from '../../protocol/index.js'
import type { PeerConfig, Ready } from '../../server/core/index.js'
import type { ClientSocket } from '../../server/net/client-listener.js'
import type { ReplicaClock, TimerHandle } from '../../server/runtime/clock.js'
import type { FrontBug } from '../../server/runtime/client-front.js'
import { DEFAULT_CONFIG } from '../../server/runtime/config.js'
import type { ExecutorBug } from '../../server/runtime/ready-executor.js'
import {
  NO_METRICS,
  Replica,
  sessionOptionsOf,
  type ReplicaConfig,
} from '../../server/runtime/replica.js'
import { LiveSnapshot, type AssembledSnapData } from '../../server/runtime/snap-transfer.js'
import { SessionTable } from '../../server/sessions/index.js'
import { DataTree, type SnapshotNode } from '../../server/tree/index.js'
import type { SessionRecord } from '../../server/sessions/index.js'
import { opsOf, SimDisk, type CrashLoss } from './disk.js'
import type { ToClient, ToServer } from './messages.js'
import type { SimRandom } from './random.js'

/** ServerObserver is told about every state change the ensemble invariants judge. */
export interface ServerObserver {
  /** applied is called after `txn` was applied to the server's tree (previously at `previousZxid`). */
  applied(server: SimServer, previousZxid: Zxid, txn: Txn): void
  /** replaced is called after the server's tree was replaced wholesale (SNAP install or restart). */
  replaced(server: SimServer, how: 'snap' | 'restart'): void
}

/** ServerEnv is the simulation around a server: clock, links, disk latency, trace. */
export interface ServerEnv {
  nowMs(): number
  sendPeer(from: ServerId, envelope: Envelope): void
  sendClient(connId: number, message: ToClient): void
  /** scheduleFsync arranges for `fsyncDone(incarnation)` to be called once the disk has synced. */
  scheduleFsync(server: SimServer, incarnation: number): void
  /** scheduleTimer arranges for `fn` to run `delayMs` from now, unless the server crashed meanwhile. */
  scheduleTimer(server: SimServer, incarnation: number, delayMs: number, fn: () => void): void
  trace(line: string): void
  /** count tallies a figure for the seed's statistics (`early.commits`: commits applied while their Ready's fsync ran). */
  count(name: string, by?: number): void
  readonly observer: ServerObserver
}

/** SimServerOptions fix a server's configuration for the whole seed. */
export interface SimServerOptions {
  readonly id: ServerId
  readonly members: readonly ServerId[]
  readonly peerConfig: Omit<PeerConfig, 'id' | 'members' | 'random' | 'snapshotSource'>
  /** config is the runtime configuration (tick length, session timeouts, client limits). */
  readonly config: ReplicaConfig
  /** snapshotEveryTxns is how many applied txns trigger a local snapshot (which purges the log). */
  readonly snapshotEveryTxns: number
  readonly random: SimRandom
  /** frontBug plants a bug in the client front (tests of the checkers only). */
  readonly frontBug?: FrontBug | undefined
  /** executorBug plants a bug in the Ready executor (tests of the simulator only). */
  readonly executorBug?: ExecutorBug | undefined
}

/** simConfig is the runtime configuration of every simulated server: the defaults, with session timeouts in ticks. */
export function simConfig(id: ServerId, tickMs: number): ReplicaConfig {
  return {
    ...DEFAULT_CONFIG,
    id,
    tickMs,
    minSessionTimeoutMs: 2 * tickMs,
    maxSessionTimeoutMs: 600 * tickMs,
  }
}

/** SnapRecords is a SNAP's snapshot on the simulated wire: plain records, as the chunks carry them. */
interface SnapRecords {
  readonly nodes: readonly SnapshotNode[]
  readonly sessions: readonly SessionRecord[]
  readonly fuzzyThroughZxid: Zxid
}

/** SILENT is the replicas' logger: the simulator traces what it needs itself. */
const SILENT = pino({ level: 'silent' })

/** ABNORMAL_CLOSE is the WebSocket code a client sees when the server's process is gone. */
const ABNORMAL_CLOSE = 1006

/** SimServer is one ensemble member: the shipped Replica over a simulated disk, network and clock. */
export class SimServer {
  readonly id: ServerId
  readonly disk = new SimDisk()
  /** incarnation counts boots, so an fsync or timer from before a crash is ignored. */
  incarnation = 0
  /** paused servers get no events until resumed (the simulation defers them). */
  paused = false
  private replica: Replica | undefined
  /** treeAtCrash is the tree a crashed server last held (the invariants look at it until the restart). */
  private treeAtCrash = new DataTree()
  private sessionsAtCrash: SessionTable
  /** The client sockets of this incarnation, by connection id; closed ones stay as `closed`. */
  private readonly sockets = new Map<number, SimClientSocket | 'closed'>()
  /** pendingFsync completes the Ready whose persistence waits for the disk. */
  private pendingFsync: ((error?: unknown) => void) | undefined
  private appliedSinceSnapshot = 0

  constructor(
    private readonly options: SimServerOptions,
    private readonly env: ServerEnv,
  ) {
    this.id = options.id
    this.sessionsAtCrash = new SessionTable(sessionOptionsOf(options.config))
    this.boot()
  }

  /** up tells whether the server is running. */
  get up(): boolean {
    return this.replica !== undefined
  }

  /** peer returns the running core; throws when the server is down. */
  get peer() {
    if (this.replica === undefined) throw new Error(`server ${this.id} is down`)
    return this.replica.peer
  }

  /** tree is the applied tree. */
  get tree(): DataTree {
    return this.replica?.tree ?? this.treeAtCrash
  }

  /** sessions is the replicated session table. */
  get sessions(): SessionTable {
    return this.replica?.sessions ?? this.sessionsAtCrash
  }

  /** fsyncOutstanding tells whether a Ready waits for its fsync. */
  get fsyncOutstanding(): boolean {
    return this.pendingFsync !== undefined
  }

  /** clientConnections is the number of clients connected here. */
  get clientConnections(): number {
    return this.replica?.front.connectionCount ?? 0
  }

  // ------------------------------------------------------------------ lifecycle

  /** crash stops the server: memory is gone and the disk loses what was not synced. */
  crash(random: SimRandom): CrashLoss {
    const loss = this.disk.crash(random)
    if (this.replica !== undefined) {
      this.treeAtCrash = this.replica.tree
      this.sessionsAtCrash = this.replica.sessions
    }
    for (const [connId, socket] of this.sockets)
      if (socket !== 'closed')
        this.env.sendClient(connId, {
          type: 'closed',
          code: ABNORMAL_CLOSE,
          reason: 'server crashed',
        })
    this.sockets.clear()
    this.replica = undefined
    this.pendingFsync = undefined
    this.paused = false
    this.incarnation += 1
    return loss
  }

  /** restart boots the server from what survived on its disk. */
  restart(): void {
    if (this.up) throw new Error(`server ${this.id} is already up`)
    this.boot()
  }

  private boot(): void {
    const recovered = this.disk.recover()
    const snapshot = recovered.snapshot
    const { config } = this.options
    this.appliedSinceSnapshot = 0
    const random = this.options.random
    this.replica = new Replica({
      config,
      members: this.options.members,
      core: {
        ...this.options.peerConfig,
        onDrop: (drop) => {
          this.env.count(`drop.${drop.reason}`)
          this.env.trace(
            `s${this.id} drop ${drop.reason} ${drop.messageType ?? ''} from ${drop.from ?? '-'}`,
          )
        },
      },
      restored: {
        tree:
          snapshot === undefined
            ? new DataTree()
            : DataTree.fromSnapshot(snapshot.nodes, snapshot.zxid),
        sessions:
          snapshot === undefined
            ? new SessionTable(sessionOptionsOf(config))
            : SessionTable.fromRecords(snapshot.sessions, sessionOptionsOf(config)),
        fuzzyThroughZxid: snapshot?.fuzzyThroughZxid ?? snapshot?.zxid ?? 0n,
      },
      persistent: recovered.state,
      clock: this.clock(this.incarnation),
      storage: {
        persist: (work, done) => {
          this.disk.write(opsOf(work))
          this.pendingFsync = done
          this.env.scheduleFsync(this, this.incarnation)
        },
        snapshotIfDue: (tree, sessions) => {
          if (this.appliedSinceSnapshot < this.options.snapshotEveryTxns) return
          this.disk.saveSnapshot({
            zxid: tree.appliedZxid,
            // With stored hashes, as snapshot files hold them: a restart takes them instead of recomputing.
            nodes: [...tree.snapshotEntries({ hashes: true })],
            sessions: sessions.snapshotRecords(),
          })
          this.appliedSinceSnapshot = 0
          this.env.trace(`s${this.id} snapshot ${formatZxid(tree.appliedZxid)}`)
        },
      },
      peers: {
        send: (to, message) => this.env.sendPeer(this.id, { to, message: toWire(message) }),
      },
      random: { float: () => random.float(), passwordBytes: () => random.bytes(8) },
      logger: SILENT,
      metrics: {
        ...NO_METRICS,
        onReady: (ready: Ready) => {
          // Commits durable before this Ready are applied while its fsync runs.
          if (ready.mustSync) this.env.count('early.commits', ready.commitDurable)
        },
      },
      fatal: (error) => {
        throw error
      },
      persistFailed: (error) => {
        throw error
      },
      observer: {
        applied: (previousZxid, txn) => {
          this.appliedSinceSnapshot += 1
          this.env.observer.applied(this, previousZxid, txn)
        },
        installed: () => {
          this.env.trace(`s${this.id} install snap ${formatZxid(this.tree.appliedZxid)}`)
          this.env.observer.replaced(this, 'snap')
        },
      },
      frontBug: this.options.frontBug,
      executorBug: this.options.executorBug,
    })
    this.env.trace(
      `s${this.id} boot snap=${formatZxid(recovered.state.snapshotZxid)} log=${recovered.state.log.length} epochs=${recovered.state.acceptedEpoch}/${recovered.state.currentEpoch} torn=${recovered.tornRecords}`,
    )
    this.env.observer.replaced(this, 'restart')
  }

  /** clock is the time seam of one incarnation: virtual time, timers as agenda events. */
  private clock(incarnation: number): ReplicaClock {
    const env = this.env
    const after = (ms: number, fn: () => void): TimerHandle => {
      let cancelled = false
      env.scheduleTimer(this, incarnation, ms, () => {
        if (!cancelled) fn()
      })
      return {
        cancel: () => {
          cancelled = true
        },
      }
    }
    return {
      nowMs: () => env.nowMs(),
      monotonicMs: () => env.nowMs(),
      after,
      nextTurn: (fn) => {
        after(0, fn)
      },
    }
  }

  private get running(): Replica {
    if (this.replica === undefined) throw new Error(`server ${this.id} is down`)
    return this.replica
  }

  // ------------------------------------------------------------------ inputs

  /** tick advances the server's logical clock by one tick. */
  tick(): void {
    this.running.tick()
  }

  /** receive hands a peer message to the replica (a SNAP's records rebuilt into a tree, as the assembler does). */
  receive(from: ServerId, message: PeerMessage): void {
    this.running.receive(from, fromWire(message))
  }

  /** onClient handles a message from a client connection: it opens the socket on the first one. */
  onClient(connId: number, message: ToServer): void {
    const replica = this.running
    let socket = this.sockets.get(connId)
    if (socket === 'closed') return
    if (message.type === 'disconnect') {
      if (socket === undefined) return
      this.sockets.set(connId, 'closed')
      replica.onClose(socket, 1000, 'client gave up')
      return
    }
    if (socket === undefined) {
      socket = new SimClientSocket(
        connId,
        (code, reason) => this.onSocketClosed(connId, code, reason),
        this.env,
      )
      this.sockets.set(connId, socket)
      replica.onOpen(socket)
    }
    replica.onFrame(socket, encodeClientMessage(message))
  }

  /** timerDue runs a timer of this incarnation (ignored after a crash). */
  timerDue(incarnation: number, fn: () => void): void {
    if (incarnation !== this.incarnation || this.replica === undefined) return
    fn()
  }

  /** fsyncDone completes the outstanding persistence once its fsync finished (ignored if the server crashed meanwhile). */
  fsyncDone(incarnation: number): void {
    const done = this.pendingFsync
    if (incarnation !== this.incarnation || done === undefined) return
    this.disk.sync()
    this.pendingFsync = undefined
    done()
  }

  /** onSocketClosed: the front closed a connection; the client hears of it, and the front is told later, as ws reports a close. */
  private onSocketClosed(connId: number, code: number, reason: string): void {
    const socket = this.sockets.get(connId)
    if (socket === undefined || socket === 'closed') return
    this.sockets.set(connId, 'closed')
    this.env.sendClient(connId, { type: 'closed', code, reason })
    const replica = this.replica
    this.env.scheduleTimer(this, this.incarnation, 0, () => replica?.onClose(socket, code, reason))
  }
}

/**
 * SimClientSocket is a client connection as the front sees it: frames it sends are
 * decoded and put on the simulated network to the client. Output never backs up (the
 * simulated client reads everything), so the output bounds are not exercised here.
 */
class SimClientSocket implements ClientSocket {
  readonly remoteAddress = '10.0.0.1'

  constructor(
    readonly id: number,
    private readonly closed: (code: number, reason: string) => void,
    private readonly env: ServerEnv,
  ) {}

  send(frame: Uint8Array): void {
    const decoded = decodeServerMessage(frame)
    if (!decoded.ok)
      throw new Error(`the front sent a frame the client cannot read: ${decoded.error.message}`)
    const message = decoded.message
    if (message.type === 'event') return // the simulated clients set no watches
    this.env.sendClient(this.id, message)
  }

  close(code: number, reason: string): void {
    this.closed(code, reason)
  }

  pause(): void {}

  resume(): void {}

  bufferedBytes(): number {
    return 0
  }

  onDrained(_bytes: number, callback: () => void): void {
    callback()
  }
}

/** toWire turns a SNAP's live tree into records, as the chunked transfer walks it (fuzzy: through the applied zxid). */
function toWire(message: PeerMessage): PeerMessage {
  if (message.type !== 'snap' || !(message.snapshot.data instanceof LiveSnapshot)) return message
  const live = message.snapshot.data
  const records: SnapRecords = {
    nodes: [...live.tree.snapshotEntries({ hashes: true })],
    sessions: live.sessions,
    fuzzyThroughZxid: live.tree.appliedZxid,
  }
  return { ...message, snapshot: { zxid: message.snapshot.zxid, data: records } }
}

/** fromWire builds a SNAP's tree from its records, as the assembler does chunk by chunk. */
function fromWire(message: PeerMessage): PeerMessage {
  if (message.type !== 'snap') return message
  const records = message.snapshot.data as SnapRecords
  const assembled: AssembledSnapData = {
    tree: DataTree.fromSnapshot(records.nodes, message.snapshot.zxid),
    sessions: [...records.sessions],
    fuzzyThroughZxid: records.fuzzyThroughZxid,
  }
  return { ...message, snapshot: { zxid: message.snapshot.zxid, data: assembled } }
}
