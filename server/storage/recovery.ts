/**
 * recoverDataDir: the startup read of a data directory. It loads the newest snapshot
 * that reads back intact (older ones are tried when a newer one is damaged), scans the
 * log for the txns after it, cuts a torn tail, removes leftovers of interrupted writes
 * and purges, and otherwise refuses with a StorageError that names the file and offset
 * and says what to do. It never drops a txn that might have been acknowledged except a
 * torn tail, which by construction was never fsynced.
 *
 * A snapshot that carries a log tail (an interrupted SNAP install, see
 * snapshot-file.ts) is followed by its tail txns, then by the logged txns after the
 * tail's end. Logged copies of tail txns are skipped but must agree with the tail; the
 * tail txns the log lacks are returned in `missingTail` for FileStorage.open to append.
 */
import { encodeMessage } from '../../protocol/codec.js'
import type { Txn } from '../../protocol/txn.js'
import { formatZxid, type Zxid } from '../../protocol/zxid.js'
import { removeTmpFiles } from './atomic-file.js'
import type { DataDirLayout } from './data-dir.js'
import { guard } from './data-dir.js'
import { readEpochFile, type Epochs } from './epoch-file.js'
import { REPAIR_ADVICE, StorageError, StorageErrorCode } from './errors.js'
import { scanLog, type LogDamage, type LogScan, type TornTail } from './log-scan.js'
import type { SegmentState } from './log-writer.js'
import {
  decodeSnapshot,
  listSnapshots,
  type SnapshotContent,
  type SnapshotNodeLoader,
} from './snapshot-file.js'
import type { StorageFs } from './storage-fs.js'

/** RecoveredSnapshot is the snapshot recovery started from. */
export interface RecoveredSnapshot extends SnapshotContent {
  file: string
  /** loaded is what the SnapshotNodeLoader built from the tree records (then `nodes` is empty), if one was given. */
  loaded?: unknown
}

/** Recovered is everything a server restarts from. */
export interface Recovered {
  /** snapshot is the newest intact snapshot, or undefined for a server that never took one. */
  snapshot: RecoveredSnapshot | undefined
  /** txns are the logged txns after the snapshot's zxid, in order, without gaps. */
  txns: Txn[]
  /** lastZxid is the newest logged zxid (or the snapshot's, if nothing newer is logged). */
  lastZxid: Zxid
  epochs: Epochs
  /** cutTail, when set, is the torn record recovery cut off the end of the log. */
  cutTail: TornTail | undefined
  /** warnings are things an operator should hear about (a damaged snapshot skipped, leftovers removed). */
  warnings: string[]
}

/** RecoveryResult adds what the log writer needs to carry on. */
export interface RecoveryResult {
  recovered: Recovered
  segments: SegmentState[]
  resetZxid: Zxid
  /** logLastZxid is where the log itself ends (the snapshot's zxid if it holds nothing newer). */
  logLastZxid: Zxid
  /** missingTail are the snapshot's carried tail txns the log does not hold yet; append them before anything else. */
  missingTail: Txn[]
}

/**
 * recoverDataDir reads a prepared data directory (see prepareDataDir). With
 * `newNodeLoader`, each snapshot tried streams its tree records into a fresh loader
 * (so they are never all in memory at once), and a snapshot whose records the loader
 * refuses counts as damaged.
 */
export async function recoverDataDir(
  fs: StorageFs,
  layout: DataDirLayout,
  newNodeLoader?: () => SnapshotNodeLoader,
): Promise<RecoveryResult> {
  const warnings: string[] = []
  for (const dir of [layout.dataDir, layout.logDir, layout.snapDir]) {
    const removed = await guard(dir, () => removeTmpFiles(fs, dir))
    if (removed.length > 0)
      warnings.push(`removed unfinished files in ${dir}: ${removed.join(', ')}`)
  }
  const epochs = await guard(layout.dataDir, () => readEpochFile(fs, layout.dataDir))
  const snapshot = await loadNewestSnapshot(fs, layout.snapDir, warnings, newNodeLoader)
  const snapshotZxid = snapshot?.zxid ?? 0n
  const scan = await guard(layout.logDir, () =>
    scanLog(fs, layout.logDir, snapshotZxid, snapshot?.resetZxid ?? 0n),
  )
  if (scan.damage !== undefined) throw damageError(scan.damage, snapshot)
  if (scan.tornTail !== undefined) await cutTornTail(fs, scan.tornTail, warnings)
  await removeObsolete(fs, layout.logDir, scan, warnings)
  // The writer appends at each segment's data end and knows how much of the newest one
  // is already allocated (its zero tail), unless a torn tail was just cut off it.
  const segments = scan.segments.map((s) => ({
    name: s.name,
    firstZxid: s.firstZxid,
    sizeBytes: s.validBytes,
    allocatedBytes: s.path === scan.tornTail?.file ? s.validBytes : s.sizeBytes,
  }))
  const { txns, missingTail } = withTail(snapshot, scan, layout.logDir)
  const lastZxid = txns.at(-1)?.zxid ?? scan.lastZxid
  return {
    recovered: { snapshot, txns, lastZxid, epochs, cutTail: scan.tornTail, warnings },
    segments,
    resetZxid: scan.resetZxid,
    logLastZxid: scan.lastZxid,
    missingTail,
  }
}

/**
 * withTail puts a snapshot's carried tail in front of the logged txns. The log holds a
 * prefix of the tail (copies written after the snapshot's rename) and, once the tail
 * is complete, maybe more; copies that differ from the tail mean the log is not the
 * one this snapshot was installed with.
 */
function withTail(
  snapshot: RecoveredSnapshot | undefined,
  scan: LogScan,
  logDir: string,
): { txns: Txn[]; missingTail: Txn[] } {
  const tail = snapshot?.tail ?? []
  if (tail.length === 0) return { txns: scan.txns, missingTail: [] }
  const copies = Math.min(tail.length, scan.txns.length)
  for (let i = 0; i < copies; i++) {
    const [carried, logged] = [tail[i]!, scan.txns[i]!]
    if (
      carried.zxid === logged.zxid &&
      Buffer.from(encodeMessage(carried)).equals(encodeMessage(logged))
    )
      continue
    throw new StorageError(
      StorageErrorCode.CORRUPT_LOG,
      `log ${logDir} holds txn ${formatZxid(logged.zxid)} where snapshot ${snapshot!.file} carries ${formatZxid(carried.zxid)} with other content: ` +
        'the log is not the one this snapshot was installed with, so the server will not start. ' +
        'In an ensemble, move this data directory aside and start the server with an empty one so it resyncs from its peers; ' +
        'standalone, restore the data directory from a backup.',
      { file: logDir },
    )
  }
  return { txns: [...tail, ...scan.txns.slice(copies)], missingTail: tail.slice(copies) }
}

async function loadNewestSnapshot(
  fs: StorageFs,
  snapDir: string,
  warnings: string[],
  newNodeLoader: (() => SnapshotNodeLoader) | undefined,
): Promise<RecoveredSnapshot | undefined> {
  const candidates = await guard(snapDir, () => listSnapshots(fs, snapDir))
  const problems: string[] = []
  for (const candidate of candidates) {
    const file = `${snapDir}/${candidate.name}`
    const decoded = decodeSnapshot(
      await guard(file, () => fs.readFile(file)),
      candidate.zxid,
      newNodeLoader?.(),
    )
    if ('problem' in decoded) {
      problems.push(`${file} at offset ${decoded.offset}: ${decoded.problem}`)
      continue
    }
    if (problems.length > 0)
      warnings.push(`skipped damaged snapshots (using ${file} instead): ${problems.join('; ')}`)
    return { ...decoded, file }
  }
  if (candidates.length === 0) return undefined
  const newest = candidates[0]!
  throw new StorageError(
    StorageErrorCode.CORRUPT_SNAPSHOT,
    `no snapshot in ${snapDir} can be read: ${problems.join('; ')}. The server will not start without its data. ` +
      'In an ensemble, move this data directory aside and start the server with an empty one so it resyncs from its peers; ' +
      'standalone, restore the data directory from a backup.',
    { file: `${snapDir}/${newest.name}`, offset: 0 },
  )
}

function damageError(damage: LogDamage, snapshot: RecoveredSnapshot | undefined): StorageError {
  const lastGood =
    damage.lastGoodZxid === undefined
      ? ''
      : ` The last intact txn before it is ${formatZxid(damage.lastGoodZxid)}.`
  const base = snapshot === undefined ? 'with no snapshot' : `after snapshot ${snapshot.file}`
  return new StorageError(
    damage.code,
    `log ${damage.file} is damaged at offset ${damage.offset} (${damage.problem}), recovering ${base}.${lastGood} ${REPAIR_ADVICE}`,
    { file: damage.file, offset: damage.offset },
  )
}

async function cutTornTail(fs: StorageFs, tail: TornTail, warnings: string[]): Promise<void> {
  await guard(tail.file, async () => {
    const file = await fs.openFile(tail.file)
    try {
      await file.truncate(tail.offset)
      await file.fdatasync()
    } finally {
      await file.close()
    }
  })
  warnings.push(
    `cut a torn record off the end of the log: ${tail.file} at offset ${tail.offset}, ${tail.bytesCut} bytes (${tail.problem}); it was never acknowledged`,
  )
}

async function removeObsolete(
  fs: StorageFs,
  logDir: string,
  scan: LogScan,
  warnings: string[],
): Promise<void> {
  if (scan.obsolete.length === 0) return
  await guard(logDir, async () => {
    for (const name of scan.obsolete) await fs.unlink(`${logDir}/${name}`)
    await fs.fsyncDir(logDir)
  })
  warnings.push(
    `removed log segments of a replaced log generation (an interrupted snapshot install): ${scan.obsolete.join(', ')}`,
  )
}
