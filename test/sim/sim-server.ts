/**
 * SimServer: one simulated ensemble member — a core Peer plus a runtime that does
 * exactly what server/runtime does with each Ready (ready.ts): send `send` at once,
 * write `persist` to the simulated disk and wait for the fsync, then send
 * `sendAfterPersist`, install a snapshot and apply `commit` to its own DataTree and
 * SessionTable, answer its clients, let the leader's duties prepare and propose, and
 * only then `advance`. While an fsync is outstanding the server keeps receiving
 * messages, ticks and client requests; their work waits for the next Ready.
 *
 * A crash loses the page cache (see disk.ts) and everything in memory; a restart
 * rebuilds the tree from the snapshot alone and hands the core the durable epochs and
 * log, as the real runtime does.
 */
import {
  ErrorCode,
  formatZxid,
  type Envelope,
  type PeerMessage,
  type ServerId,
  type SessionId,
  type Txn,
  type Zxid,
} from '../../protocol/index.js'
import { Peer, type PeerConfig, type Ready } from '../../server/core/index.js'
import { LeaderDuties } from '../../server/member/index.js'
import { TxnBuilder } from '../../server/requests/index.js'
import { DEFAULT_CONFIG, txnBuilderOptionsFor } from '../../server/runtime/config.js'
import {
  SessionIdGenerator,
  SessionTable,
  type SessionTableOptions,
} from '../../server/sessions/index.js'
import { DataTree } from '../../server/tree/index.js'
import { opsOf, SimDisk, type CrashLoss, type SimSnapshot } from './disk.js'
import type { ToClient, ToServer } from './messages.js'
import type { SimRandom } from './random.js'
import { ClientFrontEnd, type FrontEndFault } from './server-clients.js'

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
  readonly sessionOptions: SessionTableOptions
  /** snapshotEveryTxns is how many applied txns trigger a local snapshot (which purges the log). */
  readonly snapshotEveryTxns: number
  readonly random: SimRandom
  /** frontEndFault plants a runtime bug (tests of the checkers only). */
  readonly frontEndFault?: FrontEndFault | undefined
}

/** SimServer is one ensemble member: core, runtime, disk, tree, sessions and client front end. */
export class SimServer {
  readonly id: ServerId
  readonly disk = new SimDisk()
  /** incarnation counts boots, so an fsync completion from before a crash is ignored. */
  incarnation = 0
  /** paused servers get no events until resumed (the simulation defers them). */
  paused = false
  private peerNow: Peer | undefined
  private treeNow = new DataTree()
  private sessionsNow: SessionTable
  private builderNow: TxnBuilder
  private front: ClientFrontEnd
  private duties: LeaderDuties
  private inFlight: Ready | undefined
  /** appliedEarly is how many commits of the Ready in flight were applied before its fsync (its `commitDurable`). */
  private appliedEarly = 0
  private ticks = 0
  private appliedSinceSnapshot = 0
  private idGenerator: SessionIdGenerator

  constructor(
    private readonly options: SimServerOptions,
    private readonly env: ServerEnv,
  ) {
    this.id = options.id
    this.sessionsNow = new SessionTable(options.sessionOptions)
    this.builderNow = new TxnBuilder(this.treeNow, txnBuilderOptionsFor(DEFAULT_CONFIG))
    this.front = new ClientFrontEnd(this.frontHost(), this.options.frontEndFault)
    this.duties = new LeaderDuties(this.leaderHost())
    this.idGenerator = new SessionIdGenerator(this.id, 0)
    this.boot()
  }

  /** up tells whether the server is running. */
  get up(): boolean {
    return this.peerNow !== undefined
  }

  /** peer returns the running core; throws when the server is down. */
  get peer(): Peer {
    if (this.peerNow === undefined) throw new Error(`server ${this.id} is down`)
    return this.peerNow
  }

  /** tree is the applied tree. */
  get tree(): DataTree {
    return this.treeNow
  }

  /** sessions is the replicated session table. */
  get sessions(): SessionTable {
    return this.sessionsNow
  }

  /** fsyncOutstanding tells whether a Ready waits for its fsync. */
  get fsyncOutstanding(): boolean {
    return this.inFlight !== undefined
  }

  /** clientConnections is the number of clients connected here. */
  get clientConnections(): number {
    return this.front.connectionCount
  }

  // ------------------------------------------------------------------ lifecycle

  /** crash stops the server: memory is gone and the disk loses what was not synced. */
  crash(random: SimRandom): CrashLoss {
    const loss = this.disk.crash(random)
    this.front.closeAll(ErrorCode.CONNECTION_LOSS, 'server crashed')
    this.peerNow = undefined
    this.inFlight = undefined
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
    this.installState(snapshot)
    this.ticks = 0
    this.appliedSinceSnapshot = 0
    this.idGenerator = new SessionIdGenerator(this.id, this.env.nowMs())
    this.front = new ClientFrontEnd(this.frontHost(), this.options.frontEndFault)
    this.duties = new LeaderDuties(this.leaderHost())
    const random = this.options.random
    this.peerNow = new Peer(
      {
        ...this.options.peerConfig,
        id: this.id,
        members: this.options.members,
        random: () => random.float(),
        snapshotSource: () => ({ zxid: this.treeNow.appliedZxid, data: this.makeSnapshot() }),
      },
      recovered.state,
    )
    this.env.trace(
      `s${this.id} boot snap=${formatZxid(recovered.state.snapshotZxid)} log=${recovered.state.log.length} epochs=${recovered.state.acceptedEpoch}/${recovered.state.currentEpoch} torn=${recovered.tornRecords}`,
    )
    this.env.observer.replaced(this, 'restart')
  }

  private installState(snapshot: SimSnapshot | undefined): void {
    this.treeNow =
      snapshot === undefined ? new DataTree() : DataTree.fromSnapshot(snapshot.nodes, snapshot.zxid)
    this.sessionsNow =
      snapshot === undefined
        ? new SessionTable(this.options.sessionOptions)
        : SessionTable.fromRecords(snapshot.sessions, this.options.sessionOptions)
    this.builderNow = new TxnBuilder(this.treeNow, txnBuilderOptionsFor(DEFAULT_CONFIG))
  }

  private makeSnapshot(): SimSnapshot {
    return {
      zxid: this.treeNow.appliedZxid,
      // With stored hashes, as snapshot files hold them: a restart takes them instead of recomputing.
      nodes: [...this.treeNow.snapshotEntries({ hashes: true })],
      sessions: this.sessionsNow.snapshotRecords(),
    }
  }

  // ------------------------------------------------------------------ inputs

  /** tick advances the server's logical clock by one tick. */
  tick(): void {
    this.ticks += 1
    this.peer.tick()
    this.duties.onTick()
    this.pump()
  }

  /** receive hands a peer message to the core. */
  receive(from: ServerId, message: PeerMessage): void {
    this.peer.receive(from, message)
    this.pump()
  }

  /** onClient handles a message from a client connection. */
  onClient(connId: number, message: ToServer): void {
    this.front.onMessage(connId, message)
    this.pump()
  }

  /** fsyncDone completes the outstanding Ready once its fsync finished (ignored if the server crashed meanwhile). */
  fsyncDone(incarnation: number): void {
    if (incarnation !== this.incarnation || this.inFlight === undefined) return
    this.complete(this.inFlight)
    this.pump()
  }

  // ------------------------------------------------------------------ the Ready contract

  /** pump takes Readys and carries them out until one waits for an fsync or none is left. */
  private pump(): void {
    const peer = this.peerNow
    while (
      peer !== undefined &&
      this.peerNow === peer &&
      this.inFlight === undefined &&
      peer.hasReady()
    ) {
      const ready = peer.ready()
      this.inFlight = ready
      for (const envelope of ready.send) this.env.sendPeer(this.id, envelope)
      this.disk.write(opsOf(ready.persist))
      if (ready.mustSync) {
        this.env.scheduleFsync(this, this.incarnation)
        // Commits durable before this Ready are applied while its fsync runs (as member-server does).
        this.env.count('early.commits', ready.commitDurable)
        for (const txn of ready.commit.slice(0, ready.commitDurable)) this.applyTxn(txn)
        this.appliedEarly = ready.commitDurable
        if (ready.commitDurable > 0) this.front.flushAll()
        return
      }
      this.appliedEarly = 0
      this.complete(ready)
    }
  }

  private complete(ready: Ready): void {
    this.disk.sync()
    for (const envelope of ready.sendAfterPersist) this.env.sendPeer(this.id, envelope)
    this.applyReady(ready)
    this.inFlight = undefined
    this.peer.advance(ready)
  }

  private applyReady(ready: Ready): void {
    if (ready.persist.snapshot !== undefined) {
      this.installState(ready.persist.snapshot.data as SimSnapshot)
      this.env.trace(`s${this.id} install snap ${formatZxid(this.treeNow.appliedZxid)}`)
      this.env.observer.replaced(this, 'snap')
    }
    for (const txn of ready.commit.slice(this.appliedEarly)) this.applyTxn(txn)
    for (const read of ready.readsReady) this.front.onReadReady(read.token, read.zxid)
    for (const token of ready.readsFailed) this.front.onReadFailed(token)
    if (ready.leaderLost) {
      this.duties.stop()
      this.front.closeAll(ErrorCode.CONNECTION_LOSS, 'leader lost')
    }
    if (ready.becameEstablished && ready.role === 'leading') this.duties.start()
    this.duties.onRequests(ready.requests)
    this.duties.onSessionsTouched(ready.sessionsTouched)
    this.front.flushAll()
    if (this.appliedSinceSnapshot >= this.options.snapshotEveryTxns) {
      this.disk.saveSnapshot(this.makeSnapshot())
      this.appliedSinceSnapshot = 0
      this.env.trace(`s${this.id} snapshot ${formatZxid(this.treeNow.appliedZxid)}`)
    }
  }

  private applyTxn(txn: Txn): void {
    const previous = this.treeNow.appliedZxid
    const result = this.treeNow.apply(txn)
    this.sessionsNow.apply(txn)
    this.builderNow.onApplied(txn.zxid)
    this.duties.onApplied(txn)
    this.appliedSinceSnapshot += 1
    this.env.observer.applied(this, previous, txn)
    this.front.onApplied(txn, result)
  }

  // ------------------------------------------------------------------ hosts for the parts

  private frontHost() {
    const server = this
    return {
      id: this.id,
      get peer() {
        return server.peer
      },
      get tree() {
        return server.treeNow
      },
      get sessions() {
        return server.sessionsNow
      },
      serving: () => this.peerNow?.established === true,
      sendClient: (connId: number, message: ToClient) => this.env.sendClient(connId, message),
      touch: (sessionId: SessionId) => {
        if (this.duties.isActive) this.sessionsNow.touch(sessionId, this.ticks)
        else this.peerNow?.touchSessions([sessionId])
      },
      newSession: () => ({
        sessionId: this.idGenerator.next(),
        password: this.options.random.bytes(8),
      }),
    }
  }

  private leaderHost() {
    const server = this
    return {
      get peer() {
        return server.peer
      },
      get sessions() {
        return server.sessionsNow
      },
      get builder() {
        return server.builderNow
      },
      get tree() {
        return server.treeNow
      },
      nowMs: () => this.env.nowMs(),
      localTick: () => this.ticks,
      trace: (line: string) => this.env.trace(`s${this.id} ${line}`),
    }
  }
}
