/**
 * Real process (issue 4): a standalone server that is kill -9ed at random moments must
 * come back with every write it acknowledged. Method: start `conclave server` on a data
 * directory, let many clients create znodes concurrently, record each create the server
 * acknowledged, SIGKILL the process after a random delay, restart it on the same
 * directory, and read every acknowledged znode back; several rounds, one directory.
 * The seed of the delays is printed so a failure can be replayed with KILL9_SEED.
 * It needs the runtime to persist through server/storage (the standalone server's
 * DurableReplicator); without that wiring it fails, as it should.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { connect, type Client } from '../../client/index.js'
import { startServer } from '../helpers/server-process.js'
import { mulberry32 } from './workload.js'

const ROUNDS = 4
const CLIENTS = 12

describe('kill -9', () => {
  it('a restarted server holds every acknowledged write', { timeout: 120_000 }, async () => {
    const seed = Number(process.env.KILL9_SEED ?? Date.now() % 1_000_000)
    console.info(`kill9 seed ${seed}`)
    const random = mulberry32(seed)
    const dataDir = mkdtempSync(join(tmpdir(), 'conclave-kill9-'))
    const acknowledged = new Map<string, string>()
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const server = await startServer({ dataDir })
        const clients: Client[] = await Promise.all(
          Array.from({ length: CLIENTS }, () =>
            connect({ servers: [server.url], sessionTimeoutMs: 5000, requestTimeoutMs: 5000 }),
          ),
        )
        await clients[0]!.create(`/round${round}`).catch(() => undefined)
        let stop = false
        const writers = clients.map(async (client, index) => {
          for (let n = 0; !stop; n++) {
            const path = `/round${round}/c${index}-${n}`
            const data = `r${round} c${index} n${n}`
            try {
              await client.create(path, data)
              acknowledged.set(path, data)
            } catch {
              return // the server died: outcome unknown, so not counted
            }
          }
        })
        await new Promise((resolve) => setTimeout(resolve, 200 + Math.floor(random() * 800)))
        server.kill('SIGKILL')
        stop = true
        await server.exited
        await Promise.allSettled(writers)
        await Promise.allSettled(clients.map((c) => c.close()))
      }
      const server = await startServer({ dataDir })
      const reader = await connect({ servers: [server.url] })
      try {
        expect(acknowledged.size).toBeGreaterThan(ROUNDS * CLIENTS)
        // The server preallocates its newest segment (4 MiB of zeros by default), so every
        // kill landed on a segment with a zero tail, and each restart read it as the log's end.
        const newest = readdirSync(join(dataDir, 'log'))
          .filter((name) => name.startsWith('log.'))
          .sort()
          .at(-1)!
        expect(statSync(join(dataDir, 'log', newest)).size).toBeGreaterThanOrEqual(4 * 1024 * 1024)
        for (const [path, data] of acknowledged) {
          const found = await reader.get(path).catch(() => undefined)
          expect(found && new TextDecoder().decode(found.data), path).toBe(data)
        }
      } finally {
        await reader.close()
        await server.stop()
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
