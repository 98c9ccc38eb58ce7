/**
 * The data directory's identity and layout: `CONCLAVE_DATA` (a marker naming the
 * format), `epochs`, `log/` and `snap/`. A directory without the marker is adopted
 * only when it is empty, so pointing `--data` at the wrong place (a home directory,
 * another program's data) is refused instead of filled with Conclave files.
 */
import { LOCK_FILE_NAME } from './data-dir-lock.js'
import { describeIoError, ioErrorCode, StorageError, StorageErrorCode } from './errors.js'
import type { StorageFs } from './storage-fs.js'
import { writeFileAtomically } from './atomic-file.js'

/** MARKER_FILE_NAME marks a directory as a Conclave data directory. */
export const MARKER_FILE_NAME = 'CONCLAVE_DATA'
const MARKER_TEXT = 'Conclave data directory, format 1. Do not edit; see docs/operations.md.\n'

/** DataDirLayout is the paths inside a data directory. */
export interface DataDirLayout {
  dataDir: string
  logDir: string
  snapDir: string
}

/** layoutOf returns the paths inside `dataDir`. */
export function layoutOf(dataDir: string): DataDirLayout {
  const base = dataDir.endsWith('/') && dataDir.length > 1 ? dataDir.slice(0, -1) : dataDir
  return { dataDir: base, logDir: `${base}/log`, snapDir: `${base}/snap` }
}

/**
 * prepareDataDir checks that `dataDir` exists (or creates it when `createIfMissing`),
 * is readable and writable, and is empty or already Conclave's; then makes sure its
 * layout exists. Throws MISSING_DATA_DIR, NOT_A_DATA_DIR or UNREADABLE with advice.
 */
export async function prepareDataDir(
  fs: StorageFs,
  dataDir: string,
  createIfMissing: boolean,
): Promise<DataDirLayout> {
  const layout = layoutOf(dataDir)
  const dir = layout.dataDir
  const info = await guard(dir, () => fs.stat(dir))
  if (info === undefined) {
    if (!createIfMissing) {
      throw new StorageError(
        StorageErrorCode.MISSING_DATA_DIR,
        `data directory ${dir} does not exist. Create it (an empty directory) or pass the right --data path.`,
        { file: dir },
      )
    }
    await guard(dir, () => fs.mkdir(dir))
  } else if (!info.isDirectory) {
    throw new StorageError(
      StorageErrorCode.NOT_A_DATA_DIR,
      `data directory ${dir} is a file, not a directory. Pass a directory to --data.`,
      { file: dir },
    )
  }
  await guard(dir, () => fs.checkAccess(dir))
  // A marker still being written is ours: a crash interrupted the first start.
  // So is the lock file the running process just took (data-dir-lock.ts).
  const names = (await guard(dir, () => fs.readdir(dir))).filter(
    (name) => name !== `${MARKER_FILE_NAME}.tmp` && name !== LOCK_FILE_NAME,
  )
  if (!names.includes(MARKER_FILE_NAME)) {
    if (names.length > 0) {
      const sample = names.slice(0, 5).join(', ')
      throw new StorageError(
        StorageErrorCode.NOT_A_DATA_DIR,
        `data directory ${dir} is not empty and is not a Conclave data directory (it holds ${sample}${names.length > 5 ? ', ...' : ''}). ` +
          'Pass an empty directory, or the directory this server used before.',
        { file: dir },
      )
    }
    await guard(dir, () =>
      writeFileAtomically(fs, dir, MARKER_FILE_NAME, [new TextEncoder().encode(MARKER_TEXT)]),
    )
  }
  for (const sub of [layout.logDir, layout.snapDir]) {
    await guard(sub, async () => {
      const existing = await fs.stat(sub)
      if (existing !== undefined && !existing.isDirectory)
        throw new StorageError(
          StorageErrorCode.NOT_A_DATA_DIR,
          `${sub} should be a directory but is a file.`,
          { file: sub },
        )
      if (existing === undefined) {
        await fs.mkdir(sub)
        await fs.fsyncDir(dir)
      }
      await fs.checkAccess(sub)
    })
  }
  return layout
}

/**
 * guard runs a file operation and turns an I/O failure into an UNREADABLE
 * StorageError naming the path; StorageErrors pass through.
 */
export async function guard<T>(path: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    if (err instanceof StorageError) throw err
    const code = ioErrorCode(err)
    const advice =
      code === 'EACCES' || code === 'EPERM'
        ? 'Give the user running the server read and write permission on the data directory and everything in it.'
        : code === 'ENOTDIR'
          ? 'A path inside the data directory is a file where a directory belongs; pass the right --data path.'
          : 'Check the disk and the path, then restart.'
    throw new StorageError(
      StorageErrorCode.UNREADABLE,
      `cannot use ${path}: ${describeIoError(err)}. ${advice}`,
      { file: path, cause: err },
    )
  }
}
