/**
 * The transaction log on its own: record framing, group commit, segment rolls,
 * truncation and the torn-tail rule. Method: drive LogWriter on the recording
 * in-memory disk (and once on the real disk), read the result back with scanLog, and
 * damage bytes by hand to check that only a torn tail is cut and anything else is
 * reported with its file and offset.
 */
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Txn } from '../../../protocol/txn.js'
import { makeZxid } from '../../../protocol/zxid.js'
import { LogWriter, type SegmentState } from '../../../server/storage/log-writer.js'
import { scanLog } from '../../../server/storage/log-scan.js'
import { MemoryStorageFs } from '../../../server/storage/memory-fs.js'
import { NodeStorageFs, type StorageFs } from '../../../server/storage/storage-fs.js'
import {
  encodeRecord,
  readRecord,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
} from '../../../server/storage/record.js'
import { encodeMessage } from '../../../protocol/codec.js'
import { crc32 } from 'node:zlib'

const LOG = '/data/log'

function txnAt(zxid: bigint, data = `v${zxid}`): Txn {
  return {
    zxid,
    timeMs: 1_700_000_000_000,
    sessionId: 0x1234n,
    xid: 7,
    op: { type: 'set', path: '/a', data: new TextEncoder().encode(data), version: 3 },
  }
}

function txns(from: number, to: number): Txn[] {
  const out: Txn[] = []
  for (let i = from; i <= to; i++) out.push(txnAt(makeZxid(1, i)))
  return out
}

async function memoryLog(options = { segmentBytesMax: 1 << 20 }) {
  const fs = new MemoryStorageFs()
  await fs.mkdir('/data')
  await fs.mkdir(LOG)
  const writer = new LogWriter(fs, LOG, [], 0n, 0n, options)
  return { fs, writer }
}

async function segmentsOf(fs: StorageFs): Promise<SegmentState[]> {
  const scan = await scanLog(fs, LOG, 0n, 0n)
  return scan.segments.map((s) => ({
    name: s.name,
    firstZxid: s.firstZxid,
    sizeBytes: s.validBytes,
  }))
}

describe('record framing', () => {
  it('round-trips a txn with bigint ids and plain Uint8Array data', () => {
    const txn: Txn = {
      zxid: makeZxid(3, 9),
      timeMs: 5,
      sessionId: 0xffff_ffff_ffff_fff0n,
      xid: 1,
      op: {
        type: 'createSession',
        sessionId: 0xffff_ffff_ffff_fff0n,
        timeoutMs: 4000,
        password: new Uint8Array([1, 2, 3]),
      },
    }
    const read = readRecord(encodeRecord(txn), 0)
    expect(read.kind).toBe('ok')
    if (read.kind !== 'ok') return
    expect(read.txn).toEqual(txn)
    expect(typeof read.txn.zxid).toBe('bigint')
    const op = read.txn.op
    expect(op.type === 'createSession' && op.password.constructor).toBe(Uint8Array)
  })

  it('reports a checksummed payload that is not a txn as malformed, not as a torn write', () => {
    const bytes = encodeRecord(txnAt(1n))
    const payload = encodeMessage({ zxid: 1n, nonsense: true })
    const forged = new Uint8Array(RECORD_HEADER_BYTES + payload.length)
    const view = new DataView(forged.buffer)
    view.setUint32(0, payload.length)
    view.setBigUint64(8, 1n)
    forged.set(payload, RECORD_HEADER_BYTES)
    view.setUint32(4, crc32(forged.subarray(8)))
    expect(readRecord(bytes, 0).kind).toBe('ok')
    const read = readRecord(forged, 0)
    expect(read.kind).toBe('malformed')
  })

  it('treats zeros, short headers and bad checksums as damaged', () => {
    expect(readRecord(new Uint8Array(40), 0)).toMatchObject({
      kind: 'damaged',
      problem: expect.stringContaining('zero length'),
    })
    expect(readRecord(new Uint8Array(5), 0).kind).toBe('damaged')
    const bytes = encodeRecord(txnAt(1n))
    bytes[bytes.length - 1]! ^= 1
    expect(readRecord(bytes, 0)).toMatchObject({ kind: 'damaged', problem: 'checksum mismatch' })
  })
})

describe('LogWriter', () => {
  it('groups concurrent appends into one fsync and resolves each only after it', async () => {
    const batches: number[] = []
    const { fs } = await memoryLog()
    const w = new LogWriter(fs, LOG, [], 0n, 0n, {
      segmentBytesMax: 1 << 20,
      onBatch: (n) => batches.push(n),
    })
    // The writer yields before writing, so 40 callers arriving together share one write and one fsync.
    await Promise.all(txns(1, 40).map((txn) => w.append([txn])))
    expect(batches).toEqual([40])
    const fsyncs = () =>
      fs.ops.filter(
        (op) =>
          op.kind === 'fdatasync' && op.path.startsWith(`${LOG}/log.`) && !op.path.endsWith('.tmp'),
      )
    expect(fsyncs().length).toBe(1)
    // Appends made while a batch is being written wait for it and then go together.
    const first = w.append(txns(41, 41))
    await Promise.resolve()
    const queuedBehind = txns(42, 50).map((txn) => w.append([txn]))
    await Promise.all([first, ...queuedBehind])
    expect(batches.slice(1).reduce((a, b) => a + b, 0)).toBe(10)
    expect(batches.length).toBeLessThanOrEqual(3)
    const scan = await scanLog(fs, LOG, 0n, 0n)
    expect(scan.txns).toEqual(txns(1, 50))
    expect(scan.damage).toBeUndefined()
  })

  it('resolves an append only after the fdatasync that covers it was issued', async () => {
    const { fs, writer } = await memoryLog()
    await writer.append(txns(1, 3))
    const lastWrite = fs.ops.findLastIndex((op) => op.kind === 'write')
    const lastSync = fs.ops.findLastIndex((op) => op.kind === 'fdatasync')
    expect(lastSync).toBeGreaterThan(lastWrite)
  })

  it('refuses a gap or a repeated zxid without writing anything', async () => {
    const { fs, writer } = await memoryLog()
    await writer.append(txns(1, 2))
    const opsBefore = fs.ops.length
    await expect(writer.append([txnAt(makeZxid(1, 4))])).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    })
    await expect(writer.append([txnAt(makeZxid(1, 2))])).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    })
    expect(fs.ops.length).toBe(opsBefore)
    await writer.append([txnAt(makeZxid(2, 1))]) // a new epoch starts at counter 1
  })

  it('rolls segments at the size limit, each named for its first zxid, and reads back across them', async () => {
    const { fs, writer } = await memoryLog({ segmentBytesMax: 400 })
    const all = txns(1, 30)
    for (const txn of all) await writer.append([txn])
    const scan = await scanLog(fs, LOG, 0n, 0n)
    expect(scan.segments.length).toBeGreaterThan(3)
    for (const segment of scan.segments) {
      expect(segment.sizeBytes).toBeLessThanOrEqual(400)
      expect(segment.name).toBe(`log.${segment.firstZxid.toString(16).padStart(16, '0')}`)
    }
    expect(scan.txns).toEqual(all)
  })

  it('truncates after a zxid across segments, then continues from there', async () => {
    const { fs, writer } = await memoryLog({ segmentBytesMax: 400 })
    for (const txn of txns(1, 30)) await writer.append([txn])
    await writer.truncateAfter(makeZxid(1, 12))
    let scan = await scanLog(fs, LOG, 0n, 0n)
    expect(scan.txns.map((t) => t.zxid)).toEqual(txns(1, 12).map((t) => t.zxid))
    await writer.append([txnAt(makeZxid(2, 1), 'new history')])
    scan = await scanLog(fs, LOG, 0n, 0n)
    expect(scan.lastZxid).toBe(makeZxid(2, 1))
    expect(scan.damage).toBeUndefined()
  })

  it('purges segments holding only txns at or below a snapshot zxid, never the newest', async () => {
    const { fs, writer } = await memoryLog({ segmentBytesMax: 400 })
    for (const txn of txns(1, 30)) await writer.append([txn])
    const before = await segmentsOf(fs)
    await writer.purgeThrough(makeZxid(1, 30))
    const after = await segmentsOf(fs)
    expect(after.length).toBe(1)
    expect(after[0]!.name).toBe(before.at(-1)!.name)
    await writer.append([txnAt(makeZxid(1, 31))])
  })

  it('writes and reads back on the real disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-log-'))
    try {
      mkdirSync(join(dir, 'log'))
      const fs = new NodeStorageFs()
      const writer = new LogWriter(fs, join(dir, 'log'), [], 0n, 0n, { segmentBytesMax: 300 })
      await Promise.all(txns(1, 20).map((t) => writer.append([t])))
      await writer.close()
      const scan = await scanLog(fs, join(dir, 'log'), 0n, 0n)
      expect(scan.txns).toEqual(txns(1, 20))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('scanLog damage rules', () => {
  async function writtenLog(count: number, segmentBytesMax = 1 << 20) {
    const { fs, writer } = await memoryLog({ segmentBytesMax })
    for (const txn of txns(1, count)) await writer.append([txn])
    const scan = await scanLog(fs, LOG, 0n, 0n)
    return { fs, scan }
  }

  function damaged(
    fs: MemoryStorageFs,
    path: string,
    change: (bytes: Uint8Array) => Uint8Array,
  ): MemoryStorageFs {
    const image = fs.image()
    image.files.set(path, change(image.files.get(path)!))
    return new MemoryStorageFs(image)
  }

  it('cuts a torn last record and a zero-filled tail, reporting the offset', async () => {
    const { fs, scan } = await writtenLog(5)
    const path = scan.segments[0]!.path
    const size = scan.segments[0]!.sizeBytes
    const torn = damaged(fs, path, (b) => b.slice(0, size - 3))
    const tornScan = await scanLog(torn, LOG, 0n, 0n)
    expect(tornScan.damage).toBeUndefined()
    expect(tornScan.txns.length).toBe(4)
    expect(tornScan.tornTail).toMatchObject({ file: path })
    const zeroed = damaged(fs, path, (b) => {
      const out = new Uint8Array(b.length + 512)
      out.set(b)
      return out
    })
    const zeroScan = await scanLog(zeroed, LOG, 0n, 0n)
    expect(zeroScan.txns.length).toBe(5)
    expect(zeroScan.tornTail).toMatchObject({ offset: size, bytesCut: 512 })
  })

  it('refuses a checksum failure in the middle of the last segment, naming file and offset', async () => {
    const { fs, scan } = await writtenLog(5)
    const path = scan.segments[0]!.path
    const second = SEGMENT_HEADER_BYTES + encodeRecord(txns(1, 1)[0]!).length
    const bad = damaged(fs, path, (b) => {
      b[second + RECORD_HEADER_BYTES + 2]! ^= 0x10
      return b
    })
    const badScan = await scanLog(bad, LOG, 0n, 0n)
    expect(badScan.damage).toMatchObject({
      code: 'CORRUPT_LOG',
      file: path,
      offset: second,
      lastGoodZxid: makeZxid(1, 1),
    })
  })

  it('refuses a torn record in a segment that is not the last', async () => {
    const { fs, scan } = await writtenLog(30, 400)
    const first = scan.segments[0]!
    const bad = damaged(fs, first.path, (b) => b.slice(0, b.length - 2))
    const badScan = await scanLog(bad, LOG, 0n, 0n)
    expect(badScan.damage).toMatchObject({ code: 'CORRUPT_LOG', file: first.path })
  })

  it('reports a missing segment as a zxid gap', async () => {
    const { fs, scan } = await writtenLog(30, 400)
    const image = fs.image()
    image.files.delete(scan.segments[1]!.path)
    const badScan = await scanLog(new MemoryStorageFs(image), LOG, 0n, 0n)
    expect(badScan.damage).toMatchObject({ code: 'ZXID_GAP', file: scan.segments[2]!.path })
  })
})
