/**
 * FileStorage: one server's durable state in its data directory (design.md §10) —
 * the transaction log, snapshots, and the epoch file — behind the small API the
 * runtime drives. Open it once at startup; it recovers what is on disk and hands it
 * back, then every method resolves only when its effect is durable.
 */
import type { Txn } from '../../protocol/txn.js'
import { formatZxid, type Zxid } from '../../protocol/zxid.js'
import { guard, prepareDataDir, type DataDirLayout } from './data-dir.js'
import { writeEpochFile, type Epochs } from './epoch-file.js'
import { StorageError, StorageErrorCode } from './errors.js'
import { LogWriter, PREALLOCATE_BYTES_DEFAULT } from './log-writer.js'
import { recoverDataDir, type Recovered } from './recovery.js'
import {
  listSnapshots,
  rewriteWithoutTail,
  writeSnapshotFile,
  type SnapshotNodeLoader,
} from './snapshot-file.js'
import { followsZxid } from './zxid-order.js'
import { NO_SPACE_RETRY_MS_DEFAULT } from './log-writer.js'
import { retryWhileNoSpace, type NoSpaceEvents } from './no-space.js'
import { NodeStorageFs, type StorageFs } from './storage-fs.js'

/** FileStorageOptions tunes FileStorage; every field has a default. */
export interface FileStorageOptions {
  /** fs is the file system (default: the real disk). Tests pass a MemoryStorageFs. */
  fs?: StorageFs
  /** segmentBytesMax rolls a log segment past this size (default 64 MiB). */
  segmentBytesMax?: number
  /**
   * preallocateBytes extends the newest log segment with zeros this far past its data
   * end whenever an append reaches the allocated end, so most appends do not grow the
   * file (a cheaper O_DSYNC write; see log-writer.ts). 0 disables it. Default 4 MiB.
   */
  preallocateBytes?: number
  /** snapshotsKept is how many snapshots retention keeps (default 3, minimum 1). */
  snapshotsKept?: number
  /** snapshotEveryTxns is the txn count after which `snapshotDue` turns true (default 100,000). */
  snapshotEveryTxns?: number
  /** recordsPerChunk is how many records a snapshot writes between yields to the event loop (default 2,000). */
  recordsPerChunk?: number
  /** createIfMissing creates a missing data directory instead of refusing (default false). */
  createIfMissing?: boolean
  /**
   * snapshotNodeLoader, if set, makes a fresh loader for each snapshot recovery tries:
   * the tree records stream into it as the file is read, and `recovered.snapshot.loaded`
   * is what it built (restore.ts's `treeLoading` builds the DataTree). Without it the
   * records come back in `recovered.snapshot.nodes`.
   */
  snapshotNodeLoader?: () => SnapshotNodeLoader
  /** onBatch is told how many txns each log fsync covered (metrics, benchmarks). */
  onBatch?: (txnCount: number) => void
  /**
   * noSpace: a log append, epoch write or snapshot install that fails on a full disk
   * (ENOSPC, EDQUOT) is redone every `retryMs` (default 1,000) until it succeeds, its
   * promise pending meanwhile; `onStall` hears of each failed attempt and `onResume` of
   * the recovery. A background snapshot (`snapshot`) is not retried: it fails, its
   * temp file is removed, and the log still holds everything.
   */
  noSpace?: NoSpaceEvents & { retryMs?: number }
}

/** SnapshotRequest is what to snapshot: the zxid the tree had applied when iteration starts, and lazy record sources. */
export interface SnapshotRequest {
  zxid: Zxid
  /** sessions yields SessionRecord values (SessionTable.snapshotRecords()). */
  sessions: Iterable<unknown> | AsyncIterable<unknown>
  /**
   * nodes yields the tree parent before child: SnapshotNode values
   * (DataTree.snapshotEntries({ hashes: true })) or, cheaper, their tuple form
   * (DataTree.snapshotWith(treeRecordTupleOf)).
   */
  nodes: Iterable<unknown> | AsyncIterable<unknown>
  /** zxidAtEnd returns the tree's applied zxid when called after the last record (stored as fuzzyThroughZxid). */
  zxidAtEnd?: () => Zxid
}

/** SnapshotInfo describes a snapshot just written. */
export interface SnapshotInfo {
  file: string
  zxid: Zxid
  sizeBytes: number
  nodes: number
  sessions: number
}

const DEFAULTS = {
  segmentBytesMax: 64 * 1024 * 1024,
  snapshotsKept: 3,
  snapshotEveryTxns: 100_000,
  recordsPerChunk: 2_000,
}

/** FileStorage is an open data directory. Methods may be called concurrently; appends are group-committed. */
export class FileStorage {
  private snapshotRunning: Promise<unknown> | undefined
  private runningSnapshotZxid: Zxid | undefined
  private newestSnapshotZxid: Zxid
  private resetZxid: Zxid
  private txnsSinceSnapshot = 0
  private epochWrites: Promise<void> = Promise.resolve()
  private closed = false
  private readonly noSpace: NoSpaceEvents & { retryMs: number }

  private constructor(
    private readonly fs: StorageFs,
    readonly layout: DataDirLayout,
    private readonly writer: LogWriter,
    private readonly options: typeof DEFAULTS,
    newestSnapshotZxid: Zxid,
    resetZxid: Zxid,
    noSpace: NoSpaceEvents & { retryMs?: number } = {},
  ) {
    this.noSpace = { ...noSpace, retryMs: noSpace.retryMs ?? NO_SPACE_RETRY_MS_DEFAULT }
    this.newestSnapshotZxid = newestSnapshotZxid
    this.resetZxid = resetZxid
  }

  /**
   * open prepares and recovers `dataDir`. Throws StorageError (MISSING_DATA_DIR,
   * NOT_A_DATA_DIR, UNREADABLE, CORRUPT_LOG, ZXID_GAP, CORRUPT_SNAPSHOT, CORRUPT_EPOCHS)
   * whose message is meant for the operator as is.
   */
  static async open(
    dataDir: string,
    options: FileStorageOptions = {},
  ): Promise<{ storage: FileStorage; recovered: Recovered }> {
    const fs = options.fs ?? new NodeStorageFs()
    const preallocateBytes = options.preallocateBytes ?? PREALLOCATE_BYTES_DEFAULT
    if (!Number.isSafeInteger(preallocateBytes) || preallocateBytes < 0)
      throw new StorageError(
        StorageErrorCode.BAD_REQUEST,
        `preallocateBytes ${preallocateBytes}: must be a whole number of bytes, 0 or more`,
      )
    const settings = {
      segmentBytesMax: options.segmentBytesMax ?? DEFAULTS.segmentBytesMax,
      snapshotsKept: Math.max(1, options.snapshotsKept ?? DEFAULTS.snapshotsKept),
      snapshotEveryTxns: options.snapshotEveryTxns ?? DEFAULTS.snapshotEveryTxns,
      recordsPerChunk: options.recordsPerChunk ?? DEFAULTS.recordsPerChunk,
    }
    const layout = await prepareDataDir(fs, dataDir, options.createIfMissing ?? false)
    const { recovered, segments, resetZxid, logLastZxid, missingTail } = await recoverDataDir(
      fs,
      layout,
      options.snapshotNodeLoader,
    )
    const writerOptions = {
      segmentBytesMax: settings.segmentBytesMax,
      preallocateBytes,
      ...(options.onBatch ? { onBatch: options.onBatch } : {}),
      ...(options.noSpace ? { noSpace: options.noSpace } : {}),
    }
    const writer = new LogWriter(fs, layout.logDir, segments, logLastZxid, resetZxid, writerOptions)
    const storage = new FileStorage(
      fs,
      layout,
      writer,
      settings,
      recovered.snapshot?.zxid ?? 0n,
      resetZxid,
      options.noSpace,
    )
    storage.txnsSinceSnapshot = recovered.txns.length
    const snapshot = recovered.snapshot
    if (snapshot !== undefined && snapshot.tail.length > 0) {
      // A SNAP install was interrupted after its atomic switch: finish it as installSnapshot would have.
      try {
        if (missingTail.length > 0) await writer.append(missingTail)
        await guard(snapshot.file, () => rewriteWithoutTail(fs, layout.snapDir, snapshot.zxid))
      } catch (err) {
        await writer.close().catch(() => {})
        throw err
      }
      recovered.warnings.push(
        `completed an interrupted snapshot install: ${snapshot.file} carried ${snapshot.tail.length} txn(s), of which ${missingTail.length} were appended to the log now`,
      )
    }
    return { storage, recovered }
  }

  /** lastZxid is the zxid of the newest txn appended (durable once its append resolved). */
  get lastZxid(): Zxid {
    return this.writer.lastZxid
  }

  /** snapshotDue is true once snapshotEveryTxns txns were appended since the last snapshot and none is running. */
  get snapshotDue(): boolean {
    return (
      this.snapshotRunning === undefined && this.txnsSinceSnapshot >= this.options.snapshotEveryTxns
    )
  }

  /** snapshotInProgress is true while a snapshot is being written. */
  get snapshotInProgress(): boolean {
    return this.snapshotRunning !== undefined
  }

  /**
   * append logs txns (each following the previous without a zxid gap) and resolves once
   * they are fsynced. Concurrent calls share fsyncs (group commit). Send nothing that
   * depends on these txns (an ACK, a client reply) before it resolves.
   */
  append(txns: readonly Txn[]): Promise<void> {
    if (this.closed) return Promise.reject(closedError())
    this.txnsSinceSnapshot += txns.length
    return this.writer.append(txns)
  }

  /** truncateAfter drops every logged txn above `zxid` (ZAB's TRUNC); never below the newest snapshot. */
  truncateAfter(zxid: Zxid): Promise<void> {
    if (this.closed) return Promise.reject(closedError())
    const floor =
      this.runningSnapshotZxid !== undefined && this.runningSnapshotZxid > this.newestSnapshotZxid
        ? this.runningSnapshotZxid
        : this.newestSnapshotZxid
    if (zxid < floor) {
      return Promise.reject(
        new StorageError(
          StorageErrorCode.BAD_REQUEST,
          `truncateAfter ${formatZxid(zxid)}: below the snapshot at ${formatZxid(floor)}, whose state would then be ahead of the log`,
        ),
      )
    }
    return this.writer.truncateAfter(zxid)
  }

  /** writeEpochs replaces the epoch file atomically; calls are applied in order. */
  writeEpochs(epochs: Epochs): Promise<void> {
    if (this.closed) return Promise.reject(closedError())
    const copy = { acceptedEpoch: epochs.acceptedEpoch, currentEpoch: epochs.currentEpoch }
    // writeEpochFile starts over from a fresh temp file, so redoing it after a full disk is safe.
    const write = this.epochWrites.then(() =>
      this.retryOnFullDisk('epoch file write', () =>
        writeEpochFile(this.fs, this.layout.dataDir, copy),
      ),
    )
    this.epochWrites = write.catch(() => {})
    return write
  }

  /**
   * snapshot writes a fuzzy snapshot while the caller keeps applying txns, then applies
   * retention (newest `snapshotsKept` snapshots and the log needed to replay from the
   * oldest). `request.zxid` must be the tree's applied zxid when iteration starts and
   * must be logged. One at a time: check `snapshotInProgress` first.
   */
  snapshot(request: SnapshotRequest): Promise<SnapshotInfo> {
    if (this.closed) return Promise.reject(closedError())
    if (this.snapshotRunning !== undefined)
      return Promise.reject(
        new StorageError(
          StorageErrorCode.BAD_REQUEST,
          'snapshot: another snapshot is still being written',
        ),
      )
    if (request.zxid > this.writer.lastZxid) {
      return Promise.reject(
        new StorageError(
          StorageErrorCode.BAD_REQUEST,
          `snapshot at ${formatZxid(request.zxid)}: not logged yet (log ends at ${formatZxid(this.writer.lastZxid)})`,
        ),
      )
    }
    const txnsBefore = this.txnsSinceSnapshot
    this.txnsSinceSnapshot = 0
    // A failed snapshot is due again (the caller decides when to retry).
    const written = this.writeAndRetain(request).catch((err: unknown) => {
      this.txnsSinceSnapshot += txnsBefore
      throw err
    })
    return this.track(request.zxid, written)
  }

  /**
   * installSnapshot replaces everything with a snapshot received from the leader (ZAB's
   * SNAP) followed by `txns`, the Ready's txns that came with it (the first follows
   * `request.zxid`, each the previous). The snapshot and ALL of `txns` become durable
   * atomically: after a crash at any moment, recovery finds the old snapshot and log
   * untouched, or this snapshot followed by every one of `txns` — never the snapshot
   * alone, which could lose txns this server durably held. The next append must follow
   * the last of `txns` (or `request.zxid`). Waits for a running snapshot to finish.
   * On a full disk it is redone until it succeeds, so `request.nodes` and
   * `request.sessions` must be re-iterable (not a generator object).
   */
  async installSnapshot(request: SnapshotRequest, txns: readonly Txn[]): Promise<SnapshotInfo> {
    if (this.closed) throw closedError()
    if (isOneShot(request.nodes) || isOneShot(request.sessions)) {
      throw new StorageError(
        StorageErrorCode.BAD_REQUEST,
        'installSnapshot: nodes and sessions must be re-iterable (an array, or an object whose iterator starts over), since a write that hit a full disk is redone',
      )
    }
    let previous = request.zxid
    for (const txn of txns) {
      if (!followsZxid(previous, txn.zxid)) {
        throw new StorageError(
          StorageErrorCode.BAD_REQUEST,
          `installSnapshot at ${formatZxid(request.zxid)}: txn ${formatZxid(txn.zxid)} does not follow ${formatZxid(previous)}`,
        )
      }
      previous = txn.zxid
    }
    await this.snapshotRunning?.catch(() => {})
    if (this.closed) throw closedError()
    return this.track(request.zxid, this.install(request, [...txns]))
  }

  /** close waits for queued log work and a running snapshot, then closes files. Later calls reject. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.snapshotRunning?.catch(() => {})
    await this.epochWrites
    await this.writer.close()
  }

  private retryOnFullDisk<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    return retryWhileNoSpace(what, { ...this.noSpace, givenUp: () => this.closed }, attempt)
  }

  private track<T>(zxid: Zxid, work: Promise<T>): Promise<T> {
    const running = work.finally(() => {
      if (this.snapshotRunning !== running) return
      this.snapshotRunning = undefined
      this.runningSnapshotZxid = undefined
    })
    this.snapshotRunning = running
    this.runningSnapshotZxid = zxid
    return running
  }

  private async writeAndRetain(request: SnapshotRequest): Promise<SnapshotInfo> {
    const source = { ...request, resetZxid: this.resetZxid }
    const written = await writeSnapshotFile(this.fs, this.layout.snapDir, source, {
      recordsPerChunk: this.options.recordsPerChunk,
    })
    if (request.zxid > this.newestSnapshotZxid) this.newestSnapshotZxid = request.zxid
    await this.applyRetention()
    return {
      file: `${this.layout.snapDir}/${written.name}`,
      zxid: request.zxid,
      sizeBytes: written.sizeBytes,
      nodes: written.nodes,
      sessions: written.sessions,
    }
  }

  /**
   * install carries out installSnapshot. Order matters for crashes:
   * 1. the snapshot file, carrying `txns` as its log tail, is renamed into place: the
   *    one atomic switch (before it, recovery finds the old state);
   * 2. newer stale snapshots are removed durably, or recovery would prefer them;
   * 3. the log is reset to a new generation, so old segments a crash leaves behind
   *    are recognized as stale;
   * 4. `txns` are appended to the new log too, so a later snapshot whose zxid lies
   *    inside them still finds every txn after it in the log (a crash before they are
   *    durable is completed by FileStorage.open from the tail);
   * 5. the snapshot is rewritten without its tail, since from now on the log is the
   *    record (a later TRUNC may cut it inside the tail).
   */
  private async install(request: SnapshotRequest, txns: Txn[]): Promise<SnapshotInfo> {
    // A generation above every earlier one, even when this snapshot is older than the last installed one.
    const generation = request.zxid > this.resetZxid ? request.zxid : this.resetZxid + 1n
    const source = { ...request, resetZxid: generation, tail: txns }
    // Each attempt writes a fresh temp file (a failed one is removed) from the records
    // iterated anew (installSnapshot refuses one-shot sources); nothing changed before the rename.
    const written = await this.retryOnFullDisk('snapshot install', () =>
      writeSnapshotFile(this.fs, this.layout.snapDir, source, {
        recordsPerChunk: this.options.recordsPerChunk,
      }),
    )
    await this.removeSnapshotsAbove(request.zxid)
    this.resetZxid = generation
    this.newestSnapshotZxid = request.zxid
    this.txnsSinceSnapshot = txns.length
    // Queued together so nothing can slip in between; Promise.all so a failed reset's twin rejection is handled too.
    await Promise.all([
      this.writer.reset(request.zxid, generation),
      txns.length > 0 ? this.writer.append(txns) : undefined,
    ])
    if (txns.length > 0)
      await this.retryOnFullDisk('snapshot install', () =>
        rewriteWithoutTail(this.fs, this.layout.snapDir, request.zxid),
      )
    await this.applyRetention()
    return {
      file: `${this.layout.snapDir}/${written.name}`,
      zxid: request.zxid,
      sizeBytes: written.sizeBytes,
      nodes: written.nodes,
      sessions: written.sessions,
    }
  }

  /**
   * removeSnapshotsAbove deletes, durably, snapshots newer than a snapshot being
   * installed: they hold a history the leader replaced, and recovery would otherwise
   * prefer them as the newest.
   */
  private async removeSnapshotsAbove(zxid: Zxid): Promise<void> {
    const newer = (await listSnapshots(this.fs, this.layout.snapDir)).filter(
      (snapshot) => snapshot.zxid > zxid,
    )
    for (const snapshot of newer) await this.fs.unlink(`${this.layout.snapDir}/${snapshot.name}`)
    if (newer.length > 0) await this.fs.fsyncDir(this.layout.snapDir)
  }

  /** applyRetention deletes snapshots beyond the newest `snapshotsKept`, then log segments only they needed. */
  private async applyRetention(): Promise<void> {
    const snapshots = await listSnapshots(this.fs, this.layout.snapDir)
    const doomed = snapshots.slice(this.options.snapshotsKept)
    for (const old of doomed) await this.fs.unlink(`${this.layout.snapDir}/${old.name}`)
    if (doomed.length > 0) await this.fs.fsyncDir(this.layout.snapDir)
    const oldestKept = snapshots[Math.min(snapshots.length, this.options.snapshotsKept) - 1]
    if (oldestKept !== undefined) await this.writer.purgeThrough(oldestKept.zxid)
  }
}

/** isOneShot tells whether an iterable is an iterator over itself (a generator object), which yields its records only once. */
function isOneShot(records: Iterable<unknown> | AsyncIterable<unknown>): boolean {
  return typeof (records as { next?: unknown }).next === 'function'
}

function closedError(): StorageError {
  return new StorageError(StorageErrorCode.BAD_REQUEST, 'storage is closed')
}
