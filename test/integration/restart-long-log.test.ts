/**
 * A server restarting with a long log commits it again through the core, which hands
 * the runtime thousands of txns in one Ready; the runtime applies them a chunk per
 * event-loop turn. Every txn must be applied, in order, exactly once.
 */
import { afterAll, expect, it } from 'vitest'
import { connect } from '../../client/index.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'

const NODES = 4500
const servers: ServerProcess[] = []
afterAll(async () => {
  for (const server of servers) await server.stop().catch(() => {})
})

it('restarts after kill -9 with every one of thousands of logged txns applied in order', async () => {
  const first = await startServer()
  servers.push(first)
  const client = await connect({ servers: [first.url], sessionTimeoutMs: 10_000 })
  await client.create('/long', '')
  for (let i = 0; i < NODES; i += 500) {
    await Promise.all(
      Array.from({ length: 500 }, (_, j) => client.create(`/long/n${i + j}`, `v${i + j}`)),
    )
  }
  // Rewrite one node many times: only the last value may survive a correct replay.
  for (let v = 1; v <= 50; v++) await client.set('/long/n0', `rewritten ${v}`)
  const before = (await client.get('/long/n0')).stat
  await client.close()
  first.kill('SIGKILL')
  await first.exited

  const second = await startServer({ dataDir: first.dataDir })
  servers.push(second)
  const reader = await connect({ servers: [second.url], sessionTimeoutMs: 10_000 })
  try {
    expect((await reader.children('/long')).length).toBe(NODES)
    const { data, stat } = await reader.get('/long/n0')
    expect(new TextDecoder().decode(data)).toBe('rewritten 50')
    expect(stat.version).toBe(50)
    expect(stat.mzxid).toBe(before.mzxid)
    expect(new TextDecoder().decode((await reader.get(`/long/n${NODES - 1}`)).data)).toBe(
      `v${NODES - 1}`,
    )
  } finally {
    await reader.close()
  }
})
