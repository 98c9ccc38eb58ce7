/**
 * Stored node hashes (snapshot format 3; 4 with a log tail): a snapshot file carries
 * each node's digest hash in compact tuple records, recovery streams the records into
 * a DataTreeLoader and takes the stored hashes instead of recomputing them, and the
 * rebuilt tree equals the original (content and digest). A stored hash is covered by
 * the frame checksum, and a sample is recomputed, so a hash that disagrees with its
 * record is refused there. Old files (format 1: map records, no hashes) still load,
 * recomputing every hash, and a `hash` in such a record is never trusted.
 * Method: write files on the in-memory disk, patch or hand-build their bytes.
 */
import { crc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { decodeMessage, encodeMessage } from '../../../protocol/codec.js'
import { FileStorage } from '../../../server/storage/file-storage.js'
import { MemoryStorageFs, type DiskImage } from '../../../server/storage/memory-fs.js'
import {
  restoreStandalone,
  snapshotRequestOf,
  treeLoading,
} from '../../../server/storage/restore.js'
import {
  decodeSnapshot,
  snapshotName,
  writeSnapshotFile,
  type SnapshotContent,
} from '../../../server/storage/snapshot-file.js'
import { DataTree, DataTreeLoader } from '../../../server/tree/data-tree.js'
import { nodeHash } from '../../../server/tree/digest.js'
import type { ZNode } from '../../../server/tree/znode.js'
import { content } from '../requests/builder-kit.js'
import { SESSION_OPTIONS, Workload } from '../../storage/workload.js'

const DIR = '/data'
const SNAP = `${DIR}/snap`
const HEADER_BYTES = 28
const NODES_KIND = 2

/** written snapshots a workload's tree (format 3) and returns the file's bytes. */
async function written(work: Workload) {
  const fs = new MemoryStorageFs()
  await fs.mkdir(DIR)
  await fs.mkdir(SNAP)
  const request = snapshotRequestOf(work.tree, work.sessions)
  await writeSnapshotFile(fs, SNAP, { ...request, resetZxid: 0n }, { recordsPerChunk: 5 })
  const bytes = await fs.readFile(`${SNAP}/${snapshotName(request.zxid)}`)
  return { bytes, zxid: request.zxid }
}

function workload(): Workload {
  const work = new Workload(4, 3)
  work.take(60)
  return work
}

/** frames splits a snapshot file into its frames: offset, kind and decoded payload. */
function frames(
  bytes: Uint8Array,
): { offset: number; end: number; kind: number; value: unknown }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out = []
  for (let offset = HEADER_BYTES; offset < bytes.length;) {
    const end = offset + 9 + view.getUint32(offset)
    const decoded = decodeMessage(bytes.subarray(offset + 9, end))
    if (!decoded.ok) throw decoded.error
    out.push({ offset, end, kind: bytes[offset + 8]!, value: decoded.value })
    offset = end
  }
  return out
}

function frameBytes(kind: number, value: unknown): Uint8Array {
  const payload = encodeMessage(value)
  const bytes = new Uint8Array(9 + payload.length)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, payload.length)
  bytes[8] = kind
  bytes.set(payload, 9)
  view.setUint32(4, crc32(bytes.subarray(8)))
  return bytes
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

/**
 * withTreeRecord rewrites the `index`th tree record of a file with `change` and
 * re-frames it with a correct checksum: damage the checksum cannot see.
 */
function withTreeRecord(
  bytes: Uint8Array,
  index: number,
  change: (tuple: unknown[]) => void,
): Uint8Array {
  let seen = 0
  const parts = [bytes.subarray(0, HEADER_BYTES)]
  for (const f of frames(bytes)) {
    const records = f.value as unknown[][]
    if (f.kind === NODES_KIND && index >= seen && index < seen + records.length) {
      change(records[index - seen]!)
      parts.push(frameBytes(f.kind, records))
    } else {
      parts.push(bytes.subarray(f.offset, f.end))
    }
    if (f.kind === NODES_KIND) seen += records.length
  }
  return concat(parts)
}

/** versionOneFile builds a format-1 file (map records, no hashes) of a tree, as servers before format 3 wrote it. */
function versionOneFile(tree: DataTree, zxid: bigint, extra: Record<string, unknown> = {}) {
  const header = new Uint8Array(HEADER_BYTES)
  const view = new DataView(header.buffer)
  view.setUint32(0, 0x434e_534e)
  view.setUint32(4, 1)
  view.setBigUint64(8, zxid)
  view.setBigUint64(16, 0n)
  view.setUint32(24, crc32(header.subarray(0, 24)))
  const records = [...tree.snapshotEntries()].map((r) => ({ ...r, ...extra }))
  return concat([
    header,
    frameBytes(NODES_KIND, records),
    frameBytes(3, { sessions: 0, nodes: records.length, fuzzyThroughZxid: zxid }),
  ])
}

/** twoSnapshots writes a log and two snapshots of a workload, and returns the disk image. */
async function twoSnapshots() {
  const fs = new MemoryStorageFs()
  const { storage } = await FileStorage.open(DIR, { fs, createIfMissing: true })
  const work = new Workload(4, 3)
  await storage.append(work.take(30))
  const older = await storage.snapshot(snapshotRequestOf(work.tree, work.sessions))
  await storage.append(work.take(30))
  const newest = await storage.snapshot(snapshotRequestOf(work.tree, work.sessions))
  await storage.close()
  return { work, older, newest, image: fs.image() }
}

/** recoveredFrom opens a disk image as a member does, the tree built while the snapshot is read. */
async function recoveredFrom(image: DiskImage) {
  const { storage, recovered } = await FileStorage.open(DIR, {
    fs: new MemoryStorageFs(image),
    ...treeLoading,
  })
  await storage.close()
  return recovered
}

function loaded(bytes: Uint8Array, zxid: bigint): SnapshotContent & { loaded?: unknown } {
  const decoded = decodeSnapshot(bytes, zxid, new DataTreeLoader())
  if ('problem' in decoded) throw new Error(decoded.problem)
  return decoded
}

describe('stored node hashes', () => {
  it('a format-3 file carries every node hash and rebuilds an equal tree, streamed or not', async () => {
    const work = workload()
    const { bytes, zxid } = await written(work)
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(4)).toBe(3)
    const decoded = decodeSnapshot(bytes, zxid)
    if ('problem' in decoded) throw new Error(decoded.problem)
    expect(decoded.nodes.length).toBe(work.tree.nodeCount)
    for (const record of decoded.nodes) {
      const node = work.tree.getNode(record.path) as ZNode
      expect(record.hash).toBe(nodeHash(record.path, node))
    }
    const streamed = loaded(bytes, zxid)
    expect(streamed.nodes).toEqual([])
    expect(streamed.nodeCount).toBe(work.tree.nodeCount)
    const tree = streamed.loaded as DataTree
    expect(tree.digest()).toBe(work.tree.digest())
    expect(content(tree)).toEqual(content(work.tree))
    expect(DataTree.fromSnapshot(decoded.nodes, zxid).digest()).toBe(work.tree.digest())
  })

  it('records built straight from the tree (snapshotWith) are byte for byte those built from SnapshotNode copies', async () => {
    const work = workload()
    const viaTuples = await written(work)
    const fs = new MemoryStorageFs()
    await fs.mkdir(DIR)
    await fs.mkdir(SNAP)
    const request = {
      ...snapshotRequestOf(work.tree, work.sessions),
      nodes: { [Symbol.iterator]: () => work.tree.snapshotEntries({ hashes: true }) },
    }
    await writeSnapshotFile(fs, SNAP, { ...request, resetZxid: 0n }, { recordsPerChunk: 5 })
    const viaRecords = await fs.readFile(`${SNAP}/${snapshotName(request.zxid)}`)
    expect(frames(viaTuples.bytes).filter((f) => f.kind === NODES_KIND).length).toBeGreaterThan(1)
    expect(Buffer.from(viaTuples.bytes).equals(Buffer.from(viaRecords))).toBe(true)
  })

  it('recovery takes the stored hashes instead of recomputing them', async () => {
    const work = workload()
    const { bytes, zxid } = await written(work)
    // Record 1 is not in the recomputed sample (every 64th, from the first).
    let stored = 0n
    const patched = withTreeRecord(bytes, 1, (tuple) => {
      stored = tuple[14] as bigint
      tuple[14] = (stored + 1n) & ((1n << 64n) - 1n)
    })
    const tree = loaded(patched, zxid).loaded as DataTree
    // The digest moved by exactly the change: the stored value was used as is.
    expect(tree.digest()).toBe((work.tree.digest() + 1n) & ((1n << 64n) - 1n))
  })

  it('refuses a stored hash that disagrees with its record where it recomputes one', async () => {
    const work = workload()
    const { bytes, zxid } = await written(work)
    const patched = withTreeRecord(bytes, 0, (tuple) => {
      tuple[14] = (tuple[14] as bigint) ^ 1n
    })
    expect(decodeSnapshot(patched, zxid, new DataTreeLoader())).toMatchObject({
      problem: expect.stringMatching(/stored hash differs from its content/),
    })
  })

  it('a damaged stored hash fails the frame checksum, and recovery falls back to an older snapshot', async () => {
    const { work, older, newest, image } = await twoSnapshots()
    const bytes = image.files.get(newest.file)!
    // Flip one bit of the stored hash of the first tree record, without fixing the checksum.
    const nodesFrame = frames(bytes).find((f) => f.kind === NODES_KIND)!
    const tuple = (nodesFrame.value as unknown[][])[0]!
    const hashBytes = encodeMessage(tuple[14])
    const at = Buffer.from(bytes).indexOf(Buffer.from(hashBytes), nodesFrame.offset)
    expect(at).toBeGreaterThan(nodesFrame.offset)
    bytes[at + hashBytes.length - 1]! ^= 1
    expect(decodeSnapshot(bytes, newest.zxid)).toMatchObject({
      problem: 'frame checksum mismatch',
    })
    const recovered = await recoveredFrom(image)
    expect(recovered.snapshot?.zxid).toBe(older.zxid)
    expect(recovered.warnings.join(' ')).toContain(newest.file)
    expect(restoreStandalone(recovered, SESSION_OPTIONS).tree.digest()).toBe(work.tree.digest())
  })

  it('a snapshot whose records do not make a tree is skipped for an older one', async () => {
    const { work, older, newest, image } = await twoSnapshots()
    // The root's record names a child path instead: a valid frame whose records are no tree.
    image.files.set(
      newest.file,
      withTreeRecord(image.files.get(newest.file)!, 0, (tuple) => (tuple[0] = '/nowhere/x')),
    )
    const recovered = await recoveredFrom(image)
    expect(recovered.snapshot?.zxid).toBe(older.zxid)
    expect(recovered.warnings.join(' ')).toMatch(/before its parent/)
    expect(restoreStandalone(recovered, SESSION_OPTIONS).tree.digest()).toBe(work.tree.digest())
  })
})

describe('snapshots written before stored hashes (format 1)', () => {
  it('still load, streamed or not, recomputing every hash', async () => {
    const work = workload()
    const zxid = work.tree.appliedZxid
    const bytes = versionOneFile(work.tree, zxid)
    expect(loaded(bytes, zxid).loaded).toBeInstanceOf(DataTree)
    expect((loaded(bytes, zxid).loaded as DataTree).digest()).toBe(work.tree.digest())
    const decoded = decodeSnapshot(bytes, zxid)
    if ('problem' in decoded) throw new Error(decoded.problem)
    expect(DataTree.fromSnapshot(decoded.nodes, zxid).digest()).toBe(work.tree.digest())
  })

  it('never trust a hash found in their records', async () => {
    const work = workload()
    const zxid = work.tree.appliedZxid
    const bytes = versionOneFile(work.tree, zxid, { hash: 12345n })
    expect((loaded(bytes, zxid).loaded as DataTree).digest()).toBe(work.tree.digest())
    const decoded = decodeSnapshot(bytes, zxid)
    if ('problem' in decoded) throw new Error(decoded.problem)
    expect(DataTree.fromSnapshot(decoded.nodes, zxid).digest()).toBe(work.tree.digest())
  })

  it('load through FileStorage.open with the tree loader, and the next snapshot is format 3', async () => {
    const work = workload()
    const written = new MemoryStorageFs()
    const { storage } = await FileStorage.open(DIR, { fs: written, createIfMissing: true })
    await storage.append(work.txns)
    await storage.close()
    const zxid = work.tree.appliedZxid
    const image = written.image()
    image.files.set(`${SNAP}/${snapshotName(zxid)}`, versionOneFile(work.tree, zxid))
    const fs = new MemoryStorageFs(image)
    const reopened = await FileStorage.open(DIR, { fs, ...treeLoading })
    expect(reopened.recovered.snapshot?.zxid).toBe(zxid)
    const state = restoreStandalone(reopened.recovered, SESSION_OPTIONS)
    expect(state.tree.digest()).toBe(work.tree.digest())
    work.take(5).forEach((txn) => state.tree.apply(txn))
    await reopened.storage.append(work.txns.slice(-5))
    const next = await reopened.storage.snapshot(snapshotRequestOf(state.tree, state.sessions))
    await reopened.storage.close()
    const bytes = await fs.readFile(next.file)
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(4)).toBe(3)
    expect((loaded(bytes, next.zxid).loaded as DataTree).digest()).toBe(work.tree.digest())
  })
})
