/**
 * The shared-secret file checks, on real files in a temporary directory: a good file is
 * read with one trailing newline removed; a missing file, a directory, an empty file
 * (or one holding only a newline), and a file with any group or other permission bit
 * are refused with a typed SecretFileError whose code and message say why.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { SecretFileError, type SecretFileErrorCode } from '../../../server/net/peer-errors.js'
import { readSecretFile } from '../../../server/net/peer-secret.js'

const dir = mkdtempSync(join(tmpdir(), 'conclave-secret-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function secretFile(name: string, content: string | Uint8Array, mode = 0o600): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  chmodSync(path, mode)
  return path
}

async function refusal(path: string): Promise<SecretFileError> {
  try {
    await readSecretFile(path)
  } catch (err) {
    expect(err).toBeInstanceOf(SecretFileError)
    return err as SecretFileError
  }
  throw new Error(`readSecretFile(${path}) did not refuse`)
}

const text = (b: Uint8Array) => new TextDecoder().decode(b)

describe('readSecretFile', () => {
  it('reads an owner-only file and trims one trailing newline', async () => {
    expect(text(await readSecretFile(secretFile('lf', 's3cret-value\n')))).toBe('s3cret-value')
    expect(text(await readSecretFile(secretFile('crlf', 's3cret-value\r\n')))).toBe('s3cret-value')
    expect(text(await readSecretFile(secretFile('bare', 's3cret-value', 0o400)))).toBe(
      's3cret-value',
    )
    // Only one newline goes: inner and earlier bytes are part of the secret.
    expect(text(await readSecretFile(secretFile('two', 'a\nb\n\n')))).toBe('a\nb\n')
  })

  it('keeps binary secrets byte for byte', async () => {
    const bytes = Uint8Array.of(0, 255, 10, 13, 7)
    expect(await readSecretFile(secretFile('binary', bytes))).toEqual(
      Uint8Array.of(0, 255, 10, 13, 7),
    )
  })

  const refusals: [string, () => string, SecretFileErrorCode, RegExp][] = [
    ['a missing file', () => join(dir, 'nope'), 'SECRET_FILE_MISSING', /does not exist/],
    [
      'a directory',
      () => (mkdirSync(join(dir, 'd'), { recursive: true, mode: 0o700 }), join(dir, 'd')),
      'SECRET_FILE_NOT_A_FILE',
      /directory/,
    ],
    ['an empty file', () => secretFile('empty', ''), 'SECRET_FILE_EMPTY', /is empty/],
    [
      'a file holding only a newline',
      () => secretFile('newline', '\n'),
      'SECRET_FILE_EMPTY',
      /is empty/,
    ],
    [
      'a world-readable file',
      () => secretFile('world', 'secret', 0o604),
      'SECRET_FILE_PERMISSIONS',
      /mode 604.*chmod 600/,
    ],
    [
      'a group-readable file',
      () => secretFile('group', 'secret', 0o640),
      'SECRET_FILE_PERMISSIONS',
      /mode 640/,
    ],
    [
      'a group-writable file',
      () => secretFile('gw', 'secret', 0o620),
      'SECRET_FILE_PERMISSIONS',
      /mode 620/,
    ],
  ]
  for (const [what, make, code, message] of refusals) {
    it(`refuses ${what} with ${code}`, async () => {
      const path = make()
      const err = await refusal(path)
      expect(err.code).toBe(code)
      expect(err.path).toBe(path)
      expect(err.message).toMatch(message)
      expect(err.message).toContain(path)
    })
  }
})
