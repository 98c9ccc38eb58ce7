/**
 * scanLog reads every log segment once at startup (and for `conclave repair`) and
 * says what it holds: the txns after the snapshot, the last logged zxid, a torn tail
 * to cut, or the first damage that makes the log untrustworthy. It never changes a
 * file; recovery and repair decide what to do with the result.
 *
 * The newest segment is preallocated with zeros (log-writer.ts), so it normally ends in
 * a run of zeros after its last record: that is a clean end, not damage and not a tail
 * to cut. The one thing it may call harmless is a torn tail: damage in the last segment
 * with no intact record anywhere after it (zeros may follow), i.e. a write that was cut
 * short by a crash and so was never fsynced nor acknowledged. Damage followed by intact records, damage in
 * an earlier segment, a checksummed record that is not a txn, and a gap in zxids are
 * all reported as damage.
 */
import type { Txn } from '../../protocol/txn.js'
import { formatZxid, type Zxid } from '../../protocol/zxid.js'
import {
  decodeSegmentHeader,
  findLaterRecord,
  readRecord,
  SEGMENT_HEADER_BYTES,
  zeroTailStart,
} from './record.js'
import type { StorageFs } from './storage-fs.js'
import { followsZxid, parseZxidHex16, zxidHex16 } from './zxid-order.js'

/** SEGMENT_PREFIX starts every segment file name: `log.<16 hex digits of its first zxid>`. */
export const SEGMENT_PREFIX = 'log.'

/** segmentName is the file name of a segment whose first record is `firstZxid`. */
export function segmentName(firstZxid: Zxid): string {
  return `${SEGMENT_PREFIX}${zxidHex16(firstZxid)}`
}

/** parseSegmentName returns the first zxid a segment file name encodes, or undefined. */
export function parseSegmentName(name: string): Zxid | undefined {
  return name.startsWith(SEGMENT_PREFIX)
    ? parseZxidHex16(name.slice(SEGMENT_PREFIX.length))
    : undefined
}

/** ScannedSegment is one segment as found on disk. */
export interface ScannedSegment {
  name: string
  path: string
  firstZxid: Zxid
  /**
   * sizeBytes is the file's size; `validBytes` is where its last intact record ends. In
   * the newest segment the bytes between them may be a preallocated zero tail (then no
   * torn tail is reported); in any other segment they are equal unless damage is reported.
   */
  sizeBytes: number
  validBytes: number
  /** lastZxid is the zxid of the segment's last intact record, if it has any. */
  lastZxid: Zxid | undefined
  /** records counts its intact records. */
  records: number
}

/** LogDamage is the first place where the log cannot be trusted. */
export interface LogDamage {
  code: 'CORRUPT_LOG' | 'ZXID_GAP'
  file: string
  offset: number
  problem: string
  /** lastGoodZxid is the last intact, adjacent zxid before the damage, if any. */
  lastGoodZxid: Zxid | undefined
}

/** TornTail is the cut-short write at the end of the last segment. */
export interface TornTail {
  file: string
  offset: number
  bytesCut: number
  problem: string
}

/** LogScan is what scanLog found. */
export interface LogScan {
  /** segments in zxid order: those that may hold txns after the snapshot, and before them those it covers (kept for older snapshots). */
  segments: ScannedSegment[]
  /** obsolete are segments of an older log generation (left over from an interrupted snapshot install). */
  obsolete: string[]
  /** txns are the intact txns after the snapshot zxid, in order (up to the damage, if any). */
  txns: Txn[]
  /** lastZxid is the newest intact logged zxid, or the snapshot zxid if none is newer. */
  lastZxid: Zxid
  /** resetZxid is the newest log generation found (see SegmentHeader.resetZxid). */
  resetZxid: Zxid
  tornTail: TornTail | undefined
  damage: LogDamage | undefined
}

/** listSegments returns the segment files of a log directory, oldest first. */
export async function listSegments(
  fs: StorageFs,
  logDir: string,
): Promise<{ name: string; firstZxid: Zxid }[]> {
  const segments: { name: string; firstZxid: Zxid }[] = []
  for (const name of await fs.readdir(logDir)) {
    const firstZxid = parseSegmentName(name)
    if (firstZxid !== undefined) segments.push({ name, firstZxid })
  }
  return segments.sort((a, b) =>
    a.firstZxid < b.firstZxid ? -1 : a.firstZxid > b.firstZxid ? 1 : 0,
  )
}

/**
 * scanLog reads the log in `logDir` for recovery from a snapshot at `snapshotZxid`
 * (0n for none) whose log generation is `resetZxid`. Segments from before that reset
 * (an interrupted snapshot install) are stale and listed as obsolete. Segments whose
 * successor starts at or below `snapshotZxid + 1` hold nothing to replay: they are kept
 * (listed, not read) for the older snapshots retention keeps, and purged with them.
 */
export async function scanLog(
  fs: StorageFs,
  logDir: string,
  snapshotZxid: Zxid,
  resetZxid: Zxid,
): Promise<LogScan> {
  const scan: LogScan = {
    segments: [],
    obsolete: [],
    txns: [],
    lastZxid: snapshotZxid,
    resetZxid,
    tornTail: undefined,
    damage: undefined,
  }
  const live: { name: string; path: string; firstZxid: Zxid; bytes: Uint8Array }[] = []
  for (const entry of await listSegments(fs, logDir)) {
    const path = `${logDir}/${entry.name}`
    const bytes = await fs.readFile(path)
    const header = decodeSegmentHeader(bytes)
    if ('problem' in header) {
      scan.damage = {
        code: 'CORRUPT_LOG',
        file: path,
        offset: 0,
        problem: `segment header: ${header.problem}`,
        lastGoodZxid: undefined,
      }
      return scan
    }
    if (header.firstZxid !== entry.firstZxid) {
      const problem = `segment header names zxid ${formatZxid(header.firstZxid)}, its file name ${formatZxid(entry.firstZxid)}`
      scan.damage = { code: 'CORRUPT_LOG', file: path, offset: 0, problem, lastGoodZxid: undefined }
      return scan
    }
    if (header.resetZxid < resetZxid) scan.obsolete.push(entry.name)
    else {
      if (header.resetZxid > scan.resetZxid) scan.resetZxid = header.resetZxid
      live.push({ ...entry, path, bytes })
    }
  }
  const cursor: Cursor = { previous: undefined, snapshotZxid }
  for (
    let i = 0;
    i < live.length && scan.damage === undefined && scan.tornTail === undefined;
    i++
  ) {
    const { bytes, ...entry } = live[i]!
    const next = live[i + 1]
    if (next !== undefined && next.firstZxid <= snapshotZxid + 1n) {
      // Wholly covered by this snapshot, but an older snapshot kept by retention may need
      // it if this one is ever found damaged: keep it; retention purges it in its time.
      scan.segments.push({
        ...entry,
        sizeBytes: bytes.length,
        validBytes: bytes.length,
        lastZxid: undefined,
        records: 0,
      })
    } else scanSegment(bytes, entry, next === undefined, cursor, scan)
  }
  if (cursor.previous !== undefined && cursor.previous > scan.lastZxid)
    scan.lastZxid = cursor.previous
  return scan
}

interface Cursor {
  previous: Zxid | undefined
  snapshotZxid: Zxid
}

function scanSegment(
  bytes: Uint8Array,
  entry: { name: string; path: string; firstZxid: Zxid },
  isLast: boolean,
  cursor: Cursor,
  scan: LogScan,
): void {
  const segment: ScannedSegment = {
    ...entry,
    sizeBytes: bytes.length,
    validBytes: 0,
    lastZxid: undefined,
    records: 0,
  }
  scan.segments.push(segment)
  const damage = (code: LogDamage['code'], offset: number, problem: string): void => {
    scan.damage = { code, file: entry.path, offset, problem, lastGoodZxid: cursor.previous }
  }
  let offset = SEGMENT_HEADER_BYTES
  segment.validBytes = offset
  while (offset < bytes.length) {
    const read = readRecord(bytes, offset, cursor.snapshotZxid)
    if (read.kind === 'malformed') return damage('CORRUPT_LOG', offset, read.problem)
    if (read.kind === 'damaged') {
      // Only zeros left in the newest segment: its preallocated space, where the log ends.
      if (isLast && zeroTailStart(bytes, offset) === offset) return
      const later = isLast ? findLaterRecord(bytes, offset, cursor.previous ?? 0n) : undefined
      if (isLast && later === undefined) {
        scan.tornTail = {
          file: entry.path,
          offset,
          bytesCut: bytes.length - offset,
          problem: read.problem,
        }
        return
      }
      const where =
        later === undefined
          ? 'in a segment that is not the last'
          : `with an intact record after it at offset ${later}`
      return damage('CORRUPT_LOG', offset, `${read.problem}, ${where}`)
    }
    const zxid = read.txn.zxid
    const gap = gapProblem(segment, cursor, zxid)
    if (gap !== undefined) return damage('ZXID_GAP', offset, gap)
    cursor.previous = zxid
    if (zxid > cursor.snapshotZxid) scan.txns.push(read.txn)
    segment.lastZxid = zxid
    segment.records++
    offset = read.endOffset
    segment.validBytes = offset
  }
}

function gapProblem(segment: ScannedSegment, cursor: Cursor, zxid: Zxid): string | undefined {
  if (segment.records === 0 && zxid !== segment.firstZxid) {
    return `first record has zxid ${formatZxid(zxid)} but the segment is named for ${formatZxid(segment.firstZxid)}`
  }
  if (cursor.previous !== undefined && zxid <= cursor.previous)
    return `zxid ${formatZxid(zxid)} follows ${formatZxid(cursor.previous)}`
  // Only txns after the snapshot are replayed; those must continue it without a gap.
  if (zxid <= cursor.snapshotZxid) return undefined
  const predecessor =
    cursor.previous !== undefined && cursor.previous > cursor.snapshotZxid
      ? cursor.previous
      : cursor.snapshotZxid
  if (followsZxid(predecessor, zxid)) return undefined
  return predecessor === cursor.snapshotZxid
    ? `the first logged zxid after the snapshot, ${formatZxid(zxid)}, does not follow the snapshot at ${formatZxid(predecessor)}`
    : `zxid ${formatZxid(zxid)} follows ${formatZxid(predecessor)}`
}
