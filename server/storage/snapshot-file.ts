/**
 * Snapshot files `snap/snapshot.<16 hex digits of zxid>`: the session table and the
 * whole tree as of a zxid, written without stalling the event loop.
 *
 * Layout: a 28-byte header (magic `CNSN`, version u32, zxid u64, the log's reset zxid
 * u64, CRC-32 of those 24 bytes), then frames `[length u32][crc32 u32][kind u8][payload]`
 * where the CRC covers kind and payload. Kind 1 frames hold a msgpack array of session
 * records, kind 2 of tree records, and one kind 3 frame ends the file with the record
 * counts. A file without its end frame, or with any bad frame, is not a snapshot.
 *
 * Carried log tail (format version 2): a snapshot installed from the leader (ZAB's
 * SNAP) arrives with txns that must become durable together with it (the Ready
 * contract, server/core/ready.ts). Kind 4 frames, after the tree records, hold a
 * msgpack array of those txns, each following the previous (the first follows the
 * snapshot's zxid), and the end frame then also counts them (`tail`). The rename of
 * the file is the one atomic switch from the old state to snapshot plus txns. Only
 * files with a tail are written with a tail version (2, or 4 with hashes), so a reader
 * that knows no tail refuses such a file instead of dropping its txns.
 * Once the tail's txns are durable in the log too, the file is rewritten without
 * them (`rewriteWithoutTail`): a later TRUNC may cut the log inside the tail, and a
 * tail kept in the file would bring the cut txns back.
 *
 * Compact records with stored node hashes (format versions 3 and 4, which are 1 and 2
 * plus this): tree records are msgpack arrays in a fixed field order
 * (snapshot-content.ts's TreeRecordTuple) instead of maps, and may carry `hash`, the
 * node's digest hash (server/tree/digest.ts), so recovery need not recompute it for
 * every node. Versions 1 and 2 (map records) are still read; a `hash` in their
 * records is ignored and recomputed. The frame CRC-32 covers stored
 * hashes like every other byte, so a damaged hash is caught like damaged data; the
 * tree loader also recomputes a sample of them, which catches hashes written by a
 * different digest definition.
 *
 * Fuzzy, like ZooKeeper's: the zxid is the one applied when writing started; records
 * are pulled a chunk at a time while the server keeps applying txns, so the file holds
 * a state between that zxid and later ones. Recovery replays every logged txn after
 * the zxid, which is correct because txns are idempotent state-setting records.
 */
import { crc32 } from 'node:zlib'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { decodeMessage, encodeMessage } from '../../protocol/codec.js'
import type { Txn } from '../../protocol/txn.js'
import { checkTxn } from '../../protocol/txn-shape.js'
import { formatZxid, type Zxid } from '../../protocol/zxid.js'
import { TMP_SUFFIX, writeFileAtomically } from './atomic-file.js'
import { StorageError, StorageErrorCode } from './errors.js'
import {
  checkSessionRecord,
  checkTreeRecord,
  treeRecordFromTuple,
  treeRecordTuple,
  type SessionRecord,
  type SnapshotNode,
} from './snapshot-content.js'
import type { StorageFs } from './storage-fs.js'
import { followsZxid, parseZxidHex16, zxidHex16 } from './zxid-order.js'

const SNAPSHOT_MAGIC = 0x434e_534e
/**
 * Format versions: 1 plain, 2 with a log tail, 3 and 4 the same with stored node
 * hashes. All four are read; 3 and 4 are written.
 */
const FormatVersion = { plain: 1, tail: 2, hashedPlain: 3, hashedTail: 4 } as const
const VERSIONS_READ: readonly number[] = Object.values(FormatVersion)
const HEADER_BYTES = 28
const FRAME_HEADER_BYTES = 9
const FRAME_PAYLOAD_BYTES_MAX = 512 * 1024 * 1024
const FrameKind = { sessions: 1, nodes: 2, end: 3, tail: 4 } as const

/** SNAPSHOT_PREFIX starts every snapshot file name. */
export const SNAPSHOT_PREFIX = 'snapshot.'

/** snapshotName is the file name of the snapshot at `zxid`. */
export function snapshotName(zxid: Zxid): string {
  return `${SNAPSHOT_PREFIX}${zxidHex16(zxid)}`
}

/** parseSnapshotName returns the zxid a snapshot file name encodes, or undefined. */
export function parseSnapshotName(name: string): Zxid | undefined {
  return name.startsWith(SNAPSHOT_PREFIX)
    ? parseZxidHex16(name.slice(SNAPSHOT_PREFIX.length))
    : undefined
}

/** SnapshotSource is what a snapshot is written from; either may be lazy and async. */
export interface SnapshotSource {
  zxid: Zxid
  /** resetZxid is the log generation the snapshot belongs to (a new, higher one when it replaces the log). */
  resetZxid: Zxid
  sessions: Iterable<unknown> | AsyncIterable<unknown>
  nodes: Iterable<unknown> | AsyncIterable<unknown>
  /** zxidAtEnd, if set, is asked for the tree's applied zxid once all records are read. */
  zxidAtEnd?: () => Zxid
  /** tail, if not empty, are txns that become durable with the snapshot (a SNAP install); the first follows `zxid`. */
  tail?: readonly Txn[]
}

/** SnapshotWriteOptions: records per frame; the writer yields to the event loop after each frame. */
export interface SnapshotWriteOptions {
  recordsPerChunk: number
}

function frame(kind: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(FRAME_HEADER_BYTES + payload.length)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, payload.length)
  bytes[8] = kind
  bytes.set(payload, FRAME_HEADER_BYTES)
  view.setUint32(4, crc32(bytes.subarray(8))) // never empty: the kind byte
  return bytes
}

function header(zxid: Zxid, resetZxid: Zxid, version: number): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, SNAPSHOT_MAGIC)
  view.setUint32(4, version)
  view.setBigUint64(8, zxid)
  view.setBigUint64(16, resetZxid)
  view.setUint32(24, crc32(bytes.subarray(0, 24)))
  return bytes
}

/**
 * writeSnapshotFile writes `snapDir/snapshot.<zxid>` durably (temp file, fdatasync,
 * rename, directory fsync), yielding to the event loop after every chunk of records.
 * Returns the file name and its size.
 */
export async function writeSnapshotFile(
  fs: StorageFs,
  snapDir: string,
  source: SnapshotSource,
  options: SnapshotWriteOptions,
): Promise<{ name: string; sizeBytes: number; nodes: number; sessions: number }> {
  const name = snapshotName(source.zxid)
  const tmpPath = `${snapDir}/${name}${TMP_SUFFIX}`
  if ((await fs.stat(tmpPath)) !== undefined) await fs.unlink(tmpPath)
  const file = await fs.createFile(tmpPath)
  let position = 0
  const put = async (bytes: Uint8Array) => {
    await file.write(bytes, position)
    position += bytes.length
  }
  try {
    const tail = source.tail ?? []
    await put(
      header(
        source.zxid,
        source.resetZxid,
        tail.length > 0 ? FormatVersion.hashedTail : FormatVersion.hashedPlain,
      ),
    )
    const sessions = await writeRecords(
      put,
      FrameKind.sessions,
      source.sessions,
      options.recordsPerChunk,
    )
    const nodes = await writeRecords(
      put,
      FrameKind.nodes,
      source.nodes,
      options.recordsPerChunk,
      treeRecordTuple,
    )
    // Read after the records: the tree's applied zxid once iteration ended.
    const fuzzyThroughZxid = source.zxidAtEnd?.() ?? source.zxid
    if (tail.length > 0) await writeRecords(put, FrameKind.tail, tail, options.recordsPerChunk)
    await put(
      frame(
        FrameKind.end,
        encodeMessage(endCounts(sessions, nodes, fuzzyThroughZxid, tail.length)),
      ),
    )
    await file.fdatasync()
    await file.close()
    await fs.rename(tmpPath, `${snapDir}/${name}`)
    await fs.fsyncDir(snapDir)
    return { name, sizeBytes: position, nodes, sessions }
  } catch (err) {
    await file.close().catch(() => {})
    // A half-written snapshot is never read; on a full disk its blocks are what the log needs.
    await fs.unlink(tmpPath).catch(() => {})
    throw err
  }
}

function endCounts(
  sessions: number,
  nodes: number,
  fuzzyThroughZxid: Zxid,
  tail: number,
): Record<string, unknown> {
  return tail > 0
    ? { sessions, nodes, fuzzyThroughZxid, tail }
    : { sessions, nodes, fuzzyThroughZxid }
}

async function writeRecords(
  put: (bytes: Uint8Array) => Promise<void>,
  kind: number,
  records: Iterable<unknown> | AsyncIterable<unknown>,
  perChunk: number,
  form: (record: unknown) => unknown = (record) => record,
): Promise<number> {
  let chunk: unknown[] = []
  let count = 0
  const putChunk = async () => {
    count += chunk.length
    await put(frame(kind, encodeMessage(chunk)))
    chunk = []
    // The file write may complete without a macrotask turn; yield so timers and sockets run.
    await yieldToEventLoop()
  }
  if (Symbol.iterator in records) {
    // A plain loop: `for await` over a sync iterable costs a microtask per record.
    for (const record of records) {
      chunk.push(form(record))
      if (chunk.length >= perChunk) await putChunk()
    }
  } else {
    for await (const record of records) {
      chunk.push(form(record))
      if (chunk.length >= perChunk) await putChunk()
    }
  }
  if (chunk.length > 0) {
    count += chunk.length
    await put(frame(kind, encodeMessage(chunk)))
  }
  return count
}

/** SnapshotContent is a snapshot read back and checked. */
export interface SnapshotContent {
  zxid: Zxid
  resetZxid: Zxid
  /**
   * fuzzyThroughZxid is the newest zxid whose effects the records may already hold
   * (the applied zxid when writing ended). Txns up to it must be applied in replay mode.
   */
  fuzzyThroughZxid: Zxid
  sessions: SessionRecord[]
  /** nodes are the tree records, unless they went to a SnapshotNodeLoader (then empty). */
  nodes: SnapshotNode[]
  /** nodeCount is how many tree records the file holds. */
  nodeCount: number
  /** hashes: the file's format stores node hashes (versions 3 and 4), so its records' hashes count. */
  hashes: boolean
  /** tail are the txns the snapshot carries (a SNAP install not yet discharged into the log); usually empty. */
  tail: Txn[]
  /** tailOffset is where the tail frames (or, without a tail, the end frame) start. */
  tailOffset: number
}

/** SnapshotProblem says why a snapshot file cannot be used and where. */
export interface SnapshotProblem {
  offset: number
  problem: string
}

/**
 * SnapshotNodeLoader builds something (the tree) from a snapshot's tree records, a
 * frame's worth at a time, as the file is read: the records are never all held at
 * once. It must check every record itself (server/tree's DataTreeLoader does) and
 * throw on one it refuses; the snapshot then counts as damaged.
 */
export interface SnapshotNodeLoader {
  add(records: Iterable<SnapshotNode>): void
  /** finish ends loading once every frame was read; it may throw like `add`. */
  finish(zxid: Zxid): unknown
}

/**
 * decodeSnapshot parses and checks a whole snapshot file. `expectedZxid` comes from its
 * name. With a `loader`, tree records go to it frame by frame instead of into `nodes`,
 * and `loaded` is what its `finish` returned.
 */
export function decodeSnapshot(
  bytes: Uint8Array,
  expectedZxid: Zxid,
  loader?: SnapshotNodeLoader,
): (SnapshotContent & { loaded?: unknown }) | SnapshotProblem {
  if (bytes.length < HEADER_BYTES)
    return { offset: 0, problem: `file is ${bytes.length} bytes, shorter than a header` }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(0) !== SNAPSHOT_MAGIC)
    return { offset: 0, problem: 'not a Conclave snapshot (bad magic)' }
  if (view.getUint32(24) !== crc32(bytes.subarray(0, 24)))
    return { offset: 0, problem: 'header checksum mismatch' }
  const version = view.getUint32(4)
  if (!VERSIONS_READ.includes(version)) {
    return {
      offset: 0,
      problem: `snapshot format version ${version}, this server reads ${VERSIONS_READ.join(', ')}`,
    }
  }
  const hasTail = version === FormatVersion.tail || version === FormatVersion.hashedTail
  const reading: RecordReading = {
    compact: version === FormatVersion.hashedPlain || version === FormatVersion.hashedTail,
    loader,
  }
  const content: SnapshotContent = {
    zxid: view.getBigUint64(8),
    resetZxid: view.getBigUint64(16),
    fuzzyThroughZxid: 0n,
    sessions: [],
    nodes: [],
    nodeCount: 0,
    hashes: reading.compact,
    tail: [],
    tailOffset: HEADER_BYTES,
  }
  if (content.zxid !== expectedZxid)
    return {
      offset: 8,
      problem: `header zxid ${content.zxid} differs from the file name's ${expectedZxid}`,
    }
  let offset = HEADER_BYTES
  while (offset < bytes.length) {
    const read = readFrame(bytes, view, offset)
    if ('problem' in read) return read
    if (read.kind === FrameKind.tail && !hasTail)
      return { offset, problem: `a log tail frame in a version ${version} snapshot` }
    if (content.tail.length === 0) content.tailOffset = offset
    if (read.kind === FrameKind.end) {
      const counts = read.value as {
        sessions?: unknown
        nodes?: unknown
        fuzzyThroughZxid?: unknown
        tail?: unknown
      } | null
      if (counts?.sessions !== content.sessions.length || counts?.nodes !== content.nodeCount) {
        return { offset, problem: 'end frame counts differ from the records read' }
      }
      if (hasTail && (counts.tail !== content.tail.length || content.tail.length === 0)) {
        return { offset, problem: 'end frame tail count differs from the log tail read' }
      }
      const through =
        typeof counts.fuzzyThroughZxid === 'number'
          ? BigInt(counts.fuzzyThroughZxid)
          : counts.fuzzyThroughZxid
      if (typeof through !== 'bigint' || through < content.zxid)
        return { offset, problem: 'end frame has no valid fuzzyThroughZxid' }
      content.fuzzyThroughZxid = through
      if (read.end !== bytes.length)
        return { offset: read.end, problem: 'bytes after the end frame' }
      if (loader === undefined) return content
      try {
        return { ...content, loaded: loader.finish(content.zxid) }
      } catch (err) {
        return { offset, problem: `the tree records do not load: ${errorText(err)}` }
      }
    }
    const problem =
      read.kind === FrameKind.tail
        ? addTail(read.value, content)
        : addRecords(read.kind, read.value, content, reading)
    if (problem !== undefined) return { offset, problem }
    offset = read.end
  }
  return { offset, problem: 'no end frame (the file was cut short)' }
}

function readFrame(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
): { kind: number; value: unknown; end: number } | SnapshotProblem {
  if (bytes.length - offset < FRAME_HEADER_BYTES)
    return { offset, problem: 'truncated frame header' }
  const length = view.getUint32(offset)
  const end = offset + FRAME_HEADER_BYTES + length
  if (length > FRAME_PAYLOAD_BYTES_MAX || end > bytes.length)
    return { offset, problem: `frame length ${length} runs past the end of the file` }
  if (crc32(bytes.subarray(offset + 8, end)) !== view.getUint32(offset + 4))
    return { offset, problem: 'frame checksum mismatch' }
  const kind = bytes[offset + 8]!
  if (
    kind !== FrameKind.sessions &&
    kind !== FrameKind.nodes &&
    kind !== FrameKind.end &&
    kind !== FrameKind.tail
  )
    return { offset, problem: `unknown frame kind ${kind}` }
  // A copy: msgpackr keeps the last buffer it decoded, which would pin the whole file.
  const unpacked = decodeMessage(bytes.slice(offset + FRAME_HEADER_BYTES, end))
  if (!unpacked.ok) return { offset, problem: `frame is not msgpack: ${unpacked.error.message}` }
  return { kind, value: unpacked.value, end }
}

/** RecordReading is how a file's tree records are taken: compact tuples whose stored hashes count (3, 4) or maps (1, 2), and where they go. */
interface RecordReading {
  compact: boolean
  loader: SnapshotNodeLoader | undefined
}

function addRecords(
  kind: number,
  value: unknown,
  content: SnapshotContent,
  reading: RecordReading,
): string | undefined {
  if (!Array.isArray(value)) return 'frame payload is not a list of records'
  if (content.tail.length > 0) return 'tree or session records after the log tail'
  if (kind === FrameKind.nodes) content.nodeCount += value.length
  if (kind === FrameKind.nodes && reading.loader !== undefined) {
    // The loader checks each record; only hashes a file of this version cannot vouch for are dropped.
    const problem = { text: undefined as string | undefined }
    try {
      reading.loader.add(reading.compact ? fromTuples(value, problem) : withoutHashes(value))
    } catch (err) {
      return errorText(err)
    }
    return problem.text
  }
  for (const record of value) {
    if (kind === FrameKind.sessions) {
      const checked = checkSessionRecord(record)
      if (typeof checked === 'string') return checked
      content.sessions.push(checked)
    } else {
      const form = reading.compact ? treeRecordFromTuple(record) : withoutHash(record)
      if (typeof form === 'string') return form
      const checked = checkTreeRecord(form)
      if (typeof checked === 'string') return checked
      content.nodes.push(checked)
    }
  }
  return undefined
}

/**
 * fromTuples yields the records of a frame of tuples one at a time, dropping each tuple
 * from the frame as it goes: a record is garbage as soon as the loader took it, so
 * neither it nor its tuple lives long enough to be promoted to the old generation (GC
 * was a third of recovery's time). It stops at a tuple that is no record, saying why in
 * `problem`.
 */
function* fromTuples(tuples: unknown[], problem: { text: string | undefined }) {
  for (let i = 0; i < tuples.length; i++) {
    const record = treeRecordFromTuple(tuples[i])
    tuples[i] = undefined
    if (typeof record === 'string') {
      problem.text = record
      return
    }
    yield record
  }
}

function* withoutHashes(records: unknown[]) {
  for (const record of records) yield withoutHash(record) as SnapshotNode
}

/** withoutHash clears a stored hash from a record of a format without hashes (it is recomputed, never trusted) and returns the record. */
function withoutHash(record: unknown): unknown {
  if (typeof record === 'object' && record !== null && 'hash' in record)
    (record as { hash?: unknown }).hash = undefined
  return record
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** addTail checks and appends one frame of carried txns: each must follow the previous (the first, the snapshot). */
function addTail(value: unknown, content: SnapshotContent): string | undefined {
  if (!Array.isArray(value) || value.length === 0)
    return 'log tail frame is not a non-empty list of txns'
  for (const record of value) {
    const txn = checkTxn(record)
    if (typeof txn === 'string') return `log tail holds something that is not a txn: ${txn}`
    const previous = content.tail.at(-1)?.zxid ?? content.zxid
    if (!followsZxid(previous, txn.zxid))
      return `log tail txn ${formatZxid(txn.zxid)} does not follow ${formatZxid(previous)}`
    content.tail.push(txn)
  }
  return undefined
}

/**
 * rewriteWithoutTail replaces `snapDir/snapshot.<zxid>`, durably and atomically, with
 * the same snapshot minus its carried log tail (a plain version-1 file). Call it only
 * once every tail txn is durable in the log. Returns false if the file has no tail.
 */
export async function rewriteWithoutTail(
  fs: StorageFs,
  snapDir: string,
  zxid: Zxid,
): Promise<boolean> {
  const name = snapshotName(zxid)
  const bytes = await fs.readFile(`${snapDir}/${name}`)
  const content = decodeSnapshot(bytes, zxid)
  if ('problem' in content) {
    const file = `${snapDir}/${name}`
    throw new StorageError(
      StorageErrorCode.CORRUPT_SNAPSHOT,
      `${file} at offset ${content.offset}: ${content.problem}`,
      { file, offset: content.offset },
    )
  }
  if (content.tail.length === 0) return false
  const end = frame(
    FrameKind.end,
    encodeMessage(
      endCounts(content.sessions.length, content.nodeCount, content.fuzzyThroughZxid, 0),
    ),
  )
  const body = bytes.subarray(HEADER_BYTES, content.tailOffset)
  // The same records, so the same format without the tail: 4 becomes 3, 2 becomes 1.
  const version = content.hashes ? FormatVersion.hashedPlain : FormatVersion.plain
  await writeFileAtomically(fs, snapDir, name, [
    header(content.zxid, content.resetZxid, version),
    body,
    end,
  ])
  return true
}

/** listSnapshots returns the snapshot files of a directory, newest first. */
export async function listSnapshots(
  fs: StorageFs,
  snapDir: string,
): Promise<{ name: string; zxid: Zxid }[]> {
  const snapshots: { name: string; zxid: Zxid }[] = []
  for (const name of await fs.readdir(snapDir)) {
    const zxid = parseSnapshotName(name)
    if (zxid !== undefined) snapshots.push({ name, zxid })
  }
  return snapshots.sort((a, b) => (a.zxid > b.zxid ? -1 : a.zxid < b.zxid ? 1 : 0))
}
