/**
 * Issue 9, attack 3, against a real standalone server: a `create` with makeParents and
 * more than 1,000 missing ancestors used to be acknowledged as one multi txn of more
 * than MULTI_OPS_MAX ops, which the log codec then refused on restart (CORRUPT_LOG),
 * taking every later write with it. Now it, the 4 KB path of 2,000 one-letter segments
 * and a makeParents create whose txn outgrows the txn limit are refused with a clear
 * error before anything is logged; a kill -9 and restart then come back with every
 * acknowledged write. The per-session ephemeral limit answers QUOTA_EXCEEDED with the
 * SDK's QuotaExceededError.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { BadArgumentsError, QuotaExceededError, connect, type Client } from '../../client/index.js'
import {
  DATA_BYTES_MAX,
  FRAME_BYTES_MAX,
  MULTI_OPS_MAX,
  PATH_BYTES_MAX,
} from '../../protocol/index.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'
import { withDeadline } from '../helpers/wait.js'

/** The txn limit of a server with the default data limit (txnBytesMaxFor: twice the client frame limit). */
const TXN_BYTES_MAX = 2 * FRAME_BYTES_MAX

let root: string | undefined
let server: ServerProcess | undefined
let client: Client | undefined

afterEach(async () => {
  await client?.close().catch(() => undefined)
  await server?.stop()
  if (root !== undefined) rmSync(root, { recursive: true, force: true })
  client = server = root = undefined
})

/** start runs a server on `root`/data, with at most 3 ephemerals per session (config file key). */
async function start(): Promise<{ server: ServerProcess; client: Client }> {
  const configFile = join(root!, 'conclave.json')
  writeFileSync(configFile, JSON.stringify({ maxEphemeralsPerSession: 3 }))
  server = await startServer({ dataDir: join(root!, 'data'), args: ['--config', configFile] })
  client = await connect({ servers: [server.url], sessionTimeoutMs: 30_000 })
  return { server, client }
}

const chain = (depth: number, segment: string) =>
  '/' + Array.from({ length: depth }, () => segment).join('/')

it(
  'refuses makeParents past a multi and txns past the txn limit with a clear error, and restarts with every acknowledged write',
  { timeout: 120_000 },
  async () => {
    root = mkdtempSync(join(tmpdir(), 'conclave-txn-limits-'))
    mkdirSync(join(root, 'data'))
    let { server: s, client: c } = await start()
    const acknowledged = new Map<string, string>()
    const write = async (path: string, value: string) => {
      await c.create(path, value)
      acknowledged.set(path, value)
    }
    await write('/before', 'b')

    // Attack 3: 1,001 segments, 1,000 missing ancestors.
    const attack = c.create(chain(MULTI_OPS_MAX + 1, 'a'), 'x', { makeParents: true })
    await expect(attack).rejects.toBeInstanceOf(BadArgumentsError)
    await expect(attack).rejects.toMatchObject({
      code: 'BAD_ARGUMENTS',
      message: expect.stringContaining(
        `makeParents would create ${MULTI_OPS_MAX} missing ancestors; one create makes at most ${MULTI_OPS_MAX - 1}`,
      ),
    })
    // The 4 KB path of 2,000 one-letter segments.
    const fourKb = chain(PATH_BYTES_MAX / 2 - 1, 'b')
    await expect(c.create(fourKb, '', { makeParents: true })).rejects.toMatchObject({
      code: 'BAD_ARGUMENTS',
      message: expect.stringContaining('makeParents would create 2046 missing ancestors'),
    })
    // Fewer ancestors, but long ones: 818 ancestors of ~2 KB each and 1 MiB of data outgrow the txn limit.
    const heavy = c.create(chain(819, 'cccc'), new Uint8Array(DATA_BYTES_MAX), {
      makeParents: true,
    })
    await expect(heavy).rejects.toMatchObject({
      code: 'BAD_ARGUMENTS',
      message: expect.stringMatching(
        new RegExp(
          `this create makes a txn of up to \\d+ bytes, over the txn limit of ${TXN_BYTES_MAX} bytes`,
        ),
      ),
    })
    // The same depth with short names fits, and is acknowledged like any write.
    const deepest = chain(MULTI_OPS_MAX, 'd')
    expect(await c.create(deepest, 'deep', { makeParents: true })).toBe(deepest)
    acknowledged.set(deepest, 'deep')

    // Ephemerals past the per-session limit.
    for (const name of ['e1', 'e2', 'e3'])
      expect(await c.create(`/${name}`, '', { mode: 'ephemeral' })).toBe(`/${name}`)
    const fourth = c.create('/e4-', '', { mode: 'ephemeral-sequential' })
    await expect(fourth).rejects.toBeInstanceOf(QuotaExceededError)
    await expect(fourth).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
      codeNumber: -125,
      message: expect.stringContaining('the limit per session (maxEphemeralsPerSession 3)'),
    })
    await write('/after', 'a')

    // kill -9 and restart from the same data directory: the log replays, nothing refused is there.
    s.kill('SIGKILL')
    await withDeadline(s.exited, 10_000, 'server exit')
    await c.close().catch(() => undefined)
    ;({ server: s, client: c } = await start())
    for (const [path, value] of acknowledged)
      expect(new TextDecoder().decode((await c.get(path)).data), path).toBe(value)
    for (const path of ['/a', '/b', '/cccc']) expect(await c.exists(path), path).toBeNull()
    expect((await c.children('/')).filter((name) => name.startsWith('e4-'))).toEqual([])
    expect(await c.children('/d')).toEqual(['d'])
    expect(s.logs.some((line) => line.includes('CORRUPT_LOG'))).toBe(false)
  },
)
