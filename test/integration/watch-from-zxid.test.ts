/**
 * Issue 11: a watch stream resumed with `fromZxid` in a new session, after the client
 * process that read it was killed, gets exactly the changes after that zxid — in order,
 * each once, from a different member than the first process used — and then live ones.
 * A position older than the member's change window yields a `compacted` event whose
 * `oldestZxid` says where the window starts, then the stream goes on live.
 *
 * The readers are real processes (test/helpers/watch-follower-main.ts) so that "the
 * client restarted" means a new process with no state but the zxid it was handed.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, type Client } from '../../client/index.js'
import { startEnsemble, type Ensemble } from '../helpers/ensemble.js'
import { finishEnsemble } from '../helpers/ensemble.js'
import { startServer } from '../helpers/server-process.js'
import {
  startRecipeProcess,
  type ProcessEvent,
  type RecipeProcess,
} from '../helpers/recipe-process.js'

/** WINDOW_CHANGES is each member's change window: small, so the test can outrun it. */
const WINDOW_CHANGES = 60

let ensemble: Ensemble | undefined
let writer: Client
let failed = false
const processes: RecipeProcess[] = []

beforeAll(async () => {
  ensemble = await startEnsemble({
    size: 3,
    name: 'watch-from-zxid',
    settings: { watchWindowChanges: WINDOW_CHANGES },
  })
  await ensemble.leader()
  writer = await connect({ servers: ensemble.urls, sessionTimeoutMs: 10_000 })
}, 120_000)
afterAll(async () => {
  await writer?.close()
  await Promise.all(processes.map((p) => p.stop()))
  if (ensemble !== undefined) await finishEnsemble(ensemble, failed, 'watch-from-zxid failed')
}, 60_000)

async function follower(memberId: number, path: string, fromZxid?: bigint): Promise<RecipeProcess> {
  const process = await startRecipeProcess('watch-follower-main.ts', `follower-${memberId}`, {
    servers: [ensemble!.member(memberId).url],
    path,
    ...(fromZxid === undefined ? {} : { fromZxid: fromZxid.toString() }),
  })
  processes.push(process)
  return process
}

const changes = (p: RecipeProcess): ProcessEvent[] => p.events.filter((e) => e.event === 'change')
const described = (events: ProcessEvent[]) =>
  events.map((e) => `${String(e.type)} ${String(e.path)} ${String(e.zxid)}`)

/** setAll sets each key once, in order, and returns the writes' zxids. */
async function setAll(keys: string[], value: string): Promise<bigint[]> {
  const zxids: bigint[] = []
  for (const key of keys) zxids.push((await writer.set(key, value)).mzxid)
  return zxids
}

describe('watch(path, { fromZxid })', () => {
  it('resumes in a new process and session, on another member, with exactly the changes after that zxid', async () => {
    const root = '/feed'
    const keys = ['a', 'b', 'c', 'd', 'e'].map((k) => `${root}/${k}`)
    await writer.create(root, '')
    for (const key of keys) await writer.create(key, 'v0')
    try {
      const first = await follower(1, root)
      const firstRound = await setAll(keys, 'v1')
      await first.next((e) => e.event === 'change' && e.zxid === firstRound.at(-1)!.toString(), {
        what: 'the first process saw the first round',
      })
      expect(described(changes(first))).toEqual(
        keys.map((k, i) => `dataChanged ${k} ${firstRound[i]}`),
      )
      // The first process persisted the zxid of the third change, then died.
      const position = BigInt(changes(first)[2]!.zxid as string)
      first.kill('SIGKILL')
      await first.exited
      const secondRound = await setAll(keys, 'v2')

      const second = await follower(2, root, position)
      const missed = [...firstRound.slice(3), ...secondRound]
      const missedKeys = [...keys.slice(3), ...keys]
      await second.next((e) => e.event === 'change' && e.zxid === missed.at(-1)!.toString(), {
        what: 'the second process caught up',
      })
      const live = await writer.set(keys[0]!, 'v3')
      await second.next((e) => e.event === 'change' && e.zxid === live.mzxid.toString(), {
        what: 'the second process went live',
      })
      expect(described(changes(second))).toEqual([
        ...missedKeys.map((k, i) => `dataChanged ${k} ${missed[i]}`),
        `dataChanged ${keys[0]} ${live.mzxid}`,
      ])
      expect(second.events.find((e) => e.event === 'ready')!.sessionId).not.toBe(
        first.events.find((e) => e.event === 'ready')!.sessionId,
      )
    } catch (error) {
      failed = true
      throw error
    }
  })

  it('yields compacted, with where the window starts, for a position older than the window, then goes on live', async () => {
    const root = '/compact'
    await writer.create(root, '')
    await writer.create(`${root}/k`, 'v0')
    try {
      const old = (await writer.set(`${root}/k`, 'v1')).mzxid
      // Outrun every member's window: more changes than it keeps.
      for (let i = 0; i < WINDOW_CHANGES + 10; i++) await writer.set(`${root}/k`, `w${i}`)
      const reader = await follower(3, root, old)
      const live = await writer.set(`${root}/k`, 'live')
      await reader.next((e) => e.event === 'change' && e.zxid === live.mzxid.toString(), {
        what: 'the reader went live',
      })
      const [compacted, ...rest] = changes(reader)
      expect(compacted).toMatchObject({ type: 'compacted', path: root })
      const oldest = BigInt(compacted!.oldestZxid as string)
      expect(oldest).toBeGreaterThan(old)
      expect(BigInt(compacted!.zxid as string)).toBeGreaterThanOrEqual(oldest)
      expect(described(rest)).toEqual([`dataChanged ${root}/k ${live.mzxid}`])
    } catch (error) {
      failed = true
      throw error
    }
  })
})

describe('the change window across a restart', () => {
  it('is refilled from the log a restarted member replays, so a position from before the restart still resumes', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'conclave-window-'))
    let server = await startServer({ dataDir })
    try {
      const client = await connect({ servers: [server.url], sessionTimeoutMs: 10_000 })
      await client.create('/kept', 'v0')
      const from = (await client.set('/kept', 'v1')).mzxid
      const later = [
        (await client.set('/kept', 'v2')).mzxid,
        (await client.set('/kept', 'v3')).mzxid,
      ]
      await client.close()
      await server.stop()
      server = await startServer({ dataDir })
      const reader = await connect({ servers: [server.url], sessionTimeoutMs: 10_000 })
      try {
        const seen: string[] = []
        for await (const event of reader.watch('/kept', { fromZxid: from })) {
          seen.push(`${event.type} ${event.zxid}`)
          if (seen.length === later.length) break
        }
        expect(seen).toEqual(later.map((zxid) => `dataChanged ${zxid}`))
      } finally {
        await reader.close()
      }
    } finally {
      await server.stop()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

describe('replaying nodes that are gone', () => {
  it('replays the created and the deleted of a node created and deleted since the position', async () => {
    await writer.create('/brief', '')
    const from = (await writer.set('/brief', 'start')).mzxid
    const created = await writer.create('/brief/x', 'x')
    expect(created).toBe('/brief/x')
    await writer.delete('/brief/x')
    const reader = await connect({ servers: [ensemble!.member(2).url], sessionTimeoutMs: 10_000 })
    try {
      const seen: string[] = []
      for await (const event of reader.watch('/brief', { recursive: true, fromZxid: from })) {
        seen.push(`${event.type} ${event.path}`)
        if (seen.length === 2) break
      }
      expect(seen).toEqual(['created /brief/x', 'deleted /brief/x'])
    } finally {
      await reader.close()
    }
  })
})
