/**
 * Crash images (issue 4, reliability-testing.md §5): every state a crash can leave the
 * data directory in must recover to a state that holds every acknowledged txn, with
 * contiguous zxids and a tree digest equal to replaying the log from scratch.
 *
 * Method: run about 1,000 txns through FileStorage on the recording in-memory disk,
 * with concurrent appends (group commit), segment rolls, fuzzy snapshots written while
 * appends continue, retention purges and epoch writes. Then, for every prefix of the
 * recorded operations, build the images a real disk allows (crash-model.ts: unsynced
 * data lost, reordered or torn at sampled bytes; unsynced directory changes lost) and
 * recover each one. A sample of images is also written to after recovery and
 * recovered again, to check the log continues correctly after a cut tail. Segments are
 * preallocated, so crash points fall inside zero tails, in the middle of the write
 * that extends a segment (records then zeros) and between a roll's cut of the old
 * segment and the new segment's creation.
 */
import { describe, expect, it } from 'vitest'
import type { Txn } from '../../protocol/txn.js'
import { counterOf, type Zxid } from '../../protocol/zxid.js'
import { SessionTable } from '../../server/sessions/session-table.js'
import { FileStorage } from '../../server/storage/file-storage.js'
import { MemoryStorageFs } from '../../server/storage/memory-fs.js'
import { restoreStandalone, snapshotRequestOf } from '../../server/storage/restore.js'
import { DataTree } from '../../server/tree/data-tree.js'
import { crashImages, type CrashImage } from './crash-model.js'
import { mulberry32, SESSION_OPTIONS, Workload } from './workload.js'

const DIR = '/data'
const TXNS = Number(process.env.CRASH_TXNS ?? 1000)
// Preallocation well below the segment size, so each segment is extended with zeros several times.
const PREALLOCATE = 2048
const OPTIONS = {
  segmentBytesMax: 8 * 1024,
  snapshotsKept: 2,
  recordsPerChunk: 16,
  preallocateBytes: PREALLOCATE,
}

interface Recording {
  fs: MemoryStorageFs
  txns: Txn[]
  /** ackedZxidAt[prefix]: the newest zxid acknowledged once `prefix` operations were done. */
  ackedZxidAt: Zxid[]
  ackedEpochAt: number[]
  /** reference[i]: digest and session ids after txns[0..i] (index 0 = empty). */
  reference: { digest: bigint; sessions: string }[]
}

async function record(): Promise<Recording> {
  const fs = new MemoryStorageFs()
  const { storage } = await FileStorage.open(DIR, { fs, createIfMissing: true, ...OPTIONS })
  const gen = new Workload(42)
  const random = mulberry32(7)
  const tree = new DataTree()
  const sessions = new SessionTable(SESSION_OPTIONS)
  const acks: { op: number; zxid: Zxid }[] = []
  const epochAcks: { op: number; epoch: number }[] = []
  let snapshotting: Promise<unknown> | undefined
  let epoch = 0
  let nextSnapshotAt = 100
  while (gen.txns.length < TXNS) {
    const batches = Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
      gen.take(1 + Math.floor(random() * 3)),
    )
    await Promise.all(
      batches.map(async (batch) => {
        await storage.append(batch)
        acks.push({ op: fs.ops.length, zxid: batch.at(-1)!.zxid })
      }),
    )
    // Apply only what is durable, as the server does; a fuzzy snapshot reads this tree.
    for (const txn of batches.flat()) {
      tree.apply(txn)
      sessions.apply(txn)
    }
    const count = gen.txns.length
    // The in-memory disk never yields to the event loop; a real server's I/O does, and a snapshot only progresses then.
    await new Promise((resolve) => setImmediate(resolve))
    if (snapshotting === undefined && count >= nextSnapshotAt) {
      nextSnapshotAt = count + 150
      snapshotting = storage
        .snapshot(snapshotRequestOf(tree, sessions))
        .finally(() => (snapshotting = undefined))
    }
    if (count >= (epoch + 1) * 300) {
      epoch++
      await storage.writeEpochs({ acceptedEpoch: epoch, currentEpoch: epoch })
      epochAcks.push({ op: fs.ops.length, epoch })
    }
  }
  await snapshotting
  await storage.close()
  return {
    fs,
    txns: gen.txns,
    ackedZxidAt: levels(
      fs.ops.length,
      acks.map((a) => [a.op, a.zxid]),
      0n,
    ),
    ackedEpochAt: levels(
      fs.ops.length,
      epochAcks.map((a) => [a.op, a.epoch]),
      0,
    ),
    reference: referenceStates(gen.txns),
  }
}

function levels<T>(length: number, points: [number, T][], zero: T): T[] {
  const out: T[] = []
  let level = zero
  let i = 0
  const sorted = [...points].sort((a, b) => a[0] - b[0])
  for (let prefix = 0; prefix <= length; prefix++) {
    while (i < sorted.length && sorted[i]![0] <= prefix)
      level = sorted[i++]![1] > level ? sorted[i - 1]![1] : level
    out.push(level)
  }
  return out
}

function referenceStates(txns: readonly Txn[]): Recording['reference'] {
  const tree = new DataTree()
  const sessions = new SessionTable(SESSION_OPTIONS)
  const out = [{ digest: tree.digest(), sessions: '' }]
  for (const txn of txns) {
    tree.apply(txn)
    sessions.apply(txn)
    out.push({ digest: tree.digest(), sessions: sessionIds(sessions) })
  }
  return out
}

function sessionIds(sessions: SessionTable): string {
  return sessions
    .all()
    .map((s) => s.id)
    .sort((a, b) => (a < b ? -1 : 1))
    .join(',')
}

function tornSamples(length: number): number[] {
  // Inside each field of a record header, just past it, mid-payload and one byte short;
  // for a write that extends a segment, either side of where its records end and its zeros start.
  const zerosFrom = length - PREALLOCATE
  const points = new Set([
    1,
    6,
    12,
    17,
    Math.floor(length / 2),
    length - 1,
    zerosFrom - 1,
    zerosFrom + 1,
  ])
  return [...points].filter((b) => b > 0 && b < length)
}

async function checkImage(
  recording: Recording,
  crash: CrashImage,
  continueAfter: boolean,
): Promise<string | undefined> {
  const label = `prefix ${crash.prefix}/${recording.fs.ops.length} ${JSON.stringify(crash.variant)}`
  const fs = new MemoryStorageFs(crash.image)
  let opened: Awaited<ReturnType<typeof FileStorage.open>>
  try {
    opened = await FileStorage.open(DIR, { fs, createIfMissing: true, ...OPTIONS })
  } catch (err) {
    return `${label}: recovery refused: ${err instanceof Error ? err.message : String(err)}`
  }
  const { recovered, storage } = opened
  const last = Number(counterOf(recovered.lastZxid))
  const acked = recording.ackedZxidAt[crash.prefix]!
  if (recovered.lastZxid < acked)
    return `${label}: lost acknowledged txns (recovered to ${recovered.lastZxid}, acknowledged ${acked})`
  if (last > recording.txns.length) return `${label}: recovered zxid ${last} was never written`
  const state = restoreStandalone(recovered, SESSION_OPTIONS)
  const expected = recording.reference[last]!
  if (state.tree.digest() !== expected.digest)
    return `${label}: tree digest differs from replaying the log to ${last}`
  if (sessionIds(state.sessions) !== expected.sessions)
    return `${label}: sessions differ from replaying the log to ${last}`
  if (recovered.epochs.acceptedEpoch < recording.ackedEpochAt[crash.prefix]!)
    return `${label}: lost an acknowledged epoch write`
  if (continueAfter && last < recording.txns.length) {
    await storage.append([recording.txns[last]!])
    await storage.close()
    const again = await FileStorage.open(DIR, { fs, ...OPTIONS }).catch((err: unknown) => err)
    if (!('recovered' in (again as object)))
      return `${label}: reopening after a post-recovery append failed: ${String(again)}`
    const { recovered: after, storage: reopened } = again as Awaited<
      ReturnType<typeof FileStorage.open>
    >
    await reopened.close()
    if (after.lastZxid !== recording.txns[last]!.zxid)
      return `${label}: the append after recovery was not found on reopening`
    return undefined
  }
  await storage.close()
  return undefined
}

/** endsInZeros tells whether the newest log segment of an image ends in a preallocated zero tail. */
function endsInZeros(image: CrashImage['image']): boolean {
  const newest = [...image.files.keys()]
    .filter((path) => /\/log\/log\.[0-9a-f]{16}$/.test(path))
    .sort()
    .at(-1)
  const bytes = newest === undefined ? undefined : image.files.get(newest)!
  return bytes !== undefined && bytes.length > 64 && bytes.subarray(-64).every((b) => b === 0)
}

describe('crash images', () => {
  it(
    `recover with every acknowledged txn for every prefix of ~${TXNS} txns' operations`,
    { timeout: 120_000 },
    async () => {
      const recording = await record()
      const ops = recording.fs.ops
      expect(
        ops.filter((op) => op.kind === 'rename' && op.to.includes('/log/log.')).length,
      ).toBeGreaterThan(TXNS / 200) // segment rolls
      expect(
        ops.filter((op) => op.kind === 'rename' && op.to.includes('/snap/snapshot.')).length,
      ).toBeGreaterThan(TXNS / 400)
      expect(
        ops.filter((op) => op.kind === 'unlink' && op.path.includes('/log/log.')).length,
      ).toBeGreaterThan(0) // purges
      const segmentOps = ops.filter((op) => 'path' in op && op.path.includes('/log/log.'))
      const extensions = segmentOps.filter(
        (op) => op.kind === 'write' && op.bytes.subarray(-PREALLOCATE).every((b) => b === 0),
      )
      const rollCuts = segmentOps.filter((op) => op.kind === 'truncate')
      expect(extensions.length).toBeGreaterThan(TXNS / 50) // several per segment
      expect(rollCuts.length).toBeGreaterThan(TXNS / 200) // a cut before every roll
      const failures: string[] = []
      let images = 0
      let zeroTailImages = 0
      let tornExtensionImages = 0
      const initial = { dirs: new Set(['/']), files: new Map<string, Uint8Array>() }
      const expectation = (prefix: number) =>
        `${recording.ackedZxidAt[prefix]}/${recording.ackedEpochAt[prefix]}`
      for (const crash of crashImages(initial, ops, tornSamples, expectation)) {
        images++
        if (endsInZeros(crash.image)) zeroTailImages++
        if (crash.variant.kind === 'lastWriteTorn' && extensions.includes(ops[crash.prefix - 1]!))
          tornExtensionImages++
        const failure = await checkImage(recording, crash, images % 7 === 0)
        if (failure !== undefined) failures.push(failure)
        if (failures.length >= 5) break
      }
      console.info(
        `crash images: ${ops.length} operations, ${images} distinct images recovered, ${zeroTailImages} ending in a zero tail, ${tornExtensionImages} tearing a segment extension`,
      )
      expect(failures).toEqual([])
      expect(images).toBeGreaterThan(ops.length)
      expect(zeroTailImages).toBeGreaterThan(images / 4)
      expect(tornExtensionImages).toBeGreaterThan(extensions.length)
    },
  )
})
