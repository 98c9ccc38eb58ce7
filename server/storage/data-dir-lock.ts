/**
 * The data directory lock: one process at a time may use a data directory. Two
 * servers (or a server and `conclave repair`) writing one log would corrupt it, and a
 * second server would recover — cutting what it takes for a torn tail — while the
 * first still appends.
 *
 * The lock is a file `lock` in the data directory holding the owner's pid, created
 * exclusively (O_EXCL). A lock left by a process that no longer exists (a crash or
 * kill -9) is taken over. This uses the real file system, not the StorageFs seam: it is
 * about processes, not crash consistency.
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { StorageError, StorageErrorCode } from './errors.js'

/** LOCK_FILE_NAME is the lock file's name inside the data directory. */
export const LOCK_FILE_NAME = 'lock'

/** DataDirLock is a held lock; `release` removes it (idempotent). */
export interface DataDirLock {
  release(): Promise<void>
}

/**
 * acquireDataDirLock takes the lock on `dataDir`, creating the directory when
 * `createIfMissing`. Throws StorageError LOCKED naming the pid that holds it.
 */
export async function acquireDataDirLock(
  dataDir: string,
  options: { createIfMissing: boolean },
): Promise<DataDirLock> {
  if (options.createIfMissing) await mkdir(dataDir, { recursive: true }).catch(() => {})
  const path = join(dataDir, LOCK_FILE_NAME)
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o644)
      await handle.writeFile(`${process.pid}\n`)
      await handle.close()
      let released = false
      return {
        release: async () => {
          if (released) return
          released = true
          await rm(path, { force: true })
        },
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      // No such directory: there is nothing to lock, and the storage layer will say so.
      if (code === 'ENOENT' || code === 'ENOTDIR') return { release: async () => {} }
      if (code !== 'EEXIST')
        throw new StorageError(
          StorageErrorCode.UNREADABLE,
          `cannot create the lock file ${path}: ${(err as Error).message}`,
          { file: path, cause: err },
        )
    }
    const holder = await lockHolder(dataDir)
    if (holder !== undefined) {
      throw new StorageError(
        StorageErrorCode.LOCKED,
        `data directory ${dataDir} is in use by another process (pid ${holder}). Stop it first: two servers must never share a data directory. (If no such process is a Conclave server, delete ${path}.)`,
        { file: path },
      )
    }
    // A lock left by a process that is gone: take it over.
    await rm(path, { force: true })
  }
  // Another process kept creating the lock as fast as it was taken over.
  throw new StorageError(
    StorageErrorCode.LOCKED,
    `data directory ${dataDir} is being locked by another process; stop it first.`,
    { file: path },
  )
}

/**
 * lockHolder returns the pid of the live process (not this one) holding the lock on
 * `dataDir`, or undefined when none does: no lock file, or one left by a process that
 * is gone. For refusing early, before anything else is touched.
 */
export async function lockHolder(dataDir: string): Promise<number | undefined> {
  const text = await readFile(join(dataDir, LOCK_FILE_NAME), 'utf8').catch(() => '')
  const holder = Number.parseInt(text, 10)
  return Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)
    ? holder
    : undefined
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
