/**
 * The local ensemble's shared secret: created once (32 random bytes, hex, mode 0600)
 * and reused on later starts, after the same checks every member makes when it reads it.
 */
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { readSecretFile } from '../net/peer-secret.js'

/** SECRET_BYTES is the entropy of a generated secret. */
const SECRET_BYTES = 32

/**
 * ensureSecretFile creates the secret at `path` if there is none and returns whether it
 * did. An existing file is checked with readSecretFile, so a group- or world-readable
 * one is refused here (SecretFileError) rather than by every member.
 */
export async function ensureSecretFile(path: string): Promise<'created' | 'reused'> {
  try {
    // 'wx' fails if the file exists, so two starts at once cannot overwrite each other's secret.
    await writeFile(path, randomBytes(SECRET_BYTES).toString('hex') + '\n', {
      mode: 0o600,
      flag: 'wx',
    })
    return 'created'
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  await readSecretFile(path)
  return 'reused'
}
