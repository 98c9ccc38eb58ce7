/**
 * LogWriter appends txns to the segment files with group commit, rolls segments at a
 * size limit, truncates after a zxid (ZAB's TRUNC) and purges segments a snapshot made
 * obsolete. Every operation runs on one queue, in call order, so a truncate never
 * overtakes an append queued before it.
 *
 * Group commit: `append` only queues. The worker takes every append queued at the head
 * of the queue, writes them with one write per segment and one fdatasync per segment,
 * then resolves all of them. While that fsync runs, new appends queue up and become the
 * next batch, so batches grow with load and a lone writer pays one fsync per append.
 * An append resolves only after its fsync: nothing depending on it (an ACK, a client
 * reply) may be released earlier.
 *
 * Disk full (no-space.ts): a write, fsync or task failing with ENOSPC/EDQUOT is redone
 * every `noSpace.retryMs` until it succeeds, and the appends stay pending meanwhile
 * (nothing is acknowledged). Before redoing an append the segment is cut back to its
 * durable size through a fresh descriptor and the records are written again from
 * memory: that removes a partial record, and after a failed fdatasync it re-dirties
 * pages whose state is unknown (Linux may have dropped them and will not report the
 * loss twice — PostgreSQL's "fsyncgate"), so the next successful fdatasync really
 * covers them. The bytes below the durable size were covered by an earlier fsync that
 * succeeded and are never rewritten. Any other failed write or fsync fails the writer
 * for good, since the disk's state is then unknown.
 *
 * Preallocation (as ZooKeeper's preAllocSize): the newest segment's file is kept longer
 * than its data, the space past the data end written with zeros, so most appends
 * overwrite zeros and do not change the file's size. On ext4 an O_DSYNC write that
 * extends a file must also commit the new size and extents to the journal; one inside
 * the file only flushes data (about 130 µs instead of 185 µs here). A zero tail reads
 * as "no record here" (record.ts) and the scanner takes it as the log's end. Only the
 * newest segment carries one: a roll first cuts the old segment back to its data end.
 */
import type { Txn } from '../../protocol/txn.js'
import { formatZxid, type Zxid } from '../../protocol/zxid.js'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { writeFileAtomically } from './atomic-file.js'
import { describeIoError, StorageError, StorageErrorCode } from './errors.js'
import { segmentName } from './log-scan.js'
import { encodeRecord, encodeSegmentHeader, readRecord, SEGMENT_HEADER_BYTES } from './record.js'
import type { StorageFile, StorageFs } from './storage-fs.js'
import { followsZxid } from './zxid-order.js'
import { retryWhileNoSpace, type NoSpaceEvents } from './no-space.js'

/** SegmentState is one segment file as the writer tracks it. */
export interface SegmentState {
  name: string
  firstZxid: Zxid
  /** sizeBytes is where the segment's data ends: the next record goes here. */
  sizeBytes: number
  /** allocatedBytes is the file's durable size, at least `sizeBytes`; the bytes between them are zeros. */
  allocatedBytes: number
}

/** LogWriterOptions tunes the writer. */
export interface LogWriterOptions {
  /** segmentBytesMax: a segment rolls once appending would take it past this size. */
  segmentBytesMax: number
  /** onBatch, if set, is told the number of txns covered by each fsync (for metrics and benchmarks). */
  onBatch?: (txnCount: number) => void
  /** noSpace: how often a write that failed on a full disk is redone (default every 1,000 ms), and who hears of it. */
  noSpace?: NoSpaceEvents & { retryMs?: number }
  /**
   * preallocateBytes: when an append would pass the newest segment's allocated end, the
   * file is extended this far past the new data end with zeros (never past
   * segmentBytesMax unless one record needs it). 0 disables preallocation. Default 4 MiB.
   */
  preallocateBytes?: number
}

/** NO_SPACE_RETRY_MS_DEFAULT is the wait between attempts to write to a full disk. */
export const NO_SPACE_RETRY_MS_DEFAULT = 1000

/** PREALLOCATE_BYTES_DEFAULT is how far past its data end a segment is extended with zeros at a time. */
export const PREALLOCATE_BYTES_DEFAULT = 4 * 1024 * 1024

type QueueEntry =
  | { kind: 'append'; txns: readonly Txn[]; resolve: () => void; reject: (err: unknown) => void }
  | { kind: 'task'; run: () => Promise<void>; resolve: () => void; reject: (err: unknown) => void }

/** LogWriter owns the segments of one log directory after recovery. */
export class LogWriter {
  private readonly segments: SegmentState[]
  private current: StorageFile | undefined
  private readonly queue: QueueEntry[] = []
  private working = false
  /** lastBatchAppends is how many appends the last batch gathered: above one, appenders run concurrently. */
  private lastBatchAppends = 0
  private failure: StorageError | undefined
  /** closing ends the retries of a write waiting for disk space, so close() does not wait for an operator. */
  private closing = false
  /** lastQueuedZxid is the zxid the log will end at once every queued operation is done. */
  private lastQueuedZxid: Zxid

  /** constructor takes the segments recovery left (oldest first, torn tail already cut) and the last logged zxid. */
  constructor(
    private readonly fs: StorageFs,
    private readonly logDir: string,
    segments: readonly SegmentState[],
    lastZxid: Zxid,
    private resetZxid: Zxid,
    private readonly options: LogWriterOptions,
  ) {
    this.segments = segments.map((segment) => ({ ...segment }))
    this.lastQueuedZxid = lastZxid
  }

  /** lastZxid is the zxid of the newest txn queued (durable once its append resolves). */
  get lastZxid(): Zxid {
    return this.lastQueuedZxid
  }

  /** segmentNames lists the current segment files, oldest first. */
  get segmentNames(): string[] {
    return this.segments.map((segment) => segment.name)
  }

  /**
   * append queues txns, which must continue the log without a gap, and resolves once
   * they are durable. Rejects with BAD_REQUEST (nothing written) on a gap, or FAILED.
   */
  append(txns: readonly Txn[]): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    let previous = this.lastQueuedZxid
    for (const txn of txns) {
      if (!followsZxid(previous, txn.zxid)) {
        return Promise.reject(
          new StorageError(
            StorageErrorCode.BAD_REQUEST,
            `append: zxid ${formatZxid(txn.zxid)} does not follow ${formatZxid(previous)}`,
          ),
        )
      }
      previous = txn.zxid
    }
    if (txns.length === 0) return this.enqueueTask(async () => {})
    this.lastQueuedZxid = previous
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'append', txns, resolve, reject })
      this.kick()
    })
  }

  /** truncateAfter queues dropping every txn above `zxid` and resolves once that is durable. */
  truncateAfter(zxid: Zxid): Promise<void> {
    if (zxid < this.lastQueuedZxid) this.lastQueuedZxid = zxid
    return this.enqueueTask(() => this.runTruncate(zxid))
  }

  /**
   * purgeThrough queues deleting every segment that holds only txns at or below
   * `zxid` (the oldest snapshot kept). The newest segment is always kept.
   */
  purgeThrough(zxid: Zxid): Promise<void> {
    return this.enqueueTask(() => this.runPurge(zxid))
  }

  /**
   * reset queues dropping the whole log after a snapshot at `snapshotZxid` replaced it
   * (ZAB's SNAP). The next append must follow `snapshotZxid`; its segment carries
   * `generation` (above every earlier one) as reset zxid, so segments whose deletion a
   * crash undid are stale.
   */
  reset(snapshotZxid: Zxid, generation: Zxid): Promise<void> {
    this.lastQueuedZxid = snapshotZxid
    return this.enqueueTask(async () => {
      await this.closeCurrent()
      this.resetZxid = generation
      while (this.segments.length > 0) await this.unlinkSegment(this.segments.length - 1)
      await this.fs.fsyncDir(this.logDir)
    })
  }

  /** close waits for queued work and closes the open segment. */
  async close(): Promise<void> {
    this.closing = true
    await this.enqueueTask(() => this.closeCurrent()).catch(() => this.closeCurrent())
  }

  private enqueueTask(run: () => Promise<void>): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'task', run, resolve, reject })
      this.kick()
    })
  }

  private kick(): void {
    if (this.working) return
    this.working = true
    void this.work().finally(() => {
      this.working = false
      if (this.queue.length > 0) this.kick()
    })
  }

  private async work(): Promise<void> {
    for (let entry = this.queue[0]; entry !== undefined; entry = this.queue[0]) {
      if (entry.kind === 'append') {
        // Let callers woken by the previous fsync queue their next appends, so they share
        // this one: a whole event-loop turn once several appenders were seen, else just
        // the callers of this tick. A lone appender (a member carries out one Ready at a
        // time) would otherwise wait a turn for nobody on every batch.
        if (this.lastBatchAppends > 1) await yieldToEventLoop()
        else await Promise.resolve()
      }
      const batch = entry.kind === 'append' ? this.takeAppends() : [this.queue.shift()!]
      if (entry.kind === 'append') this.lastBatchAppends = batch.length
      try {
        if (this.failure !== undefined) throw this.failure
        if (entry.kind === 'task') await this.retryOnFullDisk('log maintenance', entry.run)
        else await this.appendBatch(batch.flatMap((e) => (e.kind === 'append' ? e.txns : [])))
        for (const done of batch) done.resolve()
      } catch (err) {
        this.failure ??=
          err instanceof StorageError
            ? err
            : new StorageError(
                StorageErrorCode.FAILED,
                `log write failed (${describeIoError(err)}); the server must stop and recover from disk`,
                { cause: err },
              )
        for (const done of batch) done.reject(this.failure)
      }
    }
  }

  private takeAppends(): QueueEntry[] {
    const batch: QueueEntry[] = []
    while (this.queue[0]?.kind === 'append') batch.push(this.queue.shift()!)
    return batch
  }

  private retryOnFullDisk(
    what: string,
    attempt: (attemptNumber: number) => Promise<void>,
  ): Promise<void> {
    const retry = {
      retryMs: this.options.noSpace?.retryMs ?? NO_SPACE_RETRY_MS_DEFAULT,
      ...this.options.noSpace,
      givenUp: () => this.closing,
    }
    return retryWhileNoSpace(what, retry, attempt)
  }

  /**
   * appendBatch writes a batch, redoing it on a full disk from the first txn not yet
   * durable (a batch spanning a segment roll may have made its first part durable).
   */
  private async appendBatch(txns: readonly Txn[]): Promise<void> {
    let durable = 0
    await this.retryOnFullDisk('log append', async (attemptNumber) => {
      if (attemptNumber > 1) await this.cutToDurable()
      await this.writeBatch(txns.slice(durable), (count) => (durable += count))
    })
    this.options.onBatch?.(txns.length)
  }

  /**
   * cutToDurable, before redoing a failed append, drops the open descriptor (a failed
   * fsync's error is reported once per descriptor) and cuts the newest segment back to
   * the size its last successful fdatasync covered: a partial record goes, and so do
   * pages a failed fsync left in an unknown state. The records are then written anew.
   */
  private async cutToDurable(): Promise<void> {
    await this.closeCurrent().catch(() => {})
    const segment = this.segments.at(-1)
    if (segment === undefined) return
    const file = await this.openCurrent()
    // The zeros past the data end go too: the failed attempt may have left part of a
    // record in them, or a failed fsync may have left them unknown. The rewrite extends
    // the file again from the data end (flush), so the allocation is redone, not assumed.
    await file.truncate(segment.sizeBytes)
    segment.allocatedBytes = segment.sizeBytes
  }

  /** writeBatch writes records with one write and one fdatasync per segment touched; `onDurable` counts the txns fsynced. */
  private async writeBatch(
    txns: readonly Txn[],
    onDurable: (txnCount: number) => void,
  ): Promise<void> {
    let pending: Uint8Array[] = []
    let pendingBytes = 0
    for (const txn of txns) {
      const record = encodeRecord(txn)
      const segment = this.segments.at(-1)
      const full =
        segment !== undefined &&
        segment.sizeBytes + pendingBytes > SEGMENT_HEADER_BYTES &&
        segment.sizeBytes + pendingBytes + record.length > this.options.segmentBytesMax
      if (segment === undefined || full) {
        await this.flush(pending, pendingBytes)
        onDurable(pending.length)
        pending = []
        pendingBytes = 0
        await this.startSegment(txn.zxid)
      }
      pending.push(record)
      pendingBytes += record.length
    }
    await this.flush(pending, pendingBytes)
    onDurable(pending.length)
  }

  /**
   * flush writes records at the newest segment's data end, with one write and one
   * fdatasync. If they pass the allocated end, the same write carries the zeros of the
   * next allocation after them. That write extends the file, and its O_DSYNC (or the
   * fdatasync after it) makes the new size durable together with the records, before
   * the append resolves. Later records then land inside that durable size, where
   * O_DSYNC only has data to flush. The extension must be durable before any record
   * written into it is relied on: a write inside the file does not make the file's
   * size durable, so a crash could otherwise shrink the file below acknowledged
   * records. That is also why the file is not extended with ftruncate (O_DSYNC does not
   * cover it, and it leaves a hole whose blocks the next write allocates, a metadata
   * change again) nor fallocate (unwritten extents: the first write into them is again
   * a metadata change). Zeros written for real are what make the later writes cheap.
   */
  private async flush(records: Uint8Array[], totalBytes: number): Promise<void> {
    if (records.length === 0) return
    const segment = this.segments.at(-1)!
    const file = await this.openCurrent()
    const dataEnd = segment.sizeBytes + totalBytes
    const writeEnd = this.allocationEnd(segment, dataEnd)
    const bytes = withZeros(records, writeEnd - segment.sizeBytes)
    await file.write(bytes, segment.sizeBytes)
    await file.fdatasync()
    segment.sizeBytes = dataEnd
    segment.allocatedBytes = Math.max(segment.allocatedBytes, writeEnd)
  }

  /**
   * allocationEnd is where a write whose data ends at `dataEnd` must end: there if it
   * stays inside the allocated space (or preallocation is off), else `preallocateBytes`
   * further, capped at segmentBytesMax since the segment rolls there anyway.
   */
  private allocationEnd(segment: SegmentState, dataEnd: number): number {
    const chunk = this.options.preallocateBytes ?? PREALLOCATE_BYTES_DEFAULT
    if (dataEnd <= segment.allocatedBytes || chunk === 0) return dataEnd
    return Math.max(dataEnd, Math.min(dataEnd + chunk, this.options.segmentBytesMax))
  }

  /**
   * cutToDataEnd cuts the newest segment's zero tail off, durably, before a roll: only
   * the newest segment may end in zeros (the scanner calls zeros in an older one
   * damage), so the cut must be durable before the next segment can exist.
   */
  private async cutToDataEnd(): Promise<void> {
    const segment = this.segments.at(-1)
    if (segment === undefined || segment.allocatedBytes <= segment.sizeBytes) return
    const file = await this.openCurrent()
    await file.truncate(segment.sizeBytes)
    await file.fdatasync()
    segment.allocatedBytes = segment.sizeBytes
  }

  private async openCurrent(): Promise<StorageFile> {
    this.current ??= await this.fs.openFile(`${this.logDir}/${this.segments.at(-1)!.name}`)
    return this.current
  }

  private async closeCurrent(): Promise<void> {
    const file = this.current
    this.current = undefined
    await file?.close()
  }

  /** startSegment creates a segment (header only, atomically) named for its first zxid. */
  private async startSegment(firstZxid: Zxid): Promise<void> {
    await this.cutToDataEnd()
    await this.closeCurrent()
    const name = segmentName(firstZxid)
    await writeFileAtomically(this.fs, this.logDir, name, [
      encodeSegmentHeader({ firstZxid, resetZxid: this.resetZxid }),
    ])
    // Header only: the first flush into it extends it with its first zeros.
    this.segments.push({
      name,
      firstZxid,
      sizeBytes: SEGMENT_HEADER_BYTES,
      allocatedBytes: SEGMENT_HEADER_BYTES,
    })
  }

  private async unlinkSegment(index: number): Promise<void> {
    const [segment] = this.segments.splice(index, 1)
    await this.fs.unlink(`${this.logDir}/${segment!.name}`)
  }

  /**
   * runTruncate drops whole segments newest first, fsyncing the directory after each so
   * a crash never leaves a newer segment behind a deleted one, then cuts the segment
   * holding `zxid` after that record and fdatasyncs it. A cut takes the zero tail with
   * it (the dropped records cannot stay, and zeros after them would not help); the next
   * append allocates again.
   */
  private async runTruncate(zxid: Zxid): Promise<void> {
    for (
      let last = this.segments.at(-1);
      last !== undefined && last.firstZxid > zxid;
      last = this.segments.at(-1)
    ) {
      await this.closeCurrent()
      await this.unlinkSegment(this.segments.length - 1)
      await this.fs.fsyncDir(this.logDir)
    }
    const segment = this.segments.at(-1)
    if (segment === undefined) return
    const path = `${this.logDir}/${segment.name}`
    const bytes = await this.fs.readFile(path)
    let end = SEGMENT_HEADER_BYTES
    while (end < segment.sizeBytes) {
      const read = readRecord(bytes, end)
      if (read.kind !== 'ok' || read.txn.zxid > zxid) break
      end = read.endOffset
    }
    if (end === segment.sizeBytes) return
    const file = await this.openCurrent()
    await file.truncate(end)
    await file.fdatasync()
    segment.sizeBytes = end
    segment.allocatedBytes = end
  }

  private async runPurge(zxid: Zxid): Promise<void> {
    let removed = 0
    while (this.segments.length > 1 && this.segments[1]!.firstZxid <= zxid + 1n) {
      await this.unlinkSegment(0)
      removed++
    }
    if (removed > 0) await this.fs.fsyncDir(this.logDir)
  }
}

/** withZeros joins records into one buffer of `length` bytes, zeros after the records. */
function withZeros(records: readonly Uint8Array[], length: number): Uint8Array {
  if (records.length === 1 && records[0]!.length === length) return records[0]!
  const bytes = new Uint8Array(length)
  let at = 0
  for (const record of records) {
    bytes.set(record, at)
    at += record.length
  }
  return bytes
}
