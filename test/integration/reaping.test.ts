/**
 * Containers and TTL nodes are deleted by the server, through ordinary txns that fire
 * watches: a container once it had a child and is empty again, a TTL node once it is
 * childless and unchanged for its TTL. The server runs with a fast reap interval.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { connect, type Client, type WatchEvent } from '../../client/index.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'
import { waitFor } from '../helpers/wait.js'

let server: ServerProcess
let client: Client

beforeAll(async () => {
  server = await startServer({ args: ['--reap-every-ticks', '1', '--tick-ms', '50'] })
  client = await connect({ servers: [server.url], sessionTimeoutMs: 5000 })
})
afterAll(async () => {
  await client?.close()
  await server?.stop()
})

it('reaps a container once it had a child and is empty again, and fires its watch', async () => {
  await client.create('/box', '', { mode: 'container' })
  const events: WatchEvent[] = []
  await client.create('/box/item', '')
  // A never-used container stays; one that had a child goes once empty.
  await client.create('/unused-box', '', { mode: 'container' })
  await client.exists('/box', { watch: (e) => events.push(e) })
  await client.delete('/box/item')
  await waitFor(() => events.some((e) => e.type === 'deleted' && e.path === '/box'), {
    what: 'container reaped',
  })
  expect(await client.exists('/box')).toBeNull()
  expect(await client.exists('/unused-box')).not.toBeNull()
})

it('reaps a TTL node after its TTL without change, not while it has children', async () => {
  // Taken before the create: the server stamps mtime after this moment (same clock).
  const created = Date.now()
  await client.create('/ttl', 'x', { ttlMs: 300 })
  await client.create('/ttl-parent', '', { ttlMs: 300 })
  await client.create('/ttl-parent/kid', '')
  await waitFor(async () => (await client.exists('/ttl')) === null, {
    what: 'TTL node reaped',
    timeoutMs: 5000,
  })
  expect(Date.now() - created).toBeGreaterThanOrEqual(300)
  expect(await client.exists('/ttl-parent')).not.toBeNull()
  await client.delete('/ttl-parent/kid')
  await waitFor(async () => (await client.exists('/ttl-parent')) === null, {
    what: 'TTL parent reaped once childless',
  })
})
