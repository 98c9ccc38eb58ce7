/**
 * Group membership as a service registry: each instance joins `/examples/services/api`
 * under its id with its address, and prints the live instances on every change. An
 * instance killed with -9 leaves the list when its session expires (5 s here); one
 * whose session is lost joins again by itself (`rejoin: true`).
 *
 *   npm run example:membership -- --id api-1 --address 10.0.0.1:8080   (and api-2, ...)
 */
import { connect, group } from 'conclave/client'
import { exampleArgs, say, shutdownSignal } from './shared.js'

const { servers, id, rest } = exampleArgs({ address: { type: 'string' } })
const address =
  typeof rest.address === 'string' ? rest.address : `127.0.0.1:${8000 + (process.pid % 1000)}`
const shutdown = shutdownSignal()
await using client = await connect({ servers, sessionTimeoutMs: 5000 })
const services = group(client, '/examples/services/api')

await using member = await services.join(id, address, { rejoin: true })
say(`${id}: joined as ${address}`)
const decoder = new TextDecoder()
for await (const members of services.watch({ signal: shutdown })) {
  say(
    `${members.length} instance(s): ${members.map((m) => `${m.id} at ${decoder.decode(m.data)}`).join(', ')}`,
  )
}
say(`${id}: leaving (membership token ${member.token})`)
