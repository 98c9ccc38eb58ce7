/**
 * Leader election: run it in several terminals; one leads, the others wait in line.
 * The leader writes a heartbeat once a second, fenced by its lease: the write goes
 * through only while its election node exists, so a deposed leader, however late it
 * notices, cannot overwrite the next one's. Ctrl-C resigns; the next in line takes over.
 *
 *   npm run example:election -- --id a      (and --id b, --id c in other terminals)
 */
import { AbortedError, connect, election, op } from 'conclave/client'
import { exampleArgs, pause, say, shutdownSignal } from './shared.js'

const { servers, id } = exampleArgs()
const shutdown = shutdownSignal()
await using client = await connect({ servers, sessionTimeoutMs: 5000 })
const candidate = election(client, '/examples/leader', { id })
await client.create('/examples/heartbeat', '', { makeParents: true }).catch(() => {}) // there already: fine

while (!shutdown.aborted) {
  say(`${id}: in line; the leader is ${(await candidate.leader())?.id ?? 'nobody'}`)
  const leadership = await candidate.campaign({ signal: shutdown }).catch((error: unknown) => {
    if (error instanceof AbortedError) return null
    throw error
  })
  if (leadership === null) break
  say(`${id}: leading with token ${leadership.token}`)
  const done = AbortSignal.any([leadership.signal, shutdown])
  for (let beat = 1; !done.aborted; beat++) {
    // While suspended the leadership may be lost already: start nothing then.
    if (!leadership.suspended) {
      const heartbeat = op.set('/examples/heartbeat', `${id} #${beat}, token ${leadership.token}`)
      await client
        .multi([leadership.ownerCheck(), heartbeat])
        .catch((error: Error) => say(`${id}: refused: ${error.message}`))
    }
    await pause(1000, done)
  }
  await leadership.resign()
  say(`${id}: ${shutdown.aborted ? 'resigned' : 'lost the leadership'}`)
}
