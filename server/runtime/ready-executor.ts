/**
 * ReadyExecutor: the one piece of code that carries out the core's Readys, in the
 * order server/core/ready.ts prescribes. Production (MemberServer, through Replica),
 * the simulator and the scenario harness all run this class; they differ only in the
 * `ReadyHandlers` they wire: what sending, persisting and applying mean there.
 *
 * For each Ready:
 *   1. send `send` at once, and flush it (`flushSends`) when the fsync will follow;
 *   2. persist `persist` and wait for its fsync (`handlers.persist` calls back when
 *      the work is durable — at once, or from a later event);
 *   3. only then send `sendAfterPersist` (the acknowledgements that promise
 *      durability) — this class is the only place that sends them — and flush;
 *   4. apply `commit` in order, after installing a snapshot if the Ready carries one.
 *      The first `commitDurable` commits were durable here before this Ready and are
 *      applied while the fsync runs. Commits are applied `applyChunkTxns` at a time,
 *      one chunk per event-loop turn (`handlers.nextTurn`), so a new leader
 *      committing tens of thousands of txns does not stall heartbeats;
 *   5. `handlers.afterApply`, then `advance`, then `handlers.settled`.
 * One Ready is outstanding at a time; while its fsync runs, ticks, peer messages and
 * client requests keep arriving and accumulate in the next Ready (group commit).
 *
 * A Ready with nothing to persist and few commits is carried out synchronously, inside
 * the `pump` call that took it.
 *
 * The planted bug `runtime-send-before-persist` (tests only) sends `sendAfterPersist`
 * together with `send`, before the fsync: the simulator must catch it.
 */
import type { Envelope, SnapshotPayload, Txn } from '../../protocol/index.js'
import type { PersistWork, Ready } from '../core/index.js'

/** ReadyCore is the part of the core Peer the executor drives. */
export interface ReadyCore {
  hasReady(): boolean
  ready(): Ready
  advance(ready: Ready): void
}

/** ReadyHandlers say what each part of a Ready means in one environment (production, simulator, harness). */
export interface ReadyHandlers {
  /** send puts one peer message on its way (peer transport). */
  send(envelope: Envelope): void
  /**
   * flushSends, for a transport that batches what is sent in one event-loop turn, puts
   * the messages sent so far on the wire now. Called after each group of sends (a
   * Ready's `send`, then its `sendAfterPersist`): a proposal or commit then leaves before
   * the fsync and the apply that follow it instead of after them. Optional.
   */
  flushSends?(): void
  /**
   * persist makes `work` durable in the order PersistWork prescribes and then calls
   * `done()`, or `done(error)` when it cannot. `done` may be called synchronously.
   */
  persist(work: PersistWork, done: (error?: unknown) => void): void
  /** installSnapshot replaces the applied state with a leader's snapshot (a SNAP), once it is durable. */
  installSnapshot(snapshot: SnapshotPayload): void
  /** apply applies one committed txn. */
  apply(txn: Txn): void
  /** afterApply handles the rest of a Ready (reads, role changes, requests) once its commits are applied. */
  afterApply(ready: Ready): void
  /** settled runs after `advance` (log a role change, start a snapshot). Optional. */
  settled?(ready: Ready): void
  /** onReady sees every Ready as it is taken (metrics, statistics). Optional. */
  onReady?(ready: Ready): void
  /** nextTurn runs `fn` in a later event-loop turn (the time seam's setImmediate). */
  nextTurn(fn: () => void): void
  /** persistFailed is told that `persist` failed: nothing the Ready promised may go out. */
  persistFailed(error: unknown): void
  /** fatal is told of an error thrown while carrying out a Ready outside a `pump` call. */
  fatal(error: unknown): void
}

/** ExecutorBug names the runtime-level planted bug (tests only). */
export type ExecutorBug = 'runtime-send-before-persist'

/** EXECUTOR_BUGS lists every ExecutorBug. */
export const EXECUTOR_BUGS: readonly ExecutorBug[] = ['runtime-send-before-persist']

/** ReadyExecutorOptions tune the executor. */
export interface ReadyExecutorOptions {
  /** applyChunkTxns bounds the committed txns applied in one event-loop turn. */
  readonly applyChunkTxns: number
  /** bug plants a deliberate runtime bug (tests only). */
  readonly bug?: ExecutorBug | undefined
}

/** ReadyExecutor carries out one core's Readys; see the module comment. */
export class ReadyExecutor {
  private inFlightReady: Ready | undefined
  private stopped = false

  constructor(
    private readonly core: ReadyCore,
    private readonly handlers: ReadyHandlers,
    private readonly options: ReadyExecutorOptions,
  ) {}

  /** inFlight is the Ready being carried out asynchronously, if any. */
  get inFlight(): Ready | undefined {
    return this.inFlightReady
  }

  /** pump takes Readys and carries them out until one must wait (for its fsync or a later turn) or none is left. */
  pump(): void {
    while (!this.stopped && this.inFlightReady === undefined && this.core.hasReady()) {
      const ready = this.core.ready()
      this.handlers.onReady?.(ready)
      for (const envelope of ready.send) this.handlers.send(envelope)
      if (this.options.bug === 'runtime-send-before-persist')
        for (const envelope of ready.sendAfterPersist) this.handlers.send(envelope)
      if (!ready.mustSync && ready.commit.length <= this.options.applyChunkTxns) {
        // afterPersist flushes `send` together with `sendAfterPersist`.
        this.afterPersist(ready)
        this.applyRange(ready, 0, ready.commit.length)
        this.finish(ready)
        continue
      }
      this.handlers.flushSends?.()
      this.inFlightReady = ready
      this.carryOut(ready)
    }
  }

  /**
   * stop carries out nothing more: a Ready whose fsync is outstanding is given up when
   * it completes (nothing it promised is sent, nothing more applied).
   */
  stop(): void {
    this.stopped = true
  }

  /** carryOut does a Ready over several turns: its fsync, and its commits a chunk at a time. */
  private carryOut(ready: Ready): void {
    let persisted = !ready.mustSync
    let failure: { error: unknown } | undefined
    let earlyApplied = false
    let continued = false
    const proceed = () => {
      if (!persisted || !earlyApplied || continued || this.stopped) return
      continued = true
      if (failure !== undefined) return this.handlers.persistFailed(failure.error)
      this.afterPersist(ready)
      this.applyChunked(ready, ready.commitDurable, () => this.finishInFlight(ready))
    }
    if (ready.mustSync)
      this.handlers.persist(ready.persist, (error?: unknown) => {
        persisted = true
        if (error !== undefined) failure = { error }
        this.guard(proceed)
      })
    // Commits durable before this Ready need not wait for txns proposed after them.
    const early = ready.commitDurable
    if (early === 0) earlyApplied = true
    else
      this.applyChunked(
        ready,
        0,
        () => {
          earlyApplied = true
          proceed()
        },
        early,
      )
    proceed()
  }

  /** afterPersist sends what waited on persistence and installs a snapshot from the leader, if any. */
  private afterPersist(ready: Ready): void {
    if (this.options.bug !== 'runtime-send-before-persist')
      for (const envelope of ready.sendAfterPersist) this.handlers.send(envelope)
    this.handlers.flushSends?.()
    if (ready.persist.snapshot !== undefined) this.handlers.installSnapshot(ready.persist.snapshot)
  }

  /** applyRange applies `commit[from, to)` now. */
  private applyRange(ready: Ready, from: number, to: number): void {
    for (let at = from; at < to; at++) this.handlers.apply(ready.commit[at] as Txn)
  }

  /** applyChunked applies `commit[from, to)` a chunk per turn, then calls `done` (not if the executor stopped). */
  private applyChunked(
    ready: Ready,
    from: number,
    done: () => void,
    to: number = ready.commit.length,
  ): void {
    if (this.stopped) return
    const end = Math.min(from + this.options.applyChunkTxns, to)
    this.applyRange(ready, from, end)
    if (end >= to) return done()
    this.handlers.nextTurn(() => this.guard(() => this.applyChunked(ready, end, done, to)))
  }

  private finishInFlight(ready: Ready): void {
    if (this.stopped) return
    this.finish(ready)
    this.inFlightReady = undefined
    this.pump()
  }

  private finish(ready: Ready): void {
    this.handlers.afterApply(ready)
    this.core.advance(ready)
    this.handlers.settled?.(ready)
  }

  /** guard runs a continuation outside any `pump` call and reports what it throws. */
  private guard(fn: () => void): void {
    try {
      fn()
    } catch (error) {
      this.handlers.fatal(error)
    }
  }
}
