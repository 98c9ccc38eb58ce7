/**
 * The on-disk framing of the transaction log.
 *
 * A segment file starts with a 28-byte header: magic `CNLG`, format version (u32),
 * the zxid of the segment's first record (u64), the log's reset zxid (u64: its
 * generation — the zxid of the snapshot that last replaced the whole log, or one more
 * than the previous generation if that zxid is not above it, 0 if none — so segments
 * left over from an interrupted reset are recognized as stale) and a CRC-32 of those
 * 24 bytes. Then
 * records follow back to back, each `[length u32][crc32 u32][zxid u64][payload]`, all
 * big-endian: `length` counts payload bytes, the CRC covers zxid and payload, and the
 * payload is the msgpack of the Txn. An all-zero header (length 0) is never valid, so
 * zero-filled space reads as "no record here": the writer preallocates the newest
 * segment with zeros (log-writer.ts), and an all-zero tail after its last record is
 * where the log ends.
 */
import { crc32 } from 'node:zlib'
import { decodeMessage, encodeMessageAfterRoom } from '../../protocol/codec.js'
import type { Txn } from '../../protocol/txn.js'
import type { Zxid } from '../../protocol/zxid.js'
import { checkTxn } from '../../protocol/txn-shape.js'

/** SEGMENT_MAGIC opens every log segment ("CNLG"). */
export const SEGMENT_MAGIC = 0x434e_4c47
/** SEGMENT_VERSION is the log format version this code writes and reads. */
export const SEGMENT_VERSION = 1
/** SEGMENT_HEADER_BYTES is the size of a segment header. */
export const SEGMENT_HEADER_BYTES = 28
/** RECORD_HEADER_BYTES is the size of a record's length, crc and zxid. */
export const RECORD_HEADER_BYTES = 16
/** RECORD_PAYLOAD_BYTES_MAX bounds one record's payload; a larger length field is damage. */
export const RECORD_PAYLOAD_BYTES_MAX = 256 * 1024 * 1024

/** SegmentHeader is what a segment header says. */
export interface SegmentHeader {
  firstZxid: Zxid
  resetZxid: Zxid
}

/** encodeSegmentHeader builds the header of a segment whose first record will be `firstZxid`. */
export function encodeSegmentHeader(header: SegmentHeader): Uint8Array {
  const bytes = new Uint8Array(SEGMENT_HEADER_BYTES)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, SEGMENT_MAGIC)
  view.setUint32(4, SEGMENT_VERSION)
  view.setBigUint64(8, header.firstZxid)
  view.setBigUint64(16, header.resetZxid)
  view.setUint32(24, crc32(bytes.subarray(0, 24)))
  return bytes
}

/** decodeSegmentHeader returns what a header says, or why it is not valid. */
export function decodeSegmentHeader(bytes: Uint8Array): SegmentHeader | { problem: string } {
  if (bytes.length < SEGMENT_HEADER_BYTES)
    return { problem: `header is ${bytes.length} bytes, expected ${SEGMENT_HEADER_BYTES}` }
  const view = new DataView(bytes.buffer, bytes.byteOffset, SEGMENT_HEADER_BYTES)
  if (view.getUint32(0) !== SEGMENT_MAGIC)
    return { problem: 'not a Conclave log segment (bad magic)' }
  if (view.getUint32(24) !== crc32(bytes.subarray(0, 24)))
    return { problem: 'header checksum mismatch' }
  const version = view.getUint32(4)
  if (version !== SEGMENT_VERSION)
    return { problem: `log format version ${version}, this server reads ${SEGMENT_VERSION}` }
  return { firstZxid: view.getBigUint64(8), resetZxid: view.getBigUint64(16) }
}

/** encodeRecord frames one txn as a log record. */
export function encodeRecord(txn: Txn): Uint8Array {
  // The txn is packed behind room for the header: one buffer, no copy (every txn logged comes here).
  const bytes = encodeMessageAfterRoom(txn, RECORD_HEADER_BYTES)
  const view = new DataView(bytes.buffer, bytes.byteOffset, RECORD_HEADER_BYTES)
  view.setUint32(0, bytes.length - RECORD_HEADER_BYTES)
  view.setBigUint64(8, txn.zxid)
  // Never empty: the zxid alone is 8 bytes (see digest.ts on crc32 of empty arrays).
  view.setUint32(4, crc32(bytes.subarray(8)))
  return bytes
}

/** RecordRead is the outcome of reading one record at an offset. */
export type RecordRead =
  | { kind: 'ok'; txn: Txn; endOffset: number }
  /** The bytes here are not a whole, intact record (short, zero, bad length or checksum). */
  | { kind: 'damaged'; problem: string }
  /** The checksum matched but the payload is not a txn for this zxid: never a torn write. */
  | { kind: 'malformed'; problem: string }

/**
 * readRecord reads the record starting at `offset` of a segment's bytes. With
 * `decodeAbove` set, a record whose zxid is at or below it is only checksummed, not
 * decoded (recovery does not need txns a snapshot already covers); its `txn` then
 * holds only the zxid and a placeholder op.
 */
export function readRecord(bytes: Uint8Array, offset: number, decodeAbove?: Zxid): RecordRead {
  const available = bytes.length - offset
  if (available < RECORD_HEADER_BYTES)
    return {
      kind: 'damaged',
      problem: `only ${available} bytes left, a record header needs ${RECORD_HEADER_BYTES}`,
    }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, RECORD_HEADER_BYTES)
  const length = view.getUint32(0)
  if (length === 0) return { kind: 'damaged', problem: 'zero length (zero-filled or torn)' }
  if (length > RECORD_PAYLOAD_BYTES_MAX || length > available - RECORD_HEADER_BYTES) {
    return { kind: 'damaged', problem: `length ${length} runs past the end of the file` }
  }
  const end = offset + RECORD_HEADER_BYTES + length
  if (crc32(bytes.subarray(offset + 8, end)) !== view.getUint32(4))
    return { kind: 'damaged', problem: 'checksum mismatch' }
  const zxid = view.getBigUint64(8)
  if (decodeAbove !== undefined && zxid <= decodeAbove) {
    return {
      kind: 'ok',
      txn: {
        zxid,
        timeMs: 0,
        sessionId: 0n,
        xid: 0,
        op: { type: 'error', code: 0, reason: 'not decoded' },
      },
      endOffset: end,
    }
  }
  const unpacked = decodeMessage(bytes.subarray(offset + RECORD_HEADER_BYTES, end))
  if (!unpacked.ok)
    return { kind: 'malformed', problem: `payload is not msgpack: ${unpacked.error.message}` }
  const txn = checkTxn(unpacked.value)
  if (typeof txn === 'string') return { kind: 'malformed', problem: `payload is not a txn: ${txn}` }
  if (txn.zxid !== zxid)
    return {
      kind: 'malformed',
      problem: `record zxid ${zxid} differs from its txn's zxid ${txn.zxid}`,
    }
  return { kind: 'ok', txn, endOffset: end }
}

/**
 * findLaterRecord tells whether an intact record with a zxid above `afterZxid` starts
 * anywhere after `offset`. Recovery uses it to tell a torn tail (nothing valid follows)
 * from damage in the middle of a segment (valid records follow), so damage is never
 * mistaken for a tail and silently cut.
 */
export function findLaterRecord(
  bytes: Uint8Array,
  offset: number,
  afterZxid: Zxid,
): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const afterEpoch = Number(afterZxid >> 32n)
  // A record's length field is not zero, so none starts inside a preallocated zero tail:
  // stop where it begins instead of probing megabytes of zeros. (The bytes themselves are
  // not cut there: a record starting earlier may well end in zero bytes.)
  const lastStart = Math.min(bytes.length - RECORD_HEADER_BYTES, zeroTailStart(bytes, offset))
  for (let at = offset + 1; at < lastStart; at++) {
    const length = view.getUint32(at)
    // Cheap filters first: a plausible length and an epoch not older than the last good record.
    if (length === 0 || length > bytes.length - at - RECORD_HEADER_BYTES) continue
    if (view.getUint32(at + 8) < afterEpoch) continue
    if (view.getBigUint64(at + 8) <= afterZxid) continue
    if (crc32(bytes.subarray(at + 8, at + RECORD_HEADER_BYTES + length)) === view.getUint32(at + 4))
      return at
  }
  return undefined
}

/** ZERO_BLOCK is what zeroTailStart compares against, a block at a time. */
const ZERO_BLOCK = new Uint8Array(64 * 1024)

/**
 * zeroTailStart returns where the run of zero bytes that ends `bytes` starts, but not
 * before `from` (so `from` means "all zero from there on"). It compares 64 KiB blocks
 * with memcmp (Buffer.compare), newest first, so a segment's preallocated tail of
 * megabytes costs about a millisecond at startup rather than a record parse per byte.
 */
export function zeroTailStart(bytes: Uint8Array, from: number): number {
  for (let end = bytes.length; end > from;) {
    const start = Math.max(from, end - ZERO_BLOCK.length)
    const block = bytes.subarray(start, end)
    if (Buffer.compare(block, ZERO_BLOCK.subarray(0, block.length)) !== 0) {
      let last = end - 1
      while (bytes[last] === 0) last--
      return last + 1
    }
    end = start
  }
  return from
}
