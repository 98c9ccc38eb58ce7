/**
 * `conclave server`'s config loading: relative paths in a config file resolve against
 * the file's directory, flags win over the file, and a bad file is a ConfigError.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadServerConfig, resolveFilePaths } from '../../../server/cli/server-config.js'
import { ConfigError } from '../../../server/runtime/config.js'

const dir = mkdtempSync(join(tmpdir(), 'conclave-config-'))

/** writeConfig writes `settings` as a config file in `dir` and returns its path. */
function writeConfig(name: string, settings: unknown): string {
  const path = join(dir, name)
  writeFileSync(path, typeof settings === 'string' ? settings : JSON.stringify(settings))
  return path
}

const members = [
  { id: 1, host: '127.0.0.1', clientPort: 4001, peerPort: 4101 },
  { id: 2, host: '127.0.0.1', clientPort: 4002, peerPort: 4102 },
]

describe('loadServerConfig', () => {
  it('resolves relative dataDir and secretFile against the config file, not the working directory', () => {
    const file = writeConfig('member.json', {
      id: 2,
      dataDir: 'data/m2',
      secretFile: '../secret',
      members,
    })
    const config = loadServerConfig({ config: file })
    expect(config.dataDir).toBe(join(dir, 'data/m2'))
    expect(config.ensemble?.secretFile).toBe(join(dir, '..', 'secret'))
    expect(config.clientPort).toBe(4002)
    expect(config.ensemble?.peerPort).toBe(4102)
  })

  it('keeps absolute paths, and flags win over the file', () => {
    const file = writeConfig('abs.json', {
      id: 1,
      dataDir: '/srv/conclave',
      secretFile: '/etc/s',
      members,
    })
    const config = loadServerConfig({
      config: file,
      port: 0,
      'peer-port': 0,
      'secret-file': '/other',
      data: '/d2',
    })
    expect(config.dataDir).toBe('/d2')
    expect(config.clientPort).toBe(0)
    expect(config.ensemble?.peerPort).toBe(0)
    expect(config.ensemble?.secretFile).toBe('/other')
  })

  it('refuses unreadable, malformed and non-object files with a ConfigError', () => {
    expect(() => loadServerConfig({ config: join(dir, 'missing.json') })).toThrow(
      /cannot read config file .*ENOENT/,
    )
    expect(() => loadServerConfig({ config: writeConfig('bad.json', '{ id: 1') })).toThrow(
      /is not valid JSON/,
    )
    expect(() => loadServerConfig({ config: writeConfig('list.json', '[]') })).toThrow(ConfigError)
    expect(() => loadServerConfig({ config: writeConfig('list2.json', '[]') })).toThrow(
      /must hold a JSON object/,
    )
  })
})

describe('resolveFilePaths', () => {
  it('touches only path settings that are non-empty strings', () => {
    expect(resolveFilePaths({ dataDir: 'a', secretFile: 7, host: 'h' }, '/base')).toEqual({
      dataDir: '/base/a',
      secretFile: 7,
      host: 'h',
    })
  })
})
