/**
 * MemberServer: one running Conclave server — a member of an ensemble, or a standalone
 * server, which is an ensemble of one (it elects itself and commits after its own
 * fsync). This is where the pure ZAB core (server/core) meets real time, the disk
 * (server/storage), the peer port (server/net/peer-links) and clients
 * (client-front.ts).
 *
 * It carries out each Ready exactly as server/core/ready.ts prescribes:
 *   1. send `send` at once;
 *   2. persist `persist` and wait for its fsync (a snapshot and its txns as one unit);
 *   3. then send `sendAfterPersist` (acks that promise durability);
 *   4. apply `commit` to the tree in order — each txn's watch events and the answers it
 *      settles go out before the next txn is applied — and answer confirmed reads;
 *   5. let the leader's duties prepare and propose listed requests; `advance`.
 * One Ready is outstanding at a time; while its fsync runs, ticks, peer messages and
 * client requests keep arriving and accumulate in the next Ready (group commit).
 *
 * Disk full (docs/operations.md): storage redoes a write that failed with ENOSPC every
 * `diskFullRetryMs`, the Ready pending meanwhile, so nothing it covers is sent or
 * acknowledged early. On the first failure the member tells the core
 * (`storageStalled`): it leaves the leadership it leads or follows and stays out of
 * elections, and its clients are closed with NOT_SERVING so the SDK moves to a member
 * that can write. Once a write succeeds it rejoins by itself. Any other I/O error
 * still stops the process.
 */
import { randomBytes } from 'node:crypto'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { Logger } from 'pino'
import {
  CloseCode,
  counterOf,
  decodePeerMessage,
  epochOf,
  formatZxid,
  type ServerId,
  type SessionId,
  type SnapshotPayload,
  type Txn,
  type Zxid,
} from '../../protocol/index.js'
import { isRecord } from '../../protocol/schema.js'
import { Peer, type PersistentState, type PersistWork, type Ready } from '../core/index.js'
import { LeaderDuties, type ForwardPayload } from '../member/index.js'
import { ClientListener, type HttpReply } from '../net/client-listener.js'
import { loadConsoleAssets } from '../net/console-assets.js'
import { PeerLinks } from '../net/peer-links.js'
import { readSecretFile } from '../net/peer-secret.js'
import { startMemberTls, type MemberTls } from './tls-runtime.js'
import { TxnBuilder } from '../requests/index.js'
import { SessionIdGenerator, SessionTable, type SessionTableOptions } from '../sessions/index.js'
import { acquireDataDirLock, type DataDirLock } from '../storage/data-dir-lock.js'
import { FileStorage } from '../storage/file-storage.js'
import { describeIoError } from '../storage/errors.js'
import {
  persistentStateOf,
  restoreForEnsemble,
  snapshotRequestOf,
  treeLoading,
} from '../storage/restore.js'
import { DataTree } from '../tree/index.js'
import { ChangeWindow, WatchRegistry, type WatchChange } from '../watches/index.js'
import { ClientFront } from './client-front.js'
import {
  frameBytesMaxFor,
  peerFrameBytesMaxFor,
  peerMessageBudgetBytesFor,
  txnBuilderOptionsFor,
  type ServerConfig,
} from './config.js'
import { EventLoopLag } from './event-loop-lag.js'
import { memberOrigins } from './member-origins.js'
import type { MemberStatus } from './member-status.js'
import { MemberMetrics } from './metrics.js'
import { LiveSnapshot, SnapAssembler, SnapSender, type AssembledSnapData } from './snap-transfer.js'

/** CATCH_UP_AFTER_TICKS is how many tick lengths may pass between two ticks before a leader makes up for the missed ones. */
const CATCH_UP_AFTER_TICKS = 2

/** APPLY_CHUNK_TXNS bounds the committed txns applied in one event-loop turn. */
const APPLY_CHUNK_TXNS = 2000

/** MemberServer is one running server. Create it with `MemberServer.start`. */
export class MemberServer {
  private tree: DataTree
  private sessions: SessionTable
  private builder: TxnBuilder
  /** Commits up to here may already be in the snapshot the tree came from: apply them in replay mode. */
  private fuzzyThroughZxid: Zxid
  private readonly watches = new WatchRegistry()
  /** window keeps recent committed changes for watches that resume from a position. */
  private readonly window: ChangeWindow
  private readonly peer: Peer
  private readonly duties: LeaderDuties
  private readonly front: ClientFront
  private readonly sessionIds: SessionIdGenerator
  private listener: ClientListener | undefined
  private links: PeerLinks | undefined
  /** tls is the certificate material when either port speaks TLS. */
  private tls: MemberTls | undefined
  private sender: SnapSender | undefined
  private readonly assembler = new SnapAssembler()
  private readonly eventLoop = new EventLoopLag()
  private readonly metrics = new MemberMetrics(
    () => this.status(),
    () => this.peer.status().lastTransition,
  )
  private tickTimer: NodeJS.Timeout | undefined
  private lock: DataDirLock | undefined
  private tickCount = 0
  /** lastTickAtMs is when the last tick ran (monotonic), to tell ticks missed while the process was stopped. */
  private lastTickAtMs = performance.now()
  private inFlight: Promise<void> | undefined
  private stopped = false
  private lastRole = ''
  /** diskFull is set while storage waits for space: since when, and the operations still failing. */
  private diskFull: { sinceMs: number; failing: Map<string, string> } | undefined
  /** snapshotRetryAtMs holds back the next background snapshot after one failed. */
  private snapshotRetryAtMs = 0

  private constructor(
    private readonly config: ServerConfig,
    private readonly logger: Logger,
    private readonly storage: FileStorage,
    restored: { tree: DataTree; sessions: SessionTable; fuzzyThroughZxid: Zxid },
    persistent: PersistentState,
  ) {
    this.tree = restored.tree
    this.sessions = restored.sessions
    this.fuzzyThroughZxid = restored.fuzzyThroughZxid
    this.builder = new TxnBuilder(this.tree, txnBuilderOptionsFor(config))
    this.window = new ChangeWindow(
      { changesMax: config.watchWindowChanges, bytesMax: config.watchWindowBytes },
      this.tree.appliedZxid,
    )
    this.sessionIds = new SessionIdGenerator(config.id, Date.now())
    const members =
      config.ensemble === undefined ? [config.id] : config.ensemble.members.map((m) => m.id)
    this.peer = new Peer(
      {
        id: config.id,
        members,
        random: Math.random,
        snapshotSource: () => this.snapshotPayload(),
        leaderTimeoutTicks: config.leaderTimeoutTicks,
        initTimeoutTicks: config.initTimeoutTicks,
        diffLimitTxns: config.diffLimitTxns,
        diffLimitBytes: config.diffLimitBytes,
        peerMessageBudgetBytes: peerMessageBudgetBytesFor(config),
      },
      persistent,
    )
    const server = this
    this.duties = new LeaderDuties({
      get peer() {
        return server.peer
      },
      get sessions() {
        return server.sessions
      },
      get builder() {
        return server.builder
      },
      get tree() {
        return server.tree
      },
      nowMs: () => Date.now(),
      localTick: () => this.tickCount,
      trace: (line) => this.logger.debug(line),
    })
    this.front = new ClientFront(
      {
        id: config.id,
        get tree() {
          return server.tree
        },
        get sessions() {
          return server.sessions
        },
        watches: this.watches,
        window: this.window,
        logger,
        superDigest: config.superDigest,
        serving: () => this.peer.established && !this.stopped,
        forward: (sessionId, xid, payload) => this.forward(sessionId, xid, payload),
        readIndex: (token) => {
          const accepted = this.peer.readIndex(token)
          this.pump()
          return accepted
        },
        touch: (sessionId) => this.touch(sessionId),
        newSessionId: () => this.sessionIds.next(),
        newPassword: () => new Uint8Array(randomBytes(16)),
        nowMs: () => Date.now(),
        metrics: this.metrics,
      },
      { ...config, frameBytesMax: frameBytesMaxFor(config) },
    )
  }

  /**
   * start recovers the data directory, opens the peer port (ensemble members) and the
   * client port, and starts ticking. A damaged or foreign data directory throws a
   * StorageError whose message is for the operator; a bad secret file or member list
   * throws a PeerLinksError.
   */
  static async start(config: ServerConfig, logger: Logger): Promise<MemberServer> {
    const secret =
      config.ensemble === undefined ? undefined : await readSecretFile(config.ensemble.secretFile)
    const adminToken =
      config.admin.tokenFile === undefined
        ? undefined
        : await readSecretFile(config.admin.tokenFile)
    // Unusable TLS files stop the start before anything is opened.
    const tls = await startMemberTls(config.tls, logger)
    const lock = await acquireDataDirLock(config.dataDir, { createIfMissing: true }).catch(
      (err: unknown) => {
        tls?.stop()
        throw err
      },
    )
    let opened
    // Storage may report a full disk before the server exists (recovery finishing an install): log it then.
    let owner: MemberServer | undefined
    const noSpace = {
      retryMs: config.diskFullRetryMs,
      onStall: (stall: { what: string; error: unknown; attempt: number }) =>
        owner ? owner.onDiskFull(stall) : logDiskFull(logger, config, stall),
      onResume: (resume: { what: string; failedAttempts: number }) => owner?.onDiskSpace(resume),
    }
    try {
      opened = await FileStorage.open(config.dataDir, {
        createIfMissing: true,
        snapshotEveryTxns: config.snapshotEveryTxns,
        noSpace,
        ...treeLoading,
      })
    } catch (err) {
      tls?.stop()
      await lock.release()
      throw err
    }
    const { storage, recovered } = opened
    let server: MemberServer
    try {
      const restored = restoreForEnsemble(recovered, sessionOptionsOf(config))
      const persistent = await upgradeStandaloneEpochs(persistentStateOf(recovered), storage)
      logger.info(
        {
          dataDir: config.dataDir,
          snapshotZxid: formatZxid(persistent.snapshotZxid),
          loggedTxns: persistent.log.length,
          acceptedEpoch: persistent.acceptedEpoch,
          currentEpoch: persistent.currentEpoch,
          // In the snapshot: the logged txns are applied once the member serves.
          snapshotZnodes: restored.tree.nodeCount,
          snapshotSessions: restored.sessions.size,
        },
        'recovered',
      )
      server = owner = new MemberServer(config, logger, storage, restored, persistent)
      server.lock = lock
      server.tls = tls
      if (config.ensemble !== undefined && secret !== undefined) {
        const ensemble = config.ensemble
        server.links = await PeerLinks.start({
          selfId: config.id,
          host: config.host,
          peerPort: ensemble.peerPort,
          members: ensemble.members.map((m) => ({ id: m.id, host: m.host, peerPort: m.peerPort })),
          secret,
          ensembleId: ensemble.ensembleId,
          frameBytesMax: peerFrameBytesMaxFor(config),
          sendQueueBytesMax: 2 * peerFrameBytesMaxFor(config),
          handshakeTimeoutMs: config.peerHandshakeTimeoutMs,
          handshakesPerAddressMax: config.peerHandshakesPerAddressMax,
          memberHandshakesPerAddressMax: config.peerMemberHandshakesPerAddressMax,
          strangerHandshakesMax: config.peerStrangerHandshakesMax,
          logger,
          dialAddress: (member) =>
            ensemble.dialAddresses.get(member.id) ?? { host: member.host, port: member.peerPort },
          ...(config.tls.peerTls && tls !== undefined ? { tls: tls.material } : {}),
        })
        server.sender = new SnapSender(server.links, logger, peerMessageBudgetBytesFor(config))
        server.links.onMessage((from, value) => server.onPeerMessage(from, value))
        server.links.onLinkChange((peer, up) => {
          if (server.stopped) return
          if (up) return server.peer.peerConnected(peer)
          server.assembler.forget(peer)
          server.peer.peerDisconnected(peer)
          server.pump()
        })
      }
      server.tickTimer = setInterval(() => server.tick(), config.tickMs)
      // A standalone server elects itself within a few ticks; clients connect once it serves.
      // It has no peer to wait for, so its first tick comes at once instead of a tick late
      // (a tenth of a restart's budget of about a second).
      if (config.ensemble === undefined) {
        server.tick()
        await server.untilServing()
      }
      server.listener = await ClientListener.listen(
        {
          host: config.host,
          port: config.clientPort,
          frameBytesMax: frameBytesMaxFor(config),
          maxConnections: config.maxConnections,
          maxConnectionsPerAddress: config.maxConnectionsPerAddress,
          admin: {
            access: config.admin.access,
            ...(adminToken === undefined ? {} : { token: adminToken }),
          },
          ...(config.tls.clientTls && tls !== undefined
            ? { tls: { material: tls.material, clientCertAuth: config.tls.clientCertAuth } }
            : {}),
          console: loadConsoleAssets(),
          memberOrigins: memberOrigins(config.ensemble?.members ?? [], config.tls.clientTls),
        },
        {
          onOpen: (socket) => server.front.onOpen(socket),
          onFrame: (socket, frame) => {
            server.front.onFrame(socket, frame)
            server.pump()
          },
          onClose: (socket, code, reason) => server.front.onClose(socket, code, reason),
          health: () => server.health(),
          status: () => ({ status: 200, body: server.status() }),
          metrics: async () => ({
            contentType: server.metrics.contentType,
            text: await server.metrics.render(),
          }),
          onRefused: (kind) => server.metrics.refused(kind),
        },
        logger,
      )
    } catch (err) {
      // `owner` is `server`, typed as possibly unset: the constructor itself may have thrown.
      clearInterval(owner?.tickTimer)
      tls?.stop()
      await owner?.links?.close()
      await storage.close()
      await lock.release()
      throw err
    }
    logger.info(
      {
        id: config.id,
        host: config.host,
        port: server.port,
        peerPort: server.peerPort,
        members: config.ensemble?.members.length ?? 1,
        tickMs: config.tickMs,
      },
      'listening',
    )
    return server
  }

  /** untilServing resolves once this server serves (checked on every Ready and tick). */
  private untilServing(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.peer.established || this.stopped) resolve()
        else setTimeout(check, Math.max(1, Math.floor(this.config.tickMs / 4)))
      }
      check()
    })
  }

  /** port is the client port actually bound. */
  get port(): number {
    if (this.listener === undefined) throw new Error('server not started')
    return this.listener.port
  }

  /** peerPort is the peer port actually bound (0 for a standalone server). */
  get peerPort(): number {
    return this.links?.port ?? 0
  }

  /** stop closes every connection and both ports and waits for the disk. Sessions live on in the data. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.tickTimer)
    this.eventLoop.stop()
    this.front.closeAll(CloseCode.SERVER_SHUTDOWN, 'server shutting down')
    this.sender?.close()
    this.tls?.stop()
    await this.listener?.close()
    await this.links?.close()
    // Closing storage before waiting for the Ready ends a write still waiting for disk
    // space (it is given up, never acknowledged); queued writes otherwise finish first.
    const storageClosed = this.storage.close()
    await this.inFlight?.catch(() => {})
    await storageClosed
    await this.lock?.release()
    this.logger.info('stopped')
  }

  // ---------------------------------------------------------------- inputs

  private tick(): void {
    if (this.stopped) return
    const nowMs = performance.now()
    const elapsedTicks = Math.floor((nowMs - this.lastTickAtMs) / this.config.tickMs)
    this.lastTickAtMs = nowMs
    this.tickCount += 1
    this.peer.tick()
    this.duties.onTick()
    if (this.tickCount % this.config.reapEveryTicks === 0) this.duties.reap(Date.now())
    this.pump()
    if (elapsedTicks > CATCH_UP_AFTER_TICKS && this.peer.role === 'leading')
      setImmediate(() => this.catchUpLeader(elapsedTicks - 1))
  }

  /**
   * catchUpLeader gives a leader's core the ticks it missed while the process was
   * stopped (SIGSTOP, a VM pause) or starved, so its quorum timeout sees that time: a
   * leader stopped past the leader timeout steps down as soon as it runs again, instead
   * of taking sessions and pings for one more timeout while its followers already
   * follow another leader. Only a leader does this: its followers stopped hearing it for
   * as long, so they have timed out too. A follower does not, as a leader's pings may be
   * waiting in its socket. It runs after the I/O that waited, so what its quorum sent
   * during the pause still counts.
   */
  private catchUpLeader(missedTicks: number): void {
    if (this.stopped || this.peer.role !== 'leading') return
    const ticks = Math.min(missedTicks, this.config.leaderTimeoutTicks + 1)
    for (let i = 0; i < ticks && this.peer.role === 'leading'; i++) this.peer.tick()
    this.logger.debug({ missedTicks, ticks }, 'leader caught up with ticks it missed')
    this.pump()
  }

  private onPeerMessage(from: ServerId, value: unknown): void {
    if (this.stopped) return
    if (isRecord(value) && value.type === 'snapChunk') return this.assembler.onChunk(from, value)
    let message = decodePeerMessage(value)
    if (message instanceof Error) {
      this.logger.warn({ peer: from, reason: message.message }, 'dropping a malformed peer message')
      return
    }
    if (message.type === 'snap') {
      const assembled = this.assembler.complete(from, message)
      if (typeof assembled === 'string') {
        this.logger.error(
          { peer: from, reason: assembled },
          'dropping a SNAP that does not match what was received',
        )
        return
      }
      message = assembled
    }
    if (message.type === 'diff' || message.type === 'trunc' || message.type === 'snap') {
      this.metrics.onSyncReceived(message.type)
      // Which sync the leader chose says how far behind or diverged this member was.
      const through = message.throughZxid ?? message.txns.at(-1)?.zxid
      this.logger.info(
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

  private forward(sessionId: SessionId, xid: number, payload: ForwardPayload): boolean {
    const accepted = this.peer.forward({ origin: this.config.id, sessionId, xid, payload })
    this.pump()
    return accepted
  }

  /** touch records client activity: the leader refreshes the session, a follower reports it in its next heartbeat reply. */
  private touch(sessionId: SessionId): void {
    if (this.duties.isActive) this.sessions.touch(sessionId, this.tickCount)
    else this.peer.touchSessions([sessionId])
  }

  // ---------------------------------------------------------------- the Ready contract

  /** pump takes Readys and carries them out until one waits for its fsync or none is left. */
  private pump(): void {
    while (!this.stopped && this.inFlight === undefined && this.peer.hasReady()) {
      const ready = this.peer.ready()
      this.metrics.onReady(ready)
      for (const envelope of ready.send) this.sender?.send(envelope.to, envelope.message)
      if (!ready.mustSync && ready.commit.length <= APPLY_CHUNK_TXNS) {
        this.complete(ready)
        continue
      }
      this.inFlight = this.carryOut(ready).then(
        () => {
          this.inFlight = undefined
          if (!this.stopped) this.pump()
        },
        (error: unknown) => {
          // A broken invariant while applying: stop rather than serve a state we cannot trust.
          this.logger.fatal({ err: error }, 'internal error while carrying out a Ready; stopping')
          process.exit(4)
        },
      )
    }
  }

  /**
   * carryOut does a Ready over several event-loop turns: its fsync, then its commits a
   * chunk at a time (a new leader, or a member restarting with a long log, may commit
   * tens of thousands of txns at once; applied in one go they would stall heartbeats).
   * Commits already durable here (`commitDurable`) are applied while the fsync runs:
   * they need not wait for txns proposed after them.
   */
  private async carryOut(ready: Ready): Promise<void> {
    const persisted = ready.mustSync ? this.persistTimed(ready.persist) : undefined
    await this.applyCommits(ready.commit, 0, ready.commitDurable)
    if (persisted !== undefined) {
      const failure = await persisted
      // Stopping while the disk is full gives up the pending write: nothing was acknowledged for it.
      if (failure !== undefined && !this.stopped) return this.onStorageFailure(failure.error)
    }
    if (this.stopped) return
    this.beforeApply(ready)
    if (!(await this.applyCommits(ready.commit, ready.commitDurable, ready.commit.length))) return
    this.afterApply(ready)
  }

  /** persistTimed persists and records the time it took; it resolves with the failure instead of rejecting. */
  private async persistTimed(work: PersistWork): Promise<{ error: unknown } | undefined> {
    try {
      const persistStartedMs = performance.now()
      await this.persist(work)
      this.metrics.onPersisted(work.txns.length, work.snapshot !== undefined, persistStartedMs)
      return undefined
    } catch (error) {
      return { error }
    }
  }

  /** applyCommits applies `commit[from, to)` a chunk per event-loop turn; false if the server stopped meanwhile. */
  private async applyCommits(commit: readonly Txn[], from: number, to: number): Promise<boolean> {
    for (let at = from; at < to; at += APPLY_CHUNK_TXNS) {
      if (at > from) await yieldToEventLoop()
      if (this.stopped) return false
      for (const txn of commit.slice(at, Math.min(at + APPLY_CHUNK_TXNS, to))) this.apply(txn)
    }
    return !this.stopped
  }

  /** persist makes a Ready's persistence work durable, in contract order. */
  private async persist(work: PersistWork): Promise<void> {
    if (work.snapshot !== undefined) {
      const data = work.snapshot.data as AssembledSnapData
      // The snapshot and the txns that came with it become durable as one unit.
      // The records come from the tree built as the chunks arrived (not installed yet, so unchanging).
      // Re-iterable: a write that hit a full disk is redone from the first record.
      const nodes = { [Symbol.iterator]: () => data.tree.snapshotEntries({ hashes: true }) }
      const request = {
        zxid: work.snapshot.zxid,
        nodes,
        sessions: data.sessions,
        zxidAtEnd: () => data.fuzzyThroughZxid,
      }
      await this.storage.installSnapshot(request, work.txns)
    } else {
      if (work.truncateAfter !== undefined) await this.storage.truncateAfter(work.truncateAfter)
      if (work.txns.length > 0) await this.storage.append(work.txns)
    }
    if (work.epochs !== undefined)
      await this.storage.writeEpochs({
        acceptedEpoch: work.epochs.accepted,
        currentEpoch: work.epochs.current,
      })
  }

  /** complete carries out the rest of a Ready once its persistence is durable, in one go. */
  private complete(ready: Ready): void {
    this.beforeApply(ready)
    for (const txn of ready.commit) this.apply(txn)
    this.afterApply(ready)
  }

  /** beforeApply sends what waited on persistence and installs a snapshot from the leader, if any. */
  private beforeApply(ready: Ready): void {
    for (const envelope of ready.sendAfterPersist) this.sender?.send(envelope.to, envelope.message)
    if (ready.persist.snapshot !== undefined) this.installSnapshot(ready.persist.snapshot)
  }

  /** afterApply answers reads, follows role changes, lets the leader prepare requests, and advances the core. */
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
    this.peer.advance(ready)
    this.logRoleChange()
    this.maybeSnapshot()
  }

  private apply(txn: Txn): void {
    const replay = txn.zxid <= this.fuzzyThroughZxid
    const applied = this.tree.apply(txn, { replay })
    // Over a fuzzy snapshot the tree may report fewer changes than the txn made: the
    // window cannot vouch for them and starts again after this txn.
    if (replay) this.window.restart(txn.zxid)
    else this.window.record(txn.zxid, this.withAcls(applied.changes))
    this.sessions.apply(txn)
    this.builder.onApplied(txn.zxid)
    this.duties.onApplied(txn)
    this.metrics.onCommitted(txn.zxid)
    this.front.onApplied(txn, applied)
  }

  /**
   * withAcls gives each change the ACL its node has right after the txn (a deleted
   * node's comes with the change), for the window: a replay judges who may hear of a
   * change by it, also once the node is gone (a node created and deleted since must not
   * be dropped from every replay, nor revealed to those who could not read it).
   */
  private withAcls(changes: readonly WatchChange[]): WatchChange[] {
    return changes.map((change) => {
      if (change.acl !== undefined) return change
      const acl = this.tree.getNode(change.path)?.acl
      return acl === undefined ? change : { ...change, acl }
    })
  }

  /** installSnapshot replaces the applied state with a leader's snapshot (SNAP). */
  private installSnapshot(snapshot: SnapshotPayload): void {
    const data = snapshot.data as AssembledSnapData
    // Built chunk by chunk as the SNAP arrived (snap-transfer.ts), never in one long step.
    this.tree = data.tree
    this.sessions = SessionTable.fromRecords(data.sessions, sessionOptionsOf(this.config))
    this.builder = new TxnBuilder(this.tree, txnBuilderOptionsFor(this.config))
    // The leader walked its tree while applying txns: commits up to here may be in it already.
    this.fuzzyThroughZxid = data.fuzzyThroughZxid
    this.window.restart(snapshot.zxid)
    this.logger.info(
      {
        zxid: formatZxid(snapshot.zxid),
        znodes: this.tree.nodeCount,
        sessions: this.sessions.size,
      },
      'installed a snapshot from the leader',
    )
  }

  /** snapshotPayload is what a leader ships in a SNAP: a live view of its applied state, sent in chunks (snap-transfer.ts). */
  private snapshotPayload(): SnapshotPayload {
    return {
      zxid: this.tree.appliedZxid,
      data: new LiveSnapshot(this.tree, this.sessions.snapshotRecords()),
    }
  }

  /** onStorageFailure stops a server whose disk failed: it must not acknowledge anything it could not make durable. */
  private onStorageFailure(error: unknown): void {
    this.logger.fatal({ err: error }, 'cannot write to the data directory; stopping')
    process.exit(3)
  }

  /**
   * onDiskFull: a write failed for want of space (once per retry, not per write). The
   * first one takes the member out of the ensemble: the core leaves its leadership and
   * clients go elsewhere (NOT_SERVING is retryable); every one is logged at error level.
   */
  private onDiskFull(stall: { what: string; error: unknown; attempt: number }): void {
    logDiskFull(this.logger, this.config, stall)
    if (this.stopped) return
    if (this.diskFull !== undefined) {
      this.diskFull.failing.set(stall.what, describeIoError(stall.error))
      return
    }
    this.diskFull = {
      sinceMs: Date.now(),
      failing: new Map([[stall.what, describeIoError(stall.error)]]),
    }
    this.duties.stop()
    this.peer.storageStalled(true)
    this.front.closeAll(
      CloseCode.NOT_SERVING,
      'disk full: this server cannot write to its data directory',
    )
    this.pump()
  }

  /** onDiskSpace: a write that had failed for want of space succeeded; once none is failing the member rejoins. */
  private onDiskSpace(resume: { what: string; failedAttempts: number }): void {
    const full = this.diskFull
    if (full === undefined || this.stopped) return
    full.failing.delete(resume.what)
    if (full.failing.size > 0) return
    this.diskFull = undefined
    this.logger.warn(
      {
        what: resume.what,
        failedAttempts: resume.failedAttempts,
        stalledMs: Date.now() - full.sinceMs,
      },
      'disk writable again; rejoining the ensemble',
    )
    this.peer.storageStalled(false)
    this.pump()
  }

  /** maybeSnapshot starts a background (chunked, fuzzy) snapshot when enough txns were logged. */
  private maybeSnapshot(): void {
    if (
      !this.storage.snapshotDue ||
      this.stopped ||
      this.storage.snapshotInProgress ||
      Date.now() < this.snapshotRetryAtMs
    )
      return
    const started = Date.now()
    this.storage.snapshot(snapshotRequestOf(this.tree, this.sessions)).then(
      (info) =>
        this.logger.info(
          {
            file: info.file,
            zxid: formatZxid(info.zxid),
            znodes: info.nodes,
            ms: Date.now() - started,
          },
          'snapshot written',
        ),
      (error: unknown) => {
        // Not retried at once: on a full disk every attempt would write and drop a whole temp file.
        this.snapshotRetryAtMs = Date.now() + this.config.diskFullRetryMs
        this.logger.error(
          { err: error, retryInMs: this.config.diskFullRetryMs },
          'snapshot failed; the log still holds everything',
        )
      },
    )
  }

  private logRoleChange(): void {
    const status = this.peer.status()
    const role = `${status.role}/${status.established ? 'serving' : 'not serving'}/${status.epoch ?? '-'}`
    if (role === this.lastRole) return
    this.lastRole = role
    this.logger.info(
      {
        role: status.role,
        serving: status.established,
        epoch: status.epoch,
        leader: status.leaderId,
        zxid: formatZxid(this.tree.appliedZxid),
        reason: status.lastTransition,
      },
      'role changed',
    )
  }

  // ---------------------------------------------------------------- status

  private roleName(): string {
    return this.config.ensemble === undefined ? 'standalone' : this.peer.role
  }

  private health(): HttpReply {
    return {
      status: 200,
      body: { ok: true, role: this.roleName(), serving: this.peer.established && !this.stopped },
    }
  }

  /** status is what GET /status shows. */
  status(): MemberStatus {
    const core = this.peer.status()
    const leading = core.role === 'leading'
    return {
      id: this.config.id,
      role: this.roleName(),
      serving: core.established && !this.stopped,
      leaderId: core.leaderId ?? null,
      epoch: core.epoch ?? null,
      acceptedEpoch: core.acceptedEpoch,
      currentEpoch: core.currentEpoch,
      zxid: formatZxid(this.tree.appliedZxid),
      zxidDecimal: this.tree.appliedZxid.toString(),
      lastLoggedZxid: formatZxid(core.lastLoggedZxid),
      lastCommittedZxid: formatZxid(core.lastCommittedZxid),
      sessions: this.sessions.size,
      znodes: this.tree.nodeCount,
      ephemerals: this.tree.ephemeralCount,
      dataBytes: this.tree.dataBytes,
      watches: this.watches.count(),
      watchWindow: {
        oldestZxid: formatZxid(this.window.oldestZxid),
        changes: this.window.changes,
        bytes: this.window.bytes,
      },
      connections: this.front.connectionCount,
      requestsInFlight: this.front.requestsInFlight,
      digest: this.tree.digest(),
      diskFull:
        this.diskFull === undefined
          ? null
          : {
              sinceMs: this.diskFull.sinceMs,
              stalledMs: Date.now() - this.diskFull.sinceMs,
              failing: Object.fromEntries(this.diskFull.failing),
              retryMs: this.config.diskFullRetryMs,
            },
      eventLoop: this.eventLoop.report(),
      ...(leading && this.config.ensemble !== undefined
        ? {
            followers: core.followers.map((f) => ({
              id: f.id,
              stage: f.stage,
              ackedZxid: formatZxid(f.ackedZxid),
              lagTxns: lagTxns(core.lastLoggedZxid, f.ackedZxid),
              connected: this.links?.isUp(f.id) ?? false,
            })),
          }
        : {}),
      ...(this.links === undefined
        ? {}
        : { links: this.links.linkStates(), handshakes: this.links.handshakeSlots() }),
      ...(this.config.ensemble === undefined
        ? {}
        : {
            members: this.config.ensemble.members.map((m) => ({
              id: m.id,
              host: m.host,
              clientPort: m.clientPort,
            })),
          }),
    }
  }
}

/** lagTxns is how many txns a follower's acknowledged zxid trails the leader's log by, when both are in one epoch. */
function lagTxns(leaderZxid: Zxid, ackedZxid: Zxid): number | null {
  if (epochOf(leaderZxid) !== epochOf(ackedZxid)) return null
  return counterOf(leaderZxid) - counterOf(ackedZxid)
}

/** logDiskFull logs one failed attempt to write to a full disk, at error level, with what to do. */
function logDiskFull(
  logger: Logger,
  config: ServerConfig,
  stall: { what: string; error: unknown; attempt: number },
): void {
  logger.error(
    {
      what: stall.what,
      attempt: stall.attempt,
      error: describeIoError(stall.error),
      dataDir: config.dataDir,
      retryInMs: config.diskFullRetryMs,
    },
    'disk full: cannot write to the data directory; not serving until space is freed there (retrying)',
  )
}

function sessionOptionsOf(config: ServerConfig): SessionTableOptions {
  return {
    tickMs: config.tickMs,
    minTimeoutMs: config.minSessionTimeoutMs,
    maxTimeoutMs: config.maxSessionTimeoutMs,
  }
}

/**
 * upgradeStandaloneEpochs: data written by a standalone server before it ran the ZAB
 * core has txns of epoch 1 but no epoch file (both epochs 0). Record the epoch its
 * history is in, so the core accepts it.
 */
async function upgradeStandaloneEpochs(
  state: PersistentState,
  storage: FileStorage,
): Promise<PersistentState> {
  if (state.acceptedEpoch !== 0 || state.currentEpoch !== 0) return state
  const last = state.log.at(-1)?.zxid ?? state.snapshotZxid
  const epoch = epochOf(last)
  if (epoch === 0) return state
  await storage.writeEpochs({ acceptedEpoch: epoch, currentEpoch: epoch })
  return { ...state, acceptedEpoch: epoch, currentEpoch: epoch }
}
