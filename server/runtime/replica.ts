/**
 * Replica: one ensemble member's state machine with everything around the ZAB core
 * that is not I/O — the applied tree and sessions, the leader's duties, watches and
 * the change window, the client front, and the ReadyExecutor that carries out the
 * core's Readys. It is what production runs (MemberServer wires real I/O into it) and
 * what the simulator runs (test/sim wires simulated I/O): the code the seeds test is
 * the code that ships, in the style of TigerBeetle's `ReplicaType(MessageBus, Storage,
 * Time)`.
 *
 * Its seams (docs/architecture.md lists what each environment wires):
 * - time (`ReplicaClock`): wall clock, monotonic clock, timers, next event-loop turn;
 * - storage (`ReplicaStorage`): make a Ready's persistence durable, take local snapshots;
 * - peer transport (`ReplicaPeers`): send a peer message (a SNAP carries a
 *   `LiveSnapshot`; the receiving side hands `receive` an `AssembledSnapData`);
 * - client transport: `ClientSocket`s handed to `onOpen`/`onFrame`/`onClose`;
 * - randomness (`ReplicaRandom`) and the logger.
 */
import type { Logger } from 'pino'
import {
  CloseCode,
  formatZxid,
  type PeerMessage,
  type ServerId,
  type SessionId,
  type SnapshotPayload,
  type Txn,
  type Zxid,
} from '../../protocol/index.js'
import {
  Peer,
  type PeerConfig,
  type PersistentState,
  type PersistWork,
  type Ready,
} from '../core/index.js'
import { LeaderDuties, type ForwardPayload } from '../member/index.js'
import type { ClientSocket } from '../net/client-listener.js'
import { TxnBuilder } from '../requests/index.js'
import { SessionIdGenerator, SessionTable, type SessionTableOptions } from '../sessions/index.js'
import type { DataTree } from '../tree/index.js'
import { ChangeWindow, WatchRegistry } from '../watches/index.js'
import { ClientFront, type FrontBug } from './client-front.js'
import type { ReplicaClock } from './clock.js'
import { frameBytesMaxFor, txnBuilderOptionsFor, type ServerConfig } from './config.js'
import type { ClientMetrics, SyncKind } from './metrics.js'
import { ReadyExecutor, type ExecutorBug } from './ready-executor.js'
import { LiveSnapshot, type AssembledSnapData } from './snap-transfer.js'

/** APPLY_CHUNK_TXNS bounds the committed txns applied in one event-loop turn. */
const APPLY_CHUNK_TXNS = 2000

/** ReplicaConfig is the part of a server's configuration the replica runs by. */
export type ReplicaConfig = Omit<ServerConfig, 'dataDir' | 'ensemble' | 'tls' | 'admin'>

/** ReplicaStorage is the storage seam. */
export interface ReplicaStorage {
  /** persist makes `work` durable in PersistWork's order, then calls `done()` — or `done(error)`. */
  persist(work: PersistWork, done: (error?: unknown) => void): void
  /** snapshotIfDue takes a local snapshot of the applied state when enough txns were logged. */
  snapshotIfDue(tree: DataTree, sessions: SessionTable): void
}

/** ReplicaPeers is the peer transport seam. */
export interface ReplicaPeers {
  /** send puts a message on its way to member `to` (a SNAP's data is a LiveSnapshot to ship in chunks). */
  send(to: ServerId, message: PeerMessage): void
  /**
   * flush, if the transport batches messages per event-loop turn, puts what was sent so
   * far on the wire now. Called once a Ready's messages are all sent, so proposals,
   * commits and acknowledgements leave before the fsync and the apply that follow them.
   */
  flush?(): void
}

/** ReplicaRandom is where the replica's randomness comes from. */
export interface ReplicaRandom {
  /** float returns a number in [0, 1): election jitter. */
  float(): number
  /** passwordBytes returns a new session's password (16 bytes from a cryptographic generator in production). */
  passwordBytes(): Uint8Array
}

/** ReplicaMetrics is what the replica reports for /metrics. */
export interface ReplicaMetrics extends ClientMetrics {
  onReady(ready: Ready): void
  onSyncReceived(kind: SyncKind): void
  onCommitted(zxid: Zxid): void
}

/** NO_METRICS reports nothing (the simulator). */
export const NO_METRICS: ReplicaMetrics = {
  received: () => {},
  sent: () => {},
  replied: () => {},
  refused: () => {},
  onReady: () => {},
  onSyncReceived: () => {},
  onCommitted: () => {},
}

/** ReplicaObserver is told of every change of the applied state (the simulator's invariants). */
export interface ReplicaObserver {
  /** applied: `txn` was applied over state at `previousZxid`. */
  applied(previousZxid: Zxid, txn: Txn): void
  /** installed: the applied state was replaced by a leader's snapshot. */
  installed(): void
}

/** RestoredState is the applied state a replica starts from (its latest snapshot). */
export interface RestoredState {
  readonly tree: DataTree
  readonly sessions: SessionTable
  /** fuzzyThroughZxid: commits up to here may already be in the snapshot; they are applied in replay mode. */
  readonly fuzzyThroughZxid: Zxid
}

/** ReplicaOptions is everything a replica is built from. */
export interface ReplicaOptions {
  readonly config: ReplicaConfig
  readonly members: readonly ServerId[]
  /** core holds the core's tunables; the replica fills in id, members, random and snapshotSource. */
  readonly core: Omit<PeerConfig, 'id' | 'members' | 'random' | 'snapshotSource'>
  readonly restored: RestoredState
  readonly persistent: PersistentState
  readonly clock: ReplicaClock
  readonly storage: ReplicaStorage
  readonly peers: ReplicaPeers
  readonly random: ReplicaRandom
  readonly logger: Logger
  readonly metrics: ReplicaMetrics
  /** fatal is told of a broken invariant while carrying out a Ready: stop, do not serve an untrusted state. */
  fatal(error: unknown): void
  /** persistFailed is told that the storage could not make a Ready durable: stop, acknowledge nothing. */
  persistFailed(error: unknown): void
  /** observer sees every applied txn and installed snapshot (tests). */
  readonly observer?: ReplicaObserver
  /** executorBug plants a deliberate bug in the Ready executor (tests only). */
  readonly executorBug?: ExecutorBug | undefined
  /** frontBug plants a deliberate bug in the client front (tests only). */
  readonly frontBug?: FrontBug | undefined
}

/** Replica is one member's state machine around the core; see the module comment. */
export class Replica {
  readonly peer: Peer
  readonly watches = new WatchRegistry()
  /** window keeps recent committed changes for watches that resume from a position. */
  readonly window: ChangeWindow
  readonly front: ClientFront
  private treeNow: DataTree
  private sessionsNow: SessionTable
  private builder: TxnBuilder
  private fuzzyThroughZxid: Zxid
  private readonly duties: LeaderDuties
  private readonly executor: ReadyExecutor
  private readonly sessionIds: SessionIdGenerator
  private readonly config: ReplicaConfig
  private tickCount = 0
  private stopped = false
  private lastRole = ''

  constructor(private readonly options: ReplicaOptions) {
    const { config, restored, clock, logger } = options
    this.config = config
    this.treeNow = restored.tree
    this.sessionsNow = restored.sessions
    this.fuzzyThroughZxid = restored.fuzzyThroughZxid
    this.builder = new TxnBuilder(this.treeNow, txnBuilderOptionsFor(config))
    this.window = new ChangeWindow(
      { changesMax: config.watchWindowChanges, bytesMax: config.watchWindowBytes },
      this.treeNow.appliedZxid,
    )
    this.sessionIds = new SessionIdGenerator(config.id, clock.nowMs())
    this.peer = new Peer(
      {
        ...options.core,
        id: config.id,
        members: options.members,
        random: () => options.random.float(),
        snapshotSource: () => this.snapshotPayload(),
      },
      options.persistent,
    )
    const replica = this
    this.duties = new LeaderDuties({
      get peer() {
        return replica.peer
      },
      get sessions() {
        return replica.sessionsNow
      },
      get builder() {
        return replica.builder
      },
      get tree() {
        return replica.treeNow
      },
      nowMs: () => clock.nowMs(),
      localTick: () => this.tickCount,
      trace: (line) => logger.debug(line),
    })
    this.front = new ClientFront(
      {
        id: config.id,
        get tree() {
          return replica.treeNow
        },
        get sessions() {
          return replica.sessionsNow
        },
        watches: this.watches,
        window: this.window,
        logger,
        clock,
        superDigest: config.superDigest,
        serving: () => this.serving,
        forward: (sessionId, xid, payload) => this.forward(sessionId, xid, payload),
        readIndex: (token) => {
          const accepted = this.peer.readIndex(token)
          this.pump()
          return accepted
        },
        touch: (sessionId) => this.touch(sessionId),
        newSessionId: () => this.sessionIds.next(),
        newPassword: () => options.random.passwordBytes(),
        metrics: options.metrics,
      },
      { ...config, frameBytesMax: frameBytesMaxFor(config) },
      options.frontBug,
    )
    this.executor = new ReadyExecutor(
      this.peer,
      {
        send: (envelope) => options.peers.send(envelope.to, envelope.message),
        flushSends: () => options.peers.flush?.(),
        persist: (work, done) => options.storage.persist(work, done),
        installSnapshot: (snapshot) => this.installSnapshot(snapshot),
        apply: (txn) => this.apply(txn),
        afterApply: (ready) => this.afterApply(ready),
        settled: () => this.settled(),
        onReady: (ready) => options.metrics.onReady(ready),
        nextTurn: (fn) => clock.nextTurn(fn),
        persistFailed: (error) => {
          if (!this.stopped) options.persistFailed(error)
        },
        fatal: (error) => options.fatal(error),
      },
      { applyChunkTxns: APPLY_CHUNK_TXNS, bug: options.executorBug },
    )
  }

  /** tree is the applied tree (replaced when a SNAP is installed). */
  get tree(): DataTree {
    return this.treeNow
  }

  /** sessions is the replicated session table (replaced when a SNAP is installed). */
  get sessions(): SessionTable {
    return this.sessionsNow
  }

  /** serving tells whether clients may be answered: an established leader, or a follower that got UPTODATE. */
  get serving(): boolean {
    return this.peer.established && !this.stopped
  }

  /** inFlight is the Ready waiting for its fsync (or applying in chunks), if any. */
  get inFlight(): Ready | undefined {
    return this.executor.inFlight
  }

  // ---------------------------------------------------------------- inputs

  /** tick advances the logical clock by one tick (the core's timeouts, the leader's duties, reaping). */
  tick(): void {
    if (this.stopped) return
    this.tickCount += 1
    this.peer.tick()
    this.duties.onTick()
    if (this.tickCount % this.config.reapEveryTicks === 0)
      this.duties.reap(this.options.clock.nowMs())
    this.pump()
  }

  /** catchUpTicks gives the core ticks it missed (a leader whose process was stopped); see MemberServer. */
  catchUpTicks(ticks: number): void {
    for (let i = 0; i < ticks && !this.stopped && this.peer.role === 'leading'; i++)
      this.peer.tick()
    this.pump()
  }

  /** receive hands a decoded peer message to the core (a SNAP's data assembled: AssembledSnapData). */
  receive(from: ServerId, message: PeerMessage): void {
    if (this.stopped) return
    if (message.type === 'diff' || message.type === 'trunc' || message.type === 'snap') {
      this.options.metrics.onSyncReceived(message.type)
      // Which sync the leader chose says how far behind or diverged this member was.
      const through = message.throughZxid ?? message.txns.at(-1)?.zxid
      this.options.logger.info(
        {
          leader: from,
          sync: message.type.toUpperCase(),
          txns: message.txns.length,
          streamed: message.throughZxid !== undefined,
          ...(message.type === 'trunc' ? { truncateAfter: formatZxid(message.truncateAfter) } : {}),
          ...(through === undefined ? {} : { through: formatZxid(through) }),
        },
        'sync from the leader',
      )
    }
    this.peer.receive(from, message)
    this.pump()
  }

  /** linkUp / linkDown tell the core a peer link opened or closed. */
  linkUp(peer: ServerId): void {
    if (!this.stopped) this.peer.peerConnected(peer)
  }

  linkDown(peer: ServerId): void {
    if (this.stopped) return
    this.peer.peerDisconnected(peer)
    this.pump()
  }

  /** onOpen / onFrame / onClose are the client transport's events. */
  onOpen(socket: ClientSocket): void {
    this.front.onOpen(socket)
  }

  onFrame(socket: ClientSocket, frame: Uint8Array): void {
    this.front.onFrame(socket, frame)
    this.pump()
  }

  onClose(socket: ClientSocket, code: number, reason: string): void {
    this.front.onClose(socket, code, reason)
  }

  /**
   * storageStalled: the disk is full (or writable again). A stalled member leaves the
   * leadership it leads or follows and stays out of elections; its clients are closed
   * with NOT_SERVING so they move to a member that can write.
   */
  storageStalled(stalled: boolean): void {
    if (this.stopped) return
    if (stalled) {
      this.duties.stop()
      this.peer.storageStalled(true)
      this.front.closeAll(
        CloseCode.NOT_SERVING,
        'disk full: this server cannot write to its data directory',
      )
    } else this.peer.storageStalled(false)
    this.pump()
  }

  /** stop closes every client connection and carries out nothing more. */
  stop(code: number = CloseCode.SERVER_SHUTDOWN, reason = 'server shutting down'): void {
    if (this.stopped) return
    this.stopped = true
    this.executor.stop()
    this.front.closeAll(code, reason)
  }

  private forward(sessionId: SessionId, xid: number, payload: ForwardPayload): boolean {
    const accepted = this.peer.forward({ origin: this.config.id, sessionId, xid, payload })
    this.pump()
    return accepted
  }

  /** touch records client activity: the leader refreshes the session, a follower reports it in its next heartbeat reply. */
  private touch(sessionId: SessionId): void {
    if (this.duties.isActive) this.sessionsNow.touch(sessionId, this.tickCount)
    else this.peer.touchSessions([sessionId])
  }

  private pump(): void {
    if (!this.stopped) this.executor.pump()
  }

  // ---------------------------------------------------------------- carrying out Readys

  private apply(txn: Txn): void {
    const previousZxid = this.treeNow.appliedZxid
    const replay = txn.zxid <= this.fuzzyThroughZxid
    const applied = this.treeNow.apply(txn, { replay })
    // Over a fuzzy snapshot the tree may report fewer changes than the txn made: the
    // window cannot vouch for them and starts again after this txn. Otherwise each change
    // carries its node's ACL right after the txn, which a replay from the window judges by.
    if (replay) this.window.restart(txn.zxid)
    else this.window.record(txn.zxid, applied.changes)
    this.sessionsNow.apply(txn)
    this.builder.onApplied(txn.zxid)
    this.duties.onApplied(txn)
    this.options.metrics.onCommitted(txn.zxid)
    this.options.observer?.applied(previousZxid, txn)
    this.front.onApplied(txn, applied)
  }

  /** afterApply answers reads, follows role changes and lets the leader prepare requests. */
  private afterApply(ready: Ready): void {
    for (const read of ready.readsReady) this.front.onReadReady(read.token, read.zxid)
    for (const token of ready.readsFailed) this.front.onReadFailed(token)
    if (ready.leaderLost) {
      this.duties.stop()
      // Requests forwarded before are in doubt; the clients resume on a serving member.
      this.front.closeAll(CloseCode.NOT_SERVING, 'this server lost its leader')
    }
    if (ready.becameEstablished && ready.role === 'leading') this.duties.start()
    this.duties.onRequests(ready.requests)
    this.duties.onSessionsTouched(ready.sessionsTouched)
  }

  private settled(): void {
    this.logRoleChange()
    if (!this.stopped) this.options.storage.snapshotIfDue(this.treeNow, this.sessionsNow)
  }

  /** installSnapshot replaces the applied state with a leader's snapshot (SNAP). */
  private installSnapshot(snapshot: SnapshotPayload): void {
    const data = snapshot.data as AssembledSnapData
    // Built chunk by chunk as the SNAP arrived (snap-transfer.ts), never in one long step.
    this.treeNow = data.tree
    this.sessionsNow = SessionTable.fromRecords(data.sessions, sessionOptionsOf(this.config))
    this.builder = new TxnBuilder(this.treeNow, txnBuilderOptionsFor(this.config))
    // The leader walked its tree while applying txns: commits up to here may be in it already.
    this.fuzzyThroughZxid = data.fuzzyThroughZxid
    this.window.restart(snapshot.zxid)
    this.options.logger.info(
      {
        zxid: formatZxid(snapshot.zxid),
        znodes: this.treeNow.nodeCount,
        sessions: this.sessionsNow.size,
      },
      'installed a snapshot from the leader',
    )
    this.options.observer?.installed()
  }

  /** snapshotPayload is what a leader ships in a SNAP: a live view of its applied state, sent in chunks. */
  private snapshotPayload(): SnapshotPayload {
    return {
      zxid: this.treeNow.appliedZxid,
      data: new LiveSnapshot(this.treeNow, this.sessionsNow.snapshotRecords()),
    }
  }

  private logRoleChange(): void {
    // Cheap getters on every Ready; the whole status only when something changed.
    const { peer } = this
    const role = `${peer.role}/${peer.established ? 'serving' : 'not serving'}/${peer.epoch ?? '-'}`
    if (role === this.lastRole) return
    this.lastRole = role
    const status = peer.status()
    this.options.logger.info(
      {
        role: status.role,
        serving: status.established,
        epoch: status.epoch,
        leader: status.leaderId,
        zxid: formatZxid(this.treeNow.appliedZxid),
        reason: status.lastTransition,
      },
      'role changed',
    )
  }
}

/** sessionOptionsOf is the session table's configuration. */
export function sessionOptionsOf(
  config: Pick<ServerConfig, 'tickMs' | 'minSessionTimeoutMs' | 'maxSessionTimeoutMs'>,
): SessionTableOptions {
  return {
    tickMs: config.tickMs,
    minTimeoutMs: config.minSessionTimeoutMs,
    maxTimeoutMs: config.maxSessionTimeoutMs,
  }
}
