/**
 * `conclave ensemble`'s plan (ports, directories, member configs that resolveConfig
 * accepts) and its shared secret (created once with mode 0600, reused, a loose one refused).
 */
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { planEnsemble } from '../../../server/cli/ensemble-layout.js'
import { ensureSecretFile } from '../../../server/cli/ensemble-secret.js'
import { resolveFilePaths } from '../../../server/cli/server-config.js'
import { ConfigError, resolveConfig } from '../../../server/runtime/config.js'
import { SecretFileError } from '../../../server/net/peer-errors.js'

describe('planEnsemble', () => {
  it('gives member i client port P+i-1 and peer port P+100+i-1, and a connection string of all members', () => {
    const plan = planEnsemble({ size: 3, dataDir: '/e', basePort: 2281, host: '127.0.0.1' })
    expect(plan.members.map((m) => m.member)).toEqual([
      { id: 1, host: '127.0.0.1', clientPort: 2281, peerPort: 2381 },
      { id: 2, host: '127.0.0.1', clientPort: 2282, peerPort: 2382 },
      { id: 3, host: '127.0.0.1', clientPort: 2283, peerPort: 2383 },
    ])
    expect(plan.connectionString).toBe('127.0.0.1:2281,127.0.0.1:2282,127.0.0.1:2283')
    expect(plan.secretPath).toBe('/e/secret')
    expect(plan.members[1]!.configPath).toBe('/e/member-2/conclave.json')
  })

  it('writes configs that resolve to each member of one ensemble, data under its own directory', () => {
    const plan = planEnsemble({
      size: 3,
      dataDir: '/e',
      basePort: 5000,
      host: '127.0.0.1',
      tickMs: 50,
      logLevel: 'debug',
    })
    for (const m of plan.members) {
      const config = resolveConfig(
        resolveFilePaths(JSON.parse(JSON.stringify(m.settings)), m.memberDir),
      )
      expect(config.id).toBe(m.member.id)
      expect(config.clientPort).toBe(m.member.clientPort)
      expect(config.ensemble?.peerPort).toBe(m.member.peerPort)
      expect(config.ensemble?.secretFile).toBe('/e/secret')
      expect(config.dataDir).toBe(`/e/member-${m.member.id}/data`)
      expect(config).toMatchObject({ tickMs: 50, logLevel: 'debug' })
    }
  })

  it('a single member is a standalone server', () => {
    const [only] = planEnsemble({
      size: 1,
      dataDir: '/e',
      basePort: 5000,
      host: 'localhost',
    }).members
    expect(
      resolveConfig(resolveFilePaths(only!.settings, only!.memberDir)).ensemble,
    ).toBeUndefined()
  })

  it('brackets an IPv6 host in the connection string', () => {
    expect(
      planEnsemble({ size: 2, dataDir: '/e', basePort: 5000, host: '::1' }).connectionString,
    ).toBe('[::1]:5000,[::1]:5001')
  })

  it('refuses sizes and base ports out of range', () => {
    expect(() => planEnsemble({ size: 0, dataDir: '/e', basePort: 5000, host: 'h' })).toThrow(
      /--size must be an integer in \[1, 9\]/,
    )
    expect(() => planEnsemble({ size: 10, dataDir: '/e', basePort: 5000, host: 'h' })).toThrow(
      ConfigError,
    )
    expect(() => planEnsemble({ size: 3, dataDir: '/e', basePort: 65434, host: 'h' })).toThrow(
      /--base-port must be an integer in \[1, 65433\]/,
    )
    expect(() => planEnsemble({ size: 3, dataDir: '/e', basePort: 0, host: 'h' })).toThrow(
      /--base-port/,
    )
  })
})

describe('ensureSecretFile', () => {
  it('creates 32 random bytes in hex with mode 0600 once, then reuses the file', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'conclave-secret-')), 'secret')
    expect(await ensureSecretFile(path)).toBe('created')
    const first = readFileSync(path, 'utf8')
    expect(first).toMatch(/^[0-9a-f]{64}\n$/)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(await ensureSecretFile(path)).toBe('reused')
    expect(readFileSync(path, 'utf8')).toBe(first)
  })

  it('refuses an existing secret that group or others can read', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'conclave-secret-')), 'secret')
    writeFileSync(path, 'abc\n')
    chmodSync(path, 0o644)
    await expect(ensureSecretFile(path)).rejects.toBeInstanceOf(SecretFileError)
    await expect(ensureSecretFile(path)).rejects.toThrow(/chmod 600/)
  })
})
