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
import {
  LogWriter,
  type LogWriterOptions,
  type SegmentState,
} from '../../../server/storage/log-writer.js'
import { FileStorage } from '../../../server/storage/file-storage.js'
import { scanLog } from '../../../server/storage/log-scan.js'
import { MemoryStorageFs } from '../../../server/storage/memory-fs.js'
import { NodeStorageFs, type StorageFs } from '../../../server/storage/storage-fs.js'
import {
  encodeRecord,
  readRecord,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  zeroTailStart,
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

async function memoryLog(options: LogWriterOptions = { segmentBytesMax: 1 << 20 }) {
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
    allocatedBytes: s.sizeBytes,
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

describe('LogWriter preallocation', () => {
  /** sizesAfterEachAppend appends txns one at a time and returns the segment file's size after each. */
  async function sizesAfterEachAppend(fs: StorageFs, writer: LogWriter, from: number, to: number) {
    const sizes: number[] = []
    for (const txn of txns(from, to)) {
      await writer.append([txn])
      const newest = writer.segmentNames.at(-1)!
      sizes.push((await fs.stat(`${LOG}/${newest}`))!.size)
    }
    return sizes
  }

  function segmentWrites(fs: MemoryStorageFs) {
    return fs.ops.filter(
      (op): op is Extract<typeof op, { kind: 'write' }> =>
        op.kind === 'write' && op.path.startsWith(`${LOG}/log.`) && !op.path.endsWith('.tmp'),
    )
  }

  it('extends the newest segment with zeros ahead of the data, so appends land inside it and the file does not grow per append', async () => {
    const { fs, writer } = await memoryLog({ segmentBytesMax: 1 << 20, preallocateBytes: 4096 })
    const recordBytes = encodeRecord(txnAt(makeZxid(1, 1))).length
    const sizes = await sizesAfterEachAppend(fs, writer, 1, 60)
    expect(sizes[0]).toBe(SEGMENT_HEADER_BYTES + recordBytes + 4096)
    // 60 records of ~100 bytes pass the first 4 KiB once: two sizes in all, not sixty.
    expect(new Set(sizes).size).toBe(2)
    const extending = segmentWrites(fs).filter((op) => op.bytes.length > 4096)
    expect(extending.length).toBe(2)
    for (const op of extending) expect(op.bytes.subarray(-4096).every((b) => b === 0)).toBe(true)
    const scan = await scanLog(fs, LOG, 0n, 0n)
    expect(scan.txns).toEqual(txns(1, 60))
    expect(scan.tornTail).toBeUndefined()
    expect(scan.damage).toBeUndefined()
    const segment = scan.segments[0]!
    expect(segment.sizeBytes).toBe(sizes.at(-1))
    expect(segment.sizeBytes).toBeGreaterThan(segment.validBytes)
    const bytes = await fs.readFile(`${LOG}/${segment.name}`)
    expect(bytes.subarray(segment.validBytes).every((b) => b === 0)).toBe(true)
  })

  it('grows the file with every append when preallocateBytes is 0', async () => {
    const { fs, writer } = await memoryLog({ segmentBytesMax: 1 << 20, preallocateBytes: 0 })
    const sizes = await sizesAfterEachAppend(fs, writer, 1, 10)
    expect(new Set(sizes).size).toBe(10)
    const scan = await scanLog(fs, LOG, 0n, 0n)
    expect(scan.segments[0]!.sizeBytes).toBe(scan.segments[0]!.validBytes)
  })

  it('never allocates past segmentBytesMax, and a roll first cuts the old segment to its data end, durably', async () => {
    const { fs, writer } = await memoryLog({ segmentBytesMax: 400, preallocateBytes: 4096 })
    const sizes = await sizesAfterEachAppend(fs, writer, 1, 30)
    for (const size of sizes) expect(size).toBeLessThanOrEqual(400)
    const scan = await scanLog(fs, LOG, 0n, 0n)
    expect(scan.segments.length).toBeGreaterThan(3)
    expect(scan.txns).toEqual(txns(1, 30))
    for (const segment of scan.segments.slice(0, -1))
      expect(segment.sizeBytes, segment.name).toBe(segment.validBytes)
    expect(scan.segments.at(-1)!.sizeBytes).toBe(400)
    // Each new segment's temp file is created only after the previous segment's cut was fdatasynced.
    for (const segment of scan.segments.slice(1)) {
      const previous = scan.segments[scan.segments.indexOf(segment) - 1]!
      const created = fs.ops.findIndex(
        (op) => op.kind === 'create' && op.path.startsWith(`${LOG}/${segment.name}`),
      )
      const cut = fs.ops.findIndex(
        (op) =>
          op.kind === 'truncate' && op.path === previous.path && op.size === previous.validBytes,
      )
      const synced = fs.ops.findIndex(
        (op, i) => i > cut && op.kind === 'fdatasync' && op.path === previous.path,
      )
      expect(cut, segment.name).toBeGreaterThanOrEqual(0)
      expect(synced).toBeGreaterThan(cut)
      expect(created).toBeGreaterThan(synced)
    }
  })

  it('restarts from a preallocated segment with exactly the appended txns and keeps appending inside its allocation', async () => {
    const fs = new MemoryStorageFs()
    const options = { fs, segmentBytesMax: 1 << 20, preallocateBytes: 8192 }
    const first = await FileStorage.open('/data', { ...options, createIfMissing: true })
    for (const txn of txns(1, 20)) await first.storage.append([txn])
    await first.storage.close()
    const segment = `${LOG}/log.${makeZxid(1, 1).toString(16).padStart(16, '0')}`
    const allocated = (await fs.stat(segment))!.size
    const second = await FileStorage.open('/data', options)
    expect(second.recovered.txns).toEqual(txns(1, 20))
    expect(second.recovered.cutTail).toBeUndefined()
    expect(second.recovered.warnings).toEqual([])
    expect((await fs.stat(segment))!.size).toBe(allocated) // nothing cut at startup
    const dataEnd = (await scanLog(fs, LOG, 0n, 0n)).segments[0]!.validBytes
    const writesBefore = segmentWrites(fs).length
    for (const txn of txns(21, 30)) await second.storage.append([txn])
    // The writer knew the allocation: each record went to the data end, inside the file, without zeros.
    expect((await fs.stat(segment))!.size).toBe(allocated)
    const written = segmentWrites(fs).slice(writesBefore)
    expect(written.map((op) => op.bytes.length)).toEqual(
      txns(21, 30).map((txn) => encodeRecord(txn).length),
    )
    expect(written[0]!.position).toBe(dataEnd)
    await second.storage.close()
    const third = await FileStorage.open('/data', options)
    expect(third.recovered.txns).toEqual(txns(1, 30))
    expect(third.recovered.cutTail).toBeUndefined()
    await third.storage.close()
  })

  it('truncateAfter inside a preallocated segment cuts records and zeros, and appends then allocate again', async () => {
    const { fs, writer } = await memoryLog({ segmentBytesMax: 1 << 20, preallocateBytes: 4096 })
    for (const txn of txns(1, 10)) await writer.append([txn])
    const path = `${LOG}/${writer.segmentNames[0]}`
    const allocated = (await fs.stat(path))!.size
    await writer.truncateAfter(makeZxid(1, 10)) // nothing above: the allocation stays
    expect((await fs.stat(path))!.size).toBe(allocated)
    await writer.truncateAfter(makeZxid(1, 6))
    let scan = await scanLog(fs, LOG, 0n, 0n)
    expect(scan.txns).toEqual(txns(1, 6))
    expect(scan.segments[0]!.sizeBytes).toBe(scan.segments[0]!.validBytes)
    await writer.append([txnAt(makeZxid(2, 1), 'new history')])
    scan = await scanLog(fs, LOG, 0n, 0n)
    expect(scan.txns.map((t) => t.zxid)).toEqual([...txns(1, 6).map((t) => t.zxid), makeZxid(2, 1)])
    expect(scan.tornTail).toBeUndefined()
    expect(scan.segments[0]!.sizeBytes).toBe(scan.segments[0]!.validBytes + 4096)
  })

  it('reset drops a preallocated log; the next append starts a fresh segment with its own allocation', async () => {
    const { fs, writer } = await memoryLog({ segmentBytesMax: 1 << 20, preallocateBytes: 4096 })
    for (const txn of txns(1, 10)) await writer.append([txn])
    await writer.reset(makeZxid(1, 50), makeZxid(1, 50))
    await writer.append(txns(51, 52))
    const scan = await scanLog(fs, LOG, makeZxid(1, 50), makeZxid(1, 50))
    expect(writer.segmentNames.length).toBe(1)
    expect(scan.txns).toEqual(txns(51, 52))
    expect(scan.tornTail).toBeUndefined()
    expect(scan.segments[0]!.sizeBytes).toBe(scan.segments[0]!.validBytes + 4096)
  })

  it('on the real disk, appends inside the allocation leave the file size unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-prealloc-'))
    try {
      mkdirSync(join(dir, 'log'))
      const fs = new NodeStorageFs()
      const logDir = join(dir, 'log')
      const writer = new LogWriter(fs, logDir, [], 0n, 0n, {
        segmentBytesMax: 1 << 20,
        preallocateBytes: 64 * 1024,
      })
      const sizes: number[] = []
      for (const txn of txns(1, 20)) {
        await writer.append([txn])
        sizes.push((await fs.stat(join(logDir, writer.segmentNames[0]!)))!.size)
      }
      await writer.close()
      expect(new Set(sizes).size).toBe(1)
      const scan = await scanLog(fs, logDir, 0n, 0n)
      expect(scan.txns).toEqual(txns(1, 20))
      expect(scan.tornTail).toBeUndefined()
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

  it('cuts a torn last record at the end of the file, reporting the offset', async () => {
    const { fs, scan } = await writtenLog(5)
    const path = scan.segments[0]!.path
    const dataEnd = scan.segments[0]!.validBytes
    const lastStart = dataEnd - encodeRecord(txns(5, 5)[0]!).length
    const torn = damaged(fs, path, (b) => b.slice(0, dataEnd - 3))
    const tornScan = await scanLog(torn, LOG, 0n, 0n)
    expect(tornScan.damage).toBeUndefined()
    expect(tornScan.txns.length).toBe(4)
    expect(tornScan.tornTail).toMatchObject({ file: path, offset: lastStart })
  })

  it('reads an all-zero tail after the last record of the newest segment as a clean end', async () => {
    const { fs, scan } = await writtenLog(5)
    const path = scan.segments[0]!.path
    const dataEnd = scan.segments[0]!.validBytes
    const zeroed = damaged(fs, path, (b) => {
      const out = new Uint8Array(b.length + 512)
      out.set(b)
      return out
    })
    const zeroScan = await scanLog(zeroed, LOG, 0n, 0n)
    expect(zeroScan.txns.length).toBe(5)
    expect(zeroScan.tornTail).toBeUndefined()
    expect(zeroScan.damage).toBeUndefined()
    expect(zeroScan.segments[0]!.validBytes).toBe(dataEnd)
    expect(zeroScan.segments[0]!.sizeBytes).toBeGreaterThanOrEqual(dataEnd + 512)
  })

  it('cuts a torn record followed by zeros (a tear inside preallocated space) as a torn tail', async () => {
    const { fs, scan } = await writtenLog(5)
    const path = scan.segments[0]!.path
    const { validBytes: dataEnd, sizeBytes: fileSize } = scan.segments[0]!
    expect(fileSize).toBeGreaterThan(dataEnd) // preallocated
    const lastStart = dataEnd - encodeRecord(txns(5, 5)[0]!).length
    for (const zeroFrom of [lastStart + 4, lastStart + 9, dataEnd - 1]) {
      const torn = damaged(fs, path, (b) => {
        b.fill(0, zeroFrom, dataEnd)
        return b
      })
      const tornScan = await scanLog(torn, LOG, 0n, 0n)
      expect(tornScan.damage, `zeros from ${zeroFrom}`).toBeUndefined()
      expect(tornScan.txns.length).toBe(4)
      expect(tornScan.tornTail).toMatchObject({
        file: path,
        offset: lastStart,
        bytesCut: fileSize - lastStart,
      })
    }
  })

  it('refuses a zero tail in a segment that is not the last (a roll cuts it first)', async () => {
    const { fs, scan } = await writtenLog(30, 400)
    const first = scan.segments[0]!
    const padded = damaged(fs, first.path, (b) => {
      const out = new Uint8Array(b.length + 64)
      out.set(b)
      return out
    })
    const badScan = await scanLog(padded, LOG, 0n, 0n)
    expect(badScan.damage).toMatchObject({ code: 'CORRUPT_LOG', file: first.path })
  })

  it("a long zero tail (64 MiB) reads as the log's clean end, or as a torn tail after a torn record", async () => {
    const { fs, scan } = await writtenLog(5)
    const path = scan.segments[0]!.path
    const dataEnd = scan.segments[0]!.validBytes
    const long = (b: Uint8Array) => {
      const out = new Uint8Array(64 * 1024 * 1024)
      out.set(b.subarray(0, dataEnd))
      return out
    }
    const clean = damaged(fs, path, long)
    const tornThenZeros = damaged(fs, path, (b) => long(b).fill(0, dataEnd - 3, dataEnd))
    const cleanScan = await scanLog(clean, LOG, 0n, 0n)
    const tornScan = await scanLog(tornThenZeros, LOG, 0n, 0n)
    expect(cleanScan.tornTail).toBeUndefined()
    expect(cleanScan.txns.length).toBe(5)
    expect(tornScan.tornTail).toBeDefined()
    expect(tornScan.txns.length).toBe(4)
  })

  it('zeroTailStart finds where the trailing zeros begin, across 64 KiB block edges', () => {
    const BLOCK = 64 * 1024
    const bytes = new Uint8Array(3 * BLOCK + 100)
    expect(zeroTailStart(bytes, 0)).toBe(0) // all zeros
    expect(zeroTailStart(bytes, 500)).toBe(500) // never before `from`
    for (const last of [0, 7, BLOCK - 1, BLOCK, 2 * BLOCK + 99, bytes.length - 1]) {
      const probe = bytes.slice()
      probe[last] = 1
      expect(zeroTailStart(probe, 0)).toBe(last + 1)
      // Zeros earlier in the data do not end the search early.
      probe[3] = 9
      expect(zeroTailStart(probe, 0)).toBe(Math.max(last, 3) + 1)
    }
    const full = new Uint8Array(BLOCK).fill(5)
    expect(zeroTailStart(full, 0)).toBe(BLOCK) // no zero tail at all
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
