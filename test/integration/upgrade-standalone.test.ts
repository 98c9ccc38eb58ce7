/**
 * A data directory written by the standalone server of earlier builds — txns of epoch 1
 * in the log, no epoch file — starts under the member runtime with every txn kept and
 * new writes in a later epoch.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { connect } from '../../client/index.js'
import { makeZxid, type Txn } from '../../protocol/index.js'
import { FileStorage } from '../../server/storage/index.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'

let server: ServerProcess | undefined
afterAll(async () => {
  await server?.stop()
})

const create = (counter: number, path: string, value: string): Txn => ({
  zxid: makeZxid(1, counter),
  timeMs: Date.now(),
  sessionId: 0n,
  xid: 0,
  op: {
    type: 'create',
    path,
    data: new TextEncoder().encode(value),
    acl: [{ perms: 31, scheme: 'world', id: 'anyone' }],
    ephemeralOwner: 0n,
    container: false,
    ttlMs: 0,
    parentCversion: counter,
  },
})

it('keeps the txns of a pre-ensemble standalone data directory and writes on in a new epoch', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'conclave-upgrade-'))
  const { storage, recovered } = await FileStorage.open(dataDir, { createIfMissing: true })
  expect(recovered.epochs).toEqual({ acceptedEpoch: 0, currentEpoch: 0 })
  await storage.append([create(1, '/old-a', 'a'), create(2, '/old-b', 'b')])
  await storage.close()

  server = await startServer({ dataDir })
  const client = await connect({ servers: [server.url], sessionTimeoutMs: 10_000 })
  try {
    expect(new TextDecoder().decode((await client.get('/old-b')).data)).toBe('b')
    expect((await client.children('/')).sort()).toEqual(['old-a', 'old-b', 'zookeeper'])
    await client.create('/new', 'n')
    const stat = (await client.get('/new')).stat
    expect(stat.czxid >> 32n).toBeGreaterThan(1n) // a later epoch than the old txns
  } finally {
    await client.close()
  }
})
