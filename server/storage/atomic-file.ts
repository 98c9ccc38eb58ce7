/**
 * writeFileAtomically: the only way storage creates a file that recovery will trust.
 * The content goes to `<name>.tmp`, is fdatasynced, renamed over `<name>`, and the
 * directory is fsynced, so after a crash the file is either absent (or the old
 * version) or complete; never empty, short or half-renamed (ALICE's classic findings,
 * ZOOKEEPER-1621/2332). Leftover `.tmp` files are deleted by recovery.
 */
import type { StorageFs } from './storage-fs.js'

/** TMP_SUFFIX marks a file still being written; recovery deletes them. */
export const TMP_SUFFIX = '.tmp'

/** writeFileAtomically replaces `dir/name` with `chunks`, durably. */
export async function writeFileAtomically(
  fs: StorageFs,
  dir: string,
  name: string,
  chunks: Iterable<Uint8Array>,
): Promise<void> {
  const tmpPath = `${dir}/${name}${TMP_SUFFIX}`
  if ((await fs.stat(tmpPath)) !== undefined) await fs.unlink(tmpPath)
  const file = await fs.createFile(tmpPath)
  try {
    let position = 0
    for (const chunk of chunks) {
      await file.write(chunk, position)
      position += chunk.length
    }
    await file.fdatasync()
  } catch (err) {
    await file.close().catch(() => {})
    // Give back the blocks of the unfinished copy (it matters when the disk is full).
    await fs.unlink(tmpPath).catch(() => {})
    throw err
  }
  await file.close()
  await fs.rename(tmpPath, `${dir}/${name}`)
  await fs.fsyncDir(dir)
}

/** removeTmpFiles deletes every leftover `.tmp` file of a directory (an interrupted write). */
export async function removeTmpFiles(fs: StorageFs, dir: string): Promise<string[]> {
  const removed: string[] = []
  for (const name of await fs.readdir(dir)) {
    if (!name.endsWith(TMP_SUFFIX)) continue
    await fs.unlink(`${dir}/${name}`)
    removed.push(name)
  }
  if (removed.length > 0) await fs.fsyncDir(dir)
  return removed
}
