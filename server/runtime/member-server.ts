/**
 * MemberServer: one running Conclave server — a member of an ensemble, or a standalone
 * server, which is an ensemble of one (it elects itself and commits after its own
 * fsync). It wires real I/O into the Replica (replica.ts), which holds the ZAB core,
 * the tree, sessions, watches, the client front and the ReadyExecutor that carries
 * out each Ready in the contract's order:
 *   - time: SYSTEM_CLOCK (Date.now, performance.now, timers, setImmediate) and a tick
 *     interval, with catch-up ticks for a leader whose process was stopped;
 *   - storage: FileStorage (server/storage), the data-directory lock, background
 *     snapshots;
 *   - peer transport: PeerLinks (server/net/peer-links) with chunked SNAP transfer
 *     (snap-transfer.ts);
 *   - client transport: the WebSocket ClientListener, plus /health, /status, /metrics.
 *
 * Disk full (docs/operations.md): storage redoes a write that failed with ENOSPC every
 * `diskFullRetryMs`, the Ready pending meanwhile, so nothing it covers is sent or
 * acknowledged early. On the first failure the member tells the replica
 * (`storageStalled`): it leaves the leadership it leads or follows and stays out of
 * elections, and its clients are closed with NOT_SERVING so the SDK moves to a member
 * that can write. Once a write succeeds it rejoins by itself. Any other I/O error
 * still stops the process.
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import {
  CloseCode,
  counterOf,
  decodePeerMessage,
  epochOf,
  formatZxid,
  type ServerId,
  type Zxid,
} from '../../protocol/index.js'
import { isRecord } from '../../protocol/schema.js'
import type { PersistentState, PersistWork } from '../core/index.js'
import { ClientListener, type HttpReply } from '../net/client-listener.js'
import { loadConsoleAssets } from '../net/console-assets.js'
import { PeerLinks } from '../net/peer-links.js'
import { readSecretFile } from '../net/peer-secret.js'
import { startMemberTls, type MemberTls } from './tls-runtime.js'
import type { SessionTable } from '../sessions/index.js'
import { acquireDataDirLock, type DataDirLock } from '../storage/data-dir-lock.js'
import { FileStorage } from '../storage/file-storage.js'
import { describeIoError } from '../storage/errors.js'
import { treeRecordTupleOf } from '../storage/snapshot-content.js'
import {
  persistentStateOf,
  restoreForEnsemble,
  snapshotRequestOf,
  treeLoading,
} from '../storage/restore.js'
import type { DataTree } from '../tree/index.js'
import { SYSTEM_CLOCK } from './clock.js'
import {
  frameBytesMaxFor,
  peerFrameBytesMaxFor,
  peerMessageBudgetBytesFor,
  type ServerConfig,
} from './config.js'
import { EventLoopLag } from './event-loop-lag.js'
import { memberOrigins } from './member-origins.js'
import type { MemberStatus } from './member-status.js'
import { MemberMetrics } from './metrics.js'
import { Replica, sessionOptionsOf, type RestoredState } from './replica.js'
import { SnapAssembler, SnapSender, type AssembledSnapData } from './snap-transfer.js'

/** CATCH_UP_AFTER_TICKS is how many tick lengths may pass between two ticks before a leader makes up for the missed ones. */
const CATCH_UP_AFTER_TICKS = 2

/** MemberServer is one running server. Create it with `MemberServer.start`. */
export class MemberServer {
  private readonly replica: Replica
  private listener: ClientListener | undefined
  private links: PeerLinks | undefined
  /** tls is the certificate material when either port speaks TLS. */
  private tls: MemberTls | undefined
  private sender: SnapSender | undefined
  private readonly assembler = new SnapAssembler()
  private readonly eventLoop = new EventLoopLag()
  private readonly metrics = new MemberMetrics(
    () => this.status(),
    () => this.replica.peer.status().lastTransition,
    () => this.replica.peer.status().drops,
  )
  private tickTimer: NodeJS.Timeout | undefined
  private lock: DataDirLock | undefined
  /** lastTickAtMs is when the last tick ran (monotonic), to tell ticks missed while the process was stopped. */
  private lastTickAtMs = performance.now()
  private stopped = false
  /** diskFull is set while storage waits for space: since when, and the operations still failing. */
  private diskFull: { sinceMs: number; failing: Map<string, string> } | undefined
  /** snapshotRetryAtMs holds back the next background snapshot after one failed. */
  private snapshotRetryAtMs = 0

  private constructor(
    private readonly config: ServerConfig,
    private readonly logger: Logger,
    private readonly storage: FileStorage,
    restored: RestoredState,
    persistent: PersistentState,
  ) {
    const members =
      config.ensemble === undefined ? [config.id] : config.ensemble.members.map((m) => m.id)
    this.replica = new Replica({
      config,
      members,
      core: {
        leaderTimeoutTicks: config.leaderTimeoutTicks,
        initTimeoutTicks: config.initTimeoutTicks,
        diffLimitTxns: config.diffLimitTxns,
        diffLimitBytes: config.diffLimitBytes,
        peerMessageBudgetBytes: peerMessageBudgetBytesFor(config),
      },
      restored,
      persistent,
      clock: SYSTEM_CLOCK,
      storage: {
        persist: (work, done) => {
          const persistStartedMs = performance.now()
          persistWork(this.storage, work).then(
            () => {
              this.metrics.onPersisted(
                work.txns.length,
                work.snapshot !== undefined,
                persistStartedMs,
              )
              done()
            },
            (error: unknown) => done(error),
          )
        },
        snapshotIfDue: (tree, sessions) => this.snapshotIfDue(tree, sessions),
      },
      peers: {
        send: (to, message) => this.sender?.send(to, message),
        flush: () => this.links?.flush(),
      },
      random: {
        float: Math.random,
        passwordBytes: () => new Uint8Array(randomBytes(16)),
      },
      logger,
      metrics: this.metrics,
      fatal: (error) => {
        // A broken invariant while applying: stop rather than serve a state we cannot trust.
        this.logger.fatal({ err: error }, 'internal error while carrying out a Ready; stopping')
        process.exit(4)
      },
      persistFailed: (error) => {
        // Stopping while the disk is full gives up the pending write: nothing was acknowledged for it.
        if (this.stopped) return
        // It must not acknowledge anything it could not make durable.
        this.logger.fatal({ err: error }, 'cannot write to the data directory; stopping')
        process.exit(3)
      },
    })
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
          if (up) return server.replica.linkUp(peer)
          server.assembler.forget(peer)
          server.replica.linkDown(peer)
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
          onOpen: (socket) => server.replica.onOpen(socket),
          onFrame: (socket, frame) => server.replica.onFrame(socket, frame),
          onClose: (socket, code, reason) => server.replica.onClose(socket, code, reason),
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
        if (this.replica.serving || this.stopped) resolve()
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
    this.replica.stop(CloseCode.SERVER_SHUTDOWN, 'server shutting down')
    this.sender?.close()
    this.tls?.stop()
    await this.listener?.close()
    await this.links?.close()
    // Closing storage ends a write still waiting for disk space (it is given up, never
    // acknowledged); queued writes otherwise finish first.
    await this.storage.close()
    await this.lock?.release()
    this.logger.info('stopped')
  }

  // ---------------------------------------------------------------- inputs

  private tick(): void {
    if (this.stopped) return
    const nowMs = performance.now()
    const elapsedTicks = Math.floor((nowMs - this.lastTickAtMs) / this.config.tickMs)
    this.lastTickAtMs = nowMs
    this.replica.tick()
    if (elapsedTicks > CATCH_UP_AFTER_TICKS && this.replica.peer.role === 'leading')
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
    if (this.stopped || this.replica.peer.role !== 'leading') return
    const ticks = Math.min(missedTicks, this.config.leaderTimeoutTicks + 1)
    this.replica.catchUpTicks(ticks)
    this.logger.debug({ missedTicks, ticks }, 'leader caught up with ticks it missed')
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
    this.replica.receive(from, message)
  }

  // ---------------------------------------------------------------- storage

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
    this.replica.storageStalled(true)
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
    this.replica.storageStalled(false)
  }

  /** snapshotIfDue starts a background (chunked, fuzzy) snapshot when enough txns were logged. */
  private snapshotIfDue(tree: DataTree, sessions: SessionTable): void {
    if (
      !this.storage.snapshotDue ||
      this.stopped ||
      this.storage.snapshotInProgress ||
      Date.now() < this.snapshotRetryAtMs
    )
      return
    const started = Date.now()
    this.storage.snapshot(snapshotRequestOf(tree, sessions)).then(
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

  // ---------------------------------------------------------------- status

  private roleName(): string {
    return this.config.ensemble === undefined ? 'standalone' : this.replica.peer.role
  }

  private health(): HttpReply {
    return {
      status: 200,
      body: { ok: true, role: this.roleName(), serving: this.replica.serving },
    }
  }

  /** status is what GET /status shows. */
  status(): MemberStatus {
    const { tree, front, window } = this.replica
    const core = this.replica.peer.status()
    const leading = core.role === 'leading'
    return {
      id: this.config.id,
      role: this.roleName(),
      serving: this.replica.serving,
      leaderId: core.leaderId ?? null,
      epoch: core.epoch ?? null,
      acceptedEpoch: core.acceptedEpoch,
      currentEpoch: core.currentEpoch,
      zxid: formatZxid(tree.appliedZxid),
      zxidDecimal: tree.appliedZxid.toString(),
      lastLoggedZxid: formatZxid(core.lastLoggedZxid),
      lastCommittedZxid: formatZxid(core.lastCommittedZxid),
      sessions: this.replica.sessions.size,
      znodes: tree.nodeCount,
      ephemerals: tree.ephemeralCount,
      dataBytes: tree.dataBytes,
      watches: this.replica.watches.count(),
      watchWindow: {
        oldestZxid: formatZxid(window.oldestZxid),
        changes: window.changes,
        bytes: window.bytes,
      },
      connections: front.connectionCount,
      requestsInFlight: front.requestsInFlight,
      digest: tree.digest(),
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

/** persistWork makes a Ready's persistence work durable in FileStorage, in contract order. */
async function persistWork(storage: FileStorage, work: PersistWork): Promise<void> {
  if (work.snapshot !== undefined) {
    const data = work.snapshot.data as AssembledSnapData
    // The snapshot and the txns that came with it become durable as one unit.
    // The records come from the tree built as the chunks arrived (not installed yet, so unchanging).
    // Re-iterable: a write that hit a full disk is redone from the first record.
    const nodes = { [Symbol.iterator]: () => data.tree.snapshotWith(treeRecordTupleOf) }
    const request = {
      zxid: work.snapshot.zxid,
      nodes,
      sessions: data.sessions,
      zxidAtEnd: () => data.fuzzyThroughZxid,
    }
    await storage.installSnapshot(request, work.txns)
  } else {
    if (work.truncateAfter !== undefined) await storage.truncateAfter(work.truncateAfter)
    if (work.txns.length > 0) await storage.append(work.txns)
  }
  if (work.epochs !== undefined)
    await storage.writeEpochs({
      acceptedEpoch: work.epochs.accepted,
      currentEpoch: work.epochs.current,
    })
}
