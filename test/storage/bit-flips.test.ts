/**
 * Corruption (issue 4): a single flipped bit must never be trusted. Flips in a segment
 * header refuse the start; flips in the last record either cut it as a torn tail or
 * refuse the start, and never return an altered txn or lose more than that record;
 * flips in the middle of a segment and anywhere in a snapshot are detected (the start
 * is refused, or an older intact snapshot is used), never silently truncated.
 * Method: build a small data directory on the in-memory disk, flip each bit of the
 * regions named above (every bit for headers and records, a stride of bits for
 * snapshots), and open the result.
 */
import { describe, expect, it } from 'vitest'
import { encodeMessage } from '../../protocol/codec.js'
import type { Txn } from '../../protocol/txn.js'
import { FileStorage } from '../../server/storage/file-storage.js'
import { MemoryStorageFs, type DiskImage } from '../../server/storage/memory-fs.js'
import { encodeRecord, SEGMENT_HEADER_BYTES } from '../../server/storage/record.js'
import { restoreStandalone, snapshotRequestOf } from '../../server/storage/restore.js'
import { StorageError } from '../../server/storage/errors.js'
import { SESSION_OPTIONS, Workload } from './workload.js'

const DIR = '/data'
// The newest segment is preallocated (capped at segmentBytesMax), so it ends in zeros.
const OPTIONS = { segmentBytesMax: 4096, recordsPerChunk: 8, preallocateBytes: 1024 }

async function buildDir(snapshotsKept: number, snapshots: number) {
  const fs = new MemoryStorageFs()
  const { storage } = await FileStorage.open(DIR, {
    fs,
    createIfMissing: true,
    snapshotsKept,
    ...OPTIONS,
  })
  const work = new Workload(11)
  for (let i = 0; i < snapshots; i++) {
    await storage.append(work.take(40))
    await storage.snapshot(snapshotRequestOf(work.tree, work.sessions))
  }
  await storage.append(work.take(60))
  await storage.close()
  return { image: fs.image(), txns: work.txns, digest: work.tree.digest() }
}

function flipped(image: DiskImage, path: string, bit: number): DiskImage {
  const files = new Map(image.files)
  const bytes = files.get(path)!.slice()
  bytes[bit >> 3]! ^= 1 << (bit & 7)
  files.set(path, bytes)
  return { dirs: image.dirs, files }
}

async function openImage(image: DiskImage) {
  return FileStorage.open(DIR, { fs: new MemoryStorageFs(image), ...OPTIONS }).then(
    (opened) => ({ ok: true as const, ...opened }),
    (err: unknown) => {
      if (!(err instanceof StorageError)) throw err
      return { ok: false as const, error: err }
    },
  )
}

function segmentPaths(image: DiskImage): string[] {
  return [...image.files.keys()].filter((p) => p.startsWith(`${DIR}/log/log.`)).sort()
}

/** recordOffsets lists [start, end) of each record in a segment, from the txns it holds. */
function recordOffsets(
  bytes: Uint8Array,
  txns: readonly Txn[],
  firstZxid: bigint,
): [number, number][] {
  const out: [number, number][] = []
  let offset = SEGMENT_HEADER_BYTES
  for (const txn of txns.filter((t) => t.zxid >= firstZxid)) {
    if (offset >= bytes.length) break
    const length = encodeRecord(txn).length
    out.push([offset, offset + length])
    offset += length
  }
  return out
}

describe('single-bit flips', () => {
  it('in any segment header refuse the start, naming the file', async () => {
    const { image } = await buildDir(3, 1)
    const segments = segmentPaths(image)
    for (const path of [segments[0]!, segments.at(-1)!]) {
      for (let bit = 0; bit < SEGMENT_HEADER_BYTES * 8; bit++) {
        const result = await openImage(flipped(image, path, bit))
        expect(result.ok, `bit ${bit} of ${path}`).toBe(false)
        if (!result.ok) expect(result.error).toMatchObject({ code: 'CORRUPT_LOG', file: path })
      }
    }
  })

  it('in the last record cut it as a torn tail or refuse, and never change or lose anything else', async () => {
    const { image, txns } = await buildDir(3, 1)
    const last = segmentPaths(image).at(-1)!
    const bytes = image.files.get(last)!
    const firstZxid = BigInt(`0x${last.split('log.').at(-1)}`)
    const [start, end] = recordOffsets(bytes, txns, firstZxid).at(-1)!
    // The last record is followed by the segment's preallocated zeros.
    expect(bytes.length).toBeGreaterThan(end)
    expect(bytes.subarray(end).every((b) => b === 0)).toBe(true)
    let cut = 0
    for (let bit = start * 8; bit < end * 8; bit++) {
      const result = await openImage(flipped(image, last, bit))
      if (!result.ok) continue
      cut++
      const { recovered } = result
      expect(recovered.lastZxid, `bit ${bit}`).toBe(txns.at(-2)!.zxid)
      expect(recovered.cutTail).toMatchObject({ file: last, offset: start })
      expect(encodeMessage(recovered.txns.at(-1))).toEqual(encodeMessage(txns.at(-2)))
    }
    expect(cut).toBeGreaterThan(0)
  })

  it('in the preallocated zero tail cut it from the last record on, losing nothing', async () => {
    const { image, txns } = await buildDir(3, 1)
    const last = segmentPaths(image).at(-1)!
    const bytes = image.files.get(last)!
    const firstZxid = BigInt(`0x${last.split('log.').at(-1)}`)
    const end = recordOffsets(bytes, txns, firstZxid).at(-1)![1]
    for (let bit = end * 8; bit < bytes.length * 8; bit += bit < (end + 32) * 8 ? 1 : 61) {
      const result = await openImage(flipped(image, last, bit))
      expect(result.ok, `bit ${bit}`).toBe(true)
      if (!result.ok) continue
      expect(result.recovered.lastZxid, `bit ${bit}`).toBe(txns.at(-1)!.zxid)
      expect(result.recovered.cutTail).toMatchObject({ file: last, offset: end })
    }
  })

  it('in the middle of a segment are refused with file and offset, in the last segment and in earlier ones', async () => {
    const { image, txns } = await buildDir(3, 1)
    const segments = segmentPaths(image)
    for (const path of [segments[0]!, segments.at(-1)!]) {
      const bytes = image.files.get(path)!
      const records = recordOffsets(bytes, txns, BigInt(`0x${path.split('log.').at(-1)}`))
      expect(records.length).toBeGreaterThan(4)
      const [start, end] = records[Math.floor(records.length / 2)]!
      for (let bit = start * 8; bit < end * 8; bit++) {
        const result = await openImage(flipped(image, path, bit))
        expect(result.ok, `bit ${bit} of ${path}`).toBe(false)
        if (!result.ok) {
          expect(result.error).toMatchObject({ code: 'CORRUPT_LOG', file: path, offset: start })
          expect(result.error.message).toContain(`offset ${start}`)
          expect(result.error.message).toContain('conclave repair')
        }
      }
    }
  })

  it('in the only snapshot refuse the start with CORRUPT_SNAPSHOT', async () => {
    const { image } = await buildDir(1, 1)
    const snap = [...image.files.keys()].find((p) => p.includes('/snap/snapshot.'))!
    const size = image.files.get(snap)!.length
    for (let bit = 0; bit < size * 8; bit += bit < 28 * 8 ? 1 : 13) {
      const result = await openImage(flipped(image, snap, bit))
      expect(result.ok, `bit ${bit}`).toBe(false)
      if (!result.ok) expect(result.error).toMatchObject({ code: 'CORRUPT_SNAPSHOT', file: snap })
    }
  })

  it('in the newest snapshot fall back to an older one and still rebuild the same state', async () => {
    const { image, digest } = await buildDir(3, 2)
    const newest = [...image.files.keys()]
      .filter((p) => p.includes('/snap/snapshot.'))
      .sort()
      .at(-1)!
    const size = image.files.get(newest)!.length
    for (let bit = 3; bit < size * 8; bit += 97) {
      const result = await openImage(flipped(image, newest, bit))
      expect(result.ok, `bit ${bit}`).toBe(true)
      if (!result.ok) continue
      expect(result.recovered.snapshot?.file).not.toBe(newest)
      expect(result.recovered.warnings.join(' ')).toContain(newest)
      expect(restoreStandalone(result.recovered, SESSION_OPTIONS).tree.digest()).toBe(digest)
    }
  })
})
