/**
 * repairDataDir: `conclave repair --data DIR`. For an operator who decided to resync a
 * damaged ensemble member from its peers: it finds the first damage in the log (the
 * place recovery refuses), shows everything that cutting there loses, and unless
 * `dryRun` cuts the log there: later segments are deleted newest first, then the
 * damaged segment is truncated at the damage (or deleted if its header is damaged).
 * Snapshots are not touched. A zero tail after the newest segment's last record is its
 * preallocated space, not damage (log-scan.ts). The server then starts with the intact
 * prefix and the ZAB sync brings it up to date. On a standalone server this loses data
 * for good, which is why the report lists it first.
 *
 * A snapshot left carrying a log tail by an interrupted SNAP install holds those txns
 * itself; the log only has copies of them, so cutting copies loses nothing: the next
 * start appends them again. The report counts only txns beyond the tail as lost.
 */
import type { Txn } from '../../protocol/txn.js'
import { formatZxid, type Zxid } from '../../protocol/zxid.js'
import { prepareDataDir, guard } from './data-dir.js'
import { recoverDataDir } from './recovery.js'
import { StorageError, StorageErrorCode } from './errors.js'
import { listSegments, scanLog, type LogDamage } from './log-scan.js'
import { listSnapshots, decodeSnapshot } from './snapshot-file.js'
import { readRecord, SEGMENT_HEADER_BYTES, zeroTailStart } from './record.js'
import { NodeStorageFs, type StorageFs } from './storage-fs.js'

/** RepairOptions: `dryRun` only reports; `fs` is for tests. */
export interface RepairOptions {
  dryRun: boolean
  fs?: StorageFs
}

/** RepairCut is one file the repair truncates (`keepBytes` > 0) or deletes (`keepBytes` 0). */
export interface RepairCut {
  file: string
  keepBytes: number
  bytesLost: number
}

/** RepairReport says what was (or, with dryRun, would be) cut and why. */
export interface RepairReport {
  dataDir: string
  /** damage is what recovery refuses; undefined means the log is fine and nothing is cut. */
  damage: LogDamage | undefined
  /** lastKeptZxid is the newest txn kept in the log (or the snapshot's zxid). */
  lastKeptZxid: Zxid
  /** intactTxnsLost counts intact-looking records after the damage that the cut drops. */
  intactTxnsLost: number
  cuts: RepairCut[]
  applied: boolean
  /** summary is the report in words, for the CLI to print. */
  summary: string
}

/** repairDataDir inspects (and unless dryRun, cuts) a damaged log. Throws StorageError for a bad directory or unreadable snapshots. */
export async function repairDataDir(
  dataDir: string,
  options: RepairOptions,
): Promise<RepairReport> {
  const fs = options.fs ?? new NodeStorageFs()
  const layout = await prepareDataDir(fs, dataDir, false)
  const snapshot = await newestValidSnapshot(fs, layout.snapDir)
  const scan = await guard(layout.logDir, () =>
    scanLog(fs, layout.logDir, snapshot.zxid, snapshot.resetZxid),
  )
  const report: RepairReport = {
    dataDir: layout.dataDir,
    damage: scan.damage,
    lastKeptZxid: scan.lastZxid,
    intactTxnsLost: 0,
    cuts: [],
    applied: false,
    summary: '',
  }
  if (scan.damage === undefined) {
    report.summary = `The log in ${layout.logDir} has no damage; nothing to repair (last zxid ${formatZxid(scan.lastZxid)}).`
    return report
  }
  const damage = scan.damage
  const tailEnd = snapshot.tail.at(-1)?.zxid ?? snapshot.zxid
  const lastGood = damage.lastGoodZxid ?? snapshot.zxid
  report.lastKeptZxid = lastGood > tailEnd ? lastGood : tailEnd
  const segments = await listSegments(fs, layout.logDir)
  const damagedIndex = segments.findIndex((s) => `${layout.logDir}/${s.name}` === damage.file)
  for (const segment of segments.slice(damagedIndex)) {
    const file = `${layout.logDir}/${segment.name}`
    const bytes = await guard(file, () => fs.readFile(file))
    const from = file === damage.file ? damage.offset : 0
    const keepBytes = from < SEGMENT_HEADER_BYTES ? 0 : from
    report.intactTxnsLost += countIntactRecords(
      bytes,
      Math.max(from, SEGMENT_HEADER_BYTES),
      tailEnd,
    )
    report.cuts.push({ file, keepBytes, bytesLost: bytes.length - keepBytes })
  }
  report.summary = summarize(report, damage, snapshot.tail.length)
  if (!options.dryRun) {
    await applyCuts(fs, layout.logDir, report.cuts)
    report.applied = true
    await recoverDataDir(fs, layout) // proves the repaired directory now starts
  }
  return report
}

async function newestValidSnapshot(
  fs: StorageFs,
  snapDir: string,
): Promise<{ zxid: Zxid; resetZxid: Zxid; tail: readonly Txn[] }> {
  const snapshots = await guard(snapDir, () => listSnapshots(fs, snapDir))
  for (const candidate of snapshots) {
    const decoded = decodeSnapshot(
      await guard(snapDir, () => fs.readFile(`${snapDir}/${candidate.name}`)),
      candidate.zxid,
    )
    if (!('problem' in decoded)) return decoded
  }
  if (snapshots.length > 0) {
    throw new StorageError(
      StorageErrorCode.CORRUPT_SNAPSHOT,
      `no snapshot in ${snapDir} can be read, so repair cannot tell which log is needed. Move the data directory aside and start with an empty one to resync from peers.`,
      { file: snapDir },
    )
  }
  return { zxid: 0n, resetZxid: 0n, tail: [] }
}

/** countIntactRecords counts records above `above` that still read back intact after `offset` (resynchronizing past damage). */
function countIntactRecords(bytes: Uint8Array, offset: number, above: Zxid): number {
  let count = 0
  // No record starts in a preallocated zero tail (a record's length is never 0): skip it.
  const end = zeroTailStart(bytes, offset)
  for (let at = offset; at < end;) {
    const read = readRecord(bytes, at)
    if (read.kind === 'ok') {
      if (read.txn.zxid > above) count++
      at = read.endOffset
    } else at++
  }
  return count
}

function summarize(report: RepairReport, damage: LogDamage, tailTxns: number): string {
  const tail =
    tailTxns === 0
      ? []
      : [
          `The newest snapshot carries ${tailTxns} txn(s) from an interrupted install; the next start writes them to the log again.`,
        ]
  const lines = [
    `Damage: ${damage.file} at offset ${damage.offset}: ${damage.problem}.`,
    ...tail,
    `Repair keeps the log up to zxid ${formatZxid(report.lastKeptZxid)} and drops everything after it:`,
    ...report.cuts.map((cut) =>
      cut.keepBytes === 0
        ? `  delete ${cut.file} (${cut.bytesLost} bytes)`
        : `  truncate ${cut.file} to ${cut.keepBytes} bytes (dropping ${cut.bytesLost})`,
    ),
    `${report.intactTxnsLost} txn record(s) after the damage still look intact and will be lost from this server.`,
    'Only do this on an ensemble member that will resync from its peers; on a standalone server the dropped txns are gone.',
  ]
  return lines.join('\n')
}

async function applyCuts(fs: StorageFs, logDir: string, cuts: readonly RepairCut[]): Promise<void> {
  // Newest first, directory fsynced after each, so a crash mid-repair never leaves a later segment behind a cut one.
  for (const cut of [...cuts].reverse()) {
    await guard(cut.file, async () => {
      if (cut.keepBytes === 0) {
        await fs.unlink(cut.file)
        await fs.fsyncDir(logDir)
        return
      }
      const file = await fs.openFile(cut.file)
      try {
        await file.truncate(cut.keepBytes)
        await file.fdatasync()
      } finally {
        await file.close()
      }
    })
  }
}
