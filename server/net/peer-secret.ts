/**
 * Reading the ensemble's shared secret from the file the config names. The checks are
 * ssh's: the file must exist, be a regular file, be readable by its owner only (no
 * group or other permission bits), and hold at least one byte once a trailing newline
 * (what editors and `echo` add) is removed.
 */
import { open } from 'node:fs/promises'
import { SecretFileError } from './peer-errors.js'

/** SECRET_FILE_BYTES_MAX bounds the secret file: a secret is a key, not a document. */
export const SECRET_FILE_BYTES_MAX = 64 * 1024

/** SECRET_SHORT_BYTES is the length below which a secret is weak (callers may warn). */
export const SECRET_SHORT_BYTES = 16

/**
 * readSecretFile reads the shared secret at `path`. It throws a SecretFileError whose
 * code says why the file was refused: SECRET_FILE_MISSING, SECRET_FILE_NOT_A_FILE,
 * SECRET_FILE_PERMISSIONS (mode & 0o077 != 0, as ssh refuses a readable private key),
 * SECRET_FILE_EMPTY, or SECRET_FILE_UNREADABLE. One trailing "\n" or "\r\n" is removed.
 */
export async function readSecretFile(path: string): Promise<Uint8Array> {
  let handle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT')
      throw new SecretFileError('SECRET_FILE_MISSING', path, `secret file ${path} does not exist`, {
        cause: err,
      })
    if (code === 'EISDIR')
      throw new SecretFileError(
        'SECRET_FILE_NOT_A_FILE',
        path,
        `secret file ${path} is a directory; it must be a regular file`,
        { cause: err },
      )
    throw new SecretFileError(
      'SECRET_FILE_UNREADABLE',
      path,
      `secret file ${path} cannot be opened: ${(err as Error).message}`,
      { cause: err },
    )
  }
  try {
    // Check the file we opened (fstat), not the path again, so a swap in between cannot fool us.
    const stat = await handle.stat()
    if (!stat.isFile()) {
      const what = stat.isDirectory() ? 'a directory' : 'not a regular file'
      throw new SecretFileError(
        'SECRET_FILE_NOT_A_FILE',
        path,
        `secret file ${path} is ${what}; it must be a regular file`,
      )
    }
    const loose = stat.mode & 0o077
    if (loose !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(3, '0')
      throw new SecretFileError(
        'SECRET_FILE_PERMISSIONS',
        path,
        `secret file ${path} has mode ${mode}: group and others must have no access (run: chmod 600 ${path})`,
      )
    }
    if (stat.size > SECRET_FILE_BYTES_MAX) {
      throw new SecretFileError(
        'SECRET_FILE_UNREADABLE',
        path,
        `secret file ${path} is ${stat.size} bytes; at most ${SECRET_FILE_BYTES_MAX} are allowed`,
      )
    }
    const content = await handle.readFile()
    const secret = trimTrailingNewline(new Uint8Array(content))
    if (secret.length === 0)
      throw new SecretFileError('SECRET_FILE_EMPTY', path, `secret file ${path} is empty`)
    return secret
  } catch (err) {
    if (err instanceof SecretFileError) throw err
    throw new SecretFileError(
      'SECRET_FILE_UNREADABLE',
      path,
      `secret file ${path} cannot be read: ${(err as Error).message}`,
      { cause: err },
    )
  } finally {
    await handle.close()
  }
}

/** trimTrailingNewline drops one trailing "\n" or "\r\n". */
function trimTrailingNewline(bytes: Uint8Array): Uint8Array {
  let end = bytes.length
  if (end > 0 && bytes[end - 1] === 0x0a) {
    end--
    if (end > 0 && bytes[end - 1] === 0x0d) end--
  }
  return bytes.subarray(0, end)
}
