/**
 * SimDisk: one server's disk with an explicit split between what is durable and what
 * sits in the page cache. A Ready's persist work becomes a list of ordered disk
 * operations (truncate, append each txn, write epochs — or, when the Ready installs a
 * snapshot, one install of the snapshot with all of that Ready's txns, then the
 * epochs); they land in the cache at once and become durable only when the fsync the
 * runtime waits for completes. A crash keeps a random prefix of the cached operations
 * (a disk writes in order but may stop anywhere) and may tear the last kept log
 * append; recovery drops a torn record, as the real log scan does with a record whose
 * checksum fails.
 *
 * An install and the epoch file are written atomically (one rename in the real
 * storage: the snapshot file carries the txns that came with it), so they are never
 * torn: they are either in the kept prefix or not. Keeping the snapshot without its
 * txns would let a follower lose txns it durably held while keeping its old
 * currentEpoch (the bug seed 12746 found; see test/sim/snap-install-crash.test.ts).
 */
import type { Txn, Zxid } from '../../protocol/index.js'
import type { PersistentState, PersistWork } from '../../server/core/index.js'
import type { AssembledSnapData } from '../../server/runtime/snap-transfer.js'
import type { SessionRecord } from '../../server/sessions/index.js'
import type { SnapshotNode } from '../../server/tree/index.js'
import type { SimRandom } from './random.js'

/** SimSnapshot is the applied state a server snapshots (and a leader ships in a SNAP). */
export interface SimSnapshot {
  readonly zxid: Zxid
  readonly nodes: readonly SnapshotNode[]
  readonly sessions: readonly SessionRecord[]
  /** fuzzyThroughZxid: a snapshot installed from a leader may hold txns up to here; a restart replays them. */
  readonly fuzzyThroughZxid?: Zxid
}

/** DiskOp is one ordered write of a Ready's persist work. */
export type DiskOp =
  | { readonly kind: 'install'; readonly snapshot: SimSnapshot; readonly txns: readonly Txn[] }
  | { readonly kind: 'truncate'; readonly after: Zxid }
  | { readonly kind: 'append'; readonly txn: Txn }
  | { readonly kind: 'epochs'; readonly accepted: number; readonly current: number }

/** LogRecord is one txn on disk; `torn` marks a record cut short by a crash. */
interface LogRecord {
  readonly txn: Txn
  readonly torn: boolean
}

/** CrashLoss says what a crash did to the cached writes, for the trace. */
export interface CrashLoss {
  readonly cachedOps: number
  readonly keptOps: number
  readonly tornAppend: boolean
}

/** Recovered is what a restart reads back: the core's PersistentState and the snapshot to rebuild the tree from. */
export interface Recovered {
  readonly state: PersistentState
  readonly snapshot: SimSnapshot | undefined
  /** tornRecords is how many torn records the scan dropped (0 or 1). */
  readonly tornRecords: number
}

/** DiskError is a runtime bug caught by the disk: a write the storage layer would refuse. */
export class DiskError extends Error {
  override readonly name = 'DiskError'
}

/**
 * opsOf turns a Ready's persist work into ordered disk operations in contract order:
 * a snapshot and all the txns that came with it as ONE install (the log becomes
 * exactly those txns, so `truncateAfter` has nothing left to do), otherwise the
 * truncation and each append; then the epochs.
 */
export function opsOf(work: PersistWork): DiskOp[] {
  const ops: DiskOp[] = []
  if (work.snapshot !== undefined) {
    // The tree the SNAP's records were built into (snap-transfer.ts's AssembledSnapData).
    const data = work.snapshot.data as AssembledSnapData
    const snapshot: SimSnapshot = {
      zxid: work.snapshot.zxid,
      nodes: [...data.tree.snapshotEntries({ hashes: true })],
      sessions: data.sessions,
      fuzzyThroughZxid: data.fuzzyThroughZxid,
    }
    ops.push({ kind: 'install', snapshot, txns: work.txns })
  } else {
    if (work.truncateAfter !== undefined) ops.push({ kind: 'truncate', after: work.truncateAfter })
    for (const txn of work.txns) ops.push({ kind: 'append', txn })
  }
  if (work.epochs !== undefined)
    ops.push({ kind: 'epochs', accepted: work.epochs.accepted, current: work.epochs.current })
  return ops
}

/** SimDisk is a disk whose cached writes are lost in a crash unless synced. */
export class SimDisk {
  private acceptedEpoch = 0
  private currentEpoch = 0
  private snapshot: SimSnapshot | undefined
  private log: LogRecord[] = []
  private cached: DiskOp[] = []

  /** cachedOps is how many written operations are not yet durable. */
  get cachedOps(): number {
    return this.cached.length
  }

  /** durableEpochs returns the epochs on disk as a restart would read them. */
  durableEpochs(): { accepted: number; current: number } {
    return { accepted: this.acceptedEpoch, current: this.currentEpoch }
  }

  /** durableLogZxids returns the zxids of the durable log records, torn ones included, in file order. */
  durableLogZxids(): Zxid[] {
    return this.log.map((r) => r.txn.zxid)
  }

  /** write puts operations in the page cache; they are durable only after `sync`. */
  write(ops: readonly DiskOp[]): void {
    for (const op of ops) this.cached.push(op)
  }

  /** sync makes every cached operation durable, in order (the fsync completed). */
  sync(): void {
    for (const op of this.cached) this.applyDurably(op)
    this.cached = []
  }

  /**
   * crash loses the page cache: a random prefix of the cached operations survives,
   * and when the last survivor is a log append it may be torn.
   */
  crash(random: SimRandom): CrashLoss {
    const cachedOps = this.cached.length
    const keptOps = cachedOps === 0 ? 0 : random.int(cachedOps + 1)
    let tornAppend = false
    for (let i = 0; i < keptOps; i++) {
      const op = this.cached[i] as DiskOp
      const tear = i === keptOps - 1 && op.kind === 'append' && random.chance(0.5)
      if (tear) {
        this.log.push({ txn: op.txn, torn: true })
        tornAppend = true
      } else this.applyDurably(op)
    }
    this.cached = []
    return { cachedOps, keptOps, tornAppend }
  }

  /**
   * recover reads the disk back after a crash or restart. A torn record (and anything
   * after it, though the disk never holds any) is cut off, as the log scan repairs a
   * file whose last record fails its checksum.
   */
  recover(): Recovered {
    const firstTorn = this.log.findIndex((r) => r.torn)
    const tornRecords = firstTorn < 0 ? 0 : this.log.length - firstTorn
    if (firstTorn >= 0) this.log = this.log.slice(0, firstTorn)
    const state: PersistentState = {
      acceptedEpoch: this.acceptedEpoch,
      currentEpoch: this.currentEpoch,
      snapshotZxid: this.snapshot?.zxid ?? 0n,
      log: this.log.map((r) => r.txn),
    }
    return { state, snapshot: this.snapshot, tornRecords }
  }

  /**
   * saveSnapshot writes a snapshot of the applied state durably (the runtime's
   * periodic snapshot) and purges durable log records it covers. Only committed,
   * applied txns are purged: the snapshot's zxid is the server's applied zxid.
   */
  saveSnapshot(snapshot: SimSnapshot): void {
    this.snapshot = snapshot
    this.log = this.log.filter((r) => r.txn.zxid > snapshot.zxid)
  }

  private applyDurably(op: DiskOp): void {
    switch (op.kind) {
      case 'install': {
        let last = op.snapshot.zxid
        for (const txn of op.txns) {
          if (txn.zxid <= last)
            throw new DiskError(`install: txn ${txn.zxid} after ${last}: log zxids must increase`)
          last = txn.zxid
        }
        this.snapshot = op.snapshot
        this.log = op.txns.map((txn) => ({ txn, torn: false }))
        return
      }
      case 'truncate':
        this.log = this.log.filter((r) => r.txn.zxid <= op.after)
        return
      case 'append': {
        const last = this.log.at(-1)?.txn.zxid ?? this.snapshot?.zxid ?? 0n
        if (op.txn.zxid <= last)
          throw new DiskError(`append of ${op.txn.zxid} after ${last}: log zxids must increase`)
        this.log.push({ txn: op.txn, torn: false })
        return
      }
      case 'epochs':
        if (op.current > op.accepted)
          throw new DiskError(
            `epochs ${op.accepted}/${op.current}: currentEpoch above acceptedEpoch`,
          )
        this.acceptedEpoch = op.accepted
        this.currentEpoch = op.current
        return
    }
  }
}
