/**
 * The crash model: from a recorded trace of file operations (MemoryStorageFs.ops),
 * build the disk states a real file system could be left in by a crash after any
 * prefix of the trace (reliability-testing.md §5, after ALICE):
 * - data written since a file's last fdatasync may be lost, reordered or torn at any
 *   byte (cut short, or zero-filled past the tear);
 * - directory changes (create, rename, unlink) since the directory's last fsync may be
 *   lost.
 * Files are tracked by inode, so content survives renames as on POSIX.
 */
import { crc32 } from 'node:zlib'
import { resize, writeAt, type DiskImage, type FsOp } from '../../server/storage/memory-fs.js'

type DataOp = Extract<FsOp, { kind: 'write' | 'truncate' }>
type DirOp = Extract<FsOp, { kind: 'create' | 'rename' | 'unlink' }>

/** CrashVariant names how a crash image was derived from a prefix. */
export type CrashVariant =
  | { kind: 'everything' }
  | { kind: 'syncedOnly' }
  | { kind: 'unsyncedDataLost' }
  | { kind: 'unsyncedDirOpsLost' }
  | { kind: 'lastRenameLost' }
  | { kind: 'earliestUnsyncedWriteDropped' }
  | { kind: 'lastWriteTorn'; keepBytes: number; zeroFill: boolean }

/** PrefixState is the durable and pending state after a prefix of the trace. */
interface PrefixState {
  dirs: Set<string>
  durableEntries: Map<string, number>
  pendingDirOps: DirOp[]
  durableContent: Map<number, Uint8Array>
  pendingData: Map<number, DataOp[]>
  lastWrite: Extract<FsOp, { kind: 'write' }> | undefined
}

function dirOf(path: string): string {
  const at = path.lastIndexOf('/')
  return at <= 0 ? '/' : path.slice(0, at)
}

/** replayPrefix computes the state after `ops[0..length)` starting from `initial`. */
function replayPrefix(initial: DiskImage, ops: readonly FsOp[], length: number): PrefixState {
  const state: PrefixState = {
    dirs: new Set(initial.dirs),
    durableEntries: new Map(),
    pendingDirOps: [],
    durableContent: new Map(),
    pendingData: new Map(),
    lastWrite: undefined,
  }
  let inode = -1
  for (const [path, content] of initial.files) {
    state.durableEntries.set(path, inode)
    state.durableContent.set(inode--, content)
  }
  for (const op of ops.slice(0, length)) {
    switch (op.kind) {
      case 'mkdir':
        state.dirs.add(op.dir)
        break
      case 'create':
        state.durableContent.set(op.inode, new Uint8Array(0))
        state.pendingDirOps.push(op)
        break
      case 'rename':
      case 'unlink':
        state.pendingDirOps.push(op)
        break
      case 'write':
        state.lastWrite = op
        state.pendingData.set(op.inode, [...(state.pendingData.get(op.inode) ?? []), op])
        break
      case 'truncate':
        state.pendingData.set(op.inode, [...(state.pendingData.get(op.inode) ?? []), op])
        break
      case 'fdatasync':
        state.durableContent.set(
          op.inode,
          applyData(state.durableContent.get(op.inode)!, state.pendingData.get(op.inode) ?? []),
        )
        state.pendingData.delete(op.inode)
        if (state.lastWrite?.inode === op.inode) state.lastWrite = undefined
        break
      case 'fsyncDir': {
        const [synced, rest] = partition(state.pendingDirOps, (d) => touchesDir(d, op.dir))
        state.pendingDirOps = rest
        applyDirOps(state.durableEntries, synced, (create) => create.inode)
        break
      }
    }
  }
  return state
}

function partition<T>(items: T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((item) => !test(item))]
}

function touchesDir(op: DirOp, dir: string): boolean {
  return op.kind === 'rename'
    ? dirOf(op.from) === dir || dirOf(op.to) === dir
    : dirOf(op.path) === dir
}

function applyData(content: Uint8Array, ops: readonly DataOp[]): Uint8Array {
  let out = content
  for (const op of ops)
    out = op.kind === 'write' ? writeAt(out, op.bytes, op.position) : resize(out, op.size)
  return out
}

function applyDirOps(
  entries: Map<string, number>,
  ops: readonly DirOp[],
  inodeOfCreate: (op: DirOp & { kind: 'create' }) => number,
): void {
  for (const op of ops) {
    if (op.kind === 'create') entries.set(op.path, inodeOfCreate(op))
    else if (op.kind === 'unlink') entries.delete(op.path)
    else {
      const inode = entries.get(op.from)
      // A rename whose source never became durable cannot land either.
      if (inode === undefined) continue
      entries.delete(op.from)
      entries.set(op.to, inode)
    }
  }
}

/** buildImage derives one crash image from a prefix state and a variant. */
function buildImage(state: PrefixState, variant: CrashVariant): DiskImage {
  const entries = new Map(state.durableEntries)
  let dirOps = state.pendingDirOps
  if (variant.kind === 'syncedOnly' || variant.kind === 'unsyncedDirOpsLost') dirOps = []
  if (variant.kind === 'lastRenameLost') {
    const last = dirOps.findLastIndex((op) => op.kind === 'rename')
    dirOps = dirOps.filter((_, i) => i !== last)
  }
  applyDirOps(entries, dirOps, (op) => op.inode)
  const files = new Map<string, Uint8Array>()
  for (const [path, inode] of entries) {
    const durable = state.durableContent.get(inode) ?? new Uint8Array(0)
    files.set(
      path,
      contentAfterCrash(durable, state.pendingData.get(inode) ?? [], variant, state.lastWrite),
    )
  }
  return { dirs: new Set(state.dirs), files }
}

function contentAfterCrash(
  durable: Uint8Array,
  pending: readonly DataOp[],
  variant: CrashVariant,
  lastWrite: PrefixState['lastWrite'],
): Uint8Array {
  switch (variant.kind) {
    case 'syncedOnly':
    case 'unsyncedDataLost':
      return durable
    case 'earliestUnsyncedWriteDropped': {
      const first = pending.findIndex((op) => op.kind === 'write')
      return applyData(
        durable,
        pending.filter((_, i) => i !== first),
      )
    }
    case 'lastWriteTorn': {
      if (lastWrite === undefined || !pending.includes(lastWrite))
        return applyData(durable, pending)
      const before = applyData(durable, pending.slice(0, pending.indexOf(lastWrite)))
      const kept = lastWrite.bytes.subarray(0, variant.keepBytes)
      const torn = variant.zeroFill
        ? writeAt(
            writeAt(before, new Uint8Array(lastWrite.bytes.length), lastWrite.position),
            kept,
            lastWrite.position,
          )
        : writeAt(before, kept, lastWrite.position)
      return applyData(torn, pending.slice(pending.indexOf(lastWrite) + 1))
    }
    // These lose directory operations at most: file contents keep every pending write.
    case 'everything':
    case 'unsyncedDirOpsLost':
    case 'lastRenameLost':
      return applyData(durable, pending)
  }
}

/** CrashImage is one disk state to recover from. */
export interface CrashImage {
  prefix: number
  variant: CrashVariant
  image: DiskImage
}

/**
 * crashImages yields, for every prefix length 0..ops.length, the distinct images of
 * the fixed variants plus `tornSamples(lastWriteLength)` tears of the last unsynced
 * write. Identical images with the same `expectation(prefix)` (what recovery must
 * then hold, e.g. the newest acknowledged zxid) are yielded once.
 */
export function* crashImages(
  initial: DiskImage,
  ops: readonly FsOp[],
  tornSamples: (length: number) => number[],
  expectation: (prefix: number) => string,
): Generator<CrashImage> {
  const seen = new Set<string>()
  for (let prefix = 0; prefix <= ops.length; prefix++) {
    const state = replayPrefix(initial, ops, prefix)
    const variants: CrashVariant[] = [
      { kind: 'everything' },
      { kind: 'syncedOnly' },
      { kind: 'unsyncedDataLost' },
      { kind: 'unsyncedDirOpsLost' },
      { kind: 'lastRenameLost' },
      { kind: 'earliestUnsyncedWriteDropped' },
    ]
    if (state.lastWrite !== undefined) {
      for (const keepBytes of tornSamples(state.lastWrite.bytes.length)) {
        variants.push(
          { kind: 'lastWriteTorn', keepBytes, zeroFill: false },
          { kind: 'lastWriteTorn', keepBytes, zeroFill: true },
        )
      }
    }
    for (const variant of variants) {
      const image = buildImage(state, variant)
      const key = `${expectation(prefix)}#${imageKey(image)}`
      if (seen.has(key)) continue
      seen.add(key)
      yield { prefix, variant, image }
    }
  }
}

function imageKey(image: DiskImage): string {
  const parts = [...image.files]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(
      ([path, content]) => `${path}:${content.length}:${content.length === 0 ? 0 : crc32(content)}`,
    )
  return parts.join('|')
}
