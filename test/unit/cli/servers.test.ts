/**
 * Where `conclave shell` and `conclave status` find the servers: the flag, then
 * $CONCLAVE_SERVERS, then the connection file `conclave ensemble` wrote in the current
 * directory, then the members `npm start` runs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import {
  CONNECTION_FILE_NAME,
  DEFAULT_SERVERS,
  formatConnectionFile,
  readConnectionFile,
  resolveServers,
} from '../../../server/cli/servers.js'

it('takes the flag, then $CONCLAVE_SERVERS, then ./.conclave-servers, then the default', () => {
  const empty = mkdtempSync(join(tmpdir(), 'conclave-servers-'))
  const withFile = mkdtempSync(join(tmpdir(), 'conclave-servers-'))
  writeFileSync(
    join(withFile, CONNECTION_FILE_NAME),
    formatConnectionFile('127.0.0.1:3000,127.0.0.1:3001', 'written by a test'),
  )
  const env = { CONCLAVE_SERVERS: 'env:1' }
  expect(resolveServers('flag:1', env, withFile)).toEqual({
    servers: 'flag:1',
    source: '--servers',
  })
  expect(resolveServers(undefined, env, withFile)).toEqual({
    servers: 'env:1',
    source: '$CONCLAVE_SERVERS',
  })
  expect(resolveServers(undefined, { CONCLAVE_SERVERS: '  ' }, withFile)).toEqual({
    servers: '127.0.0.1:3000,127.0.0.1:3001',
    source: './.conclave-servers',
  })
  expect(resolveServers(undefined, {}, empty).servers).toBe(DEFAULT_SERVERS)
})

it('reads a connection file without its comments, its lines joined', () => {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-servers-'))
  const path = join(dir, CONNECTION_FILE_NAME)
  writeFileSync(path, '# a comment\n\nh1:1\nh2:2,h3:3\n')
  expect(readConnectionFile(path)).toBe('h1:1,h2:2,h3:3')
  writeFileSync(path, '# only a comment\n')
  expect(readConnectionFile(path)).toBeUndefined()
  expect(readConnectionFile(join(dir, 'missing'))).toBeUndefined()
})
