/**
 * Service registry with group membership: each instance joins `/examples/services/api`
 * under its id with its address as data, and prints the live list on every change. An
 * instance killed with -9 leaves the list once its session expires (5 s here); one
 * that loses its session rejoins by itself (`rejoin: true`).
 *
 *   npx tsx examples/service-registry.ts --id api-1 --address 10.0.0.1:8080
 *   npx tsx examples/service-registry.ts --id api-2 --address 10.0.0.2:8080
 */
import { connect, group } from 'conclave/client'
import { exampleArgs, say, shutdownSignal } from './shared.js'

const args = exampleArgs({ address: { type: 'string' } })
const shutdown = shutdownSignal()
await using client = await connect({ servers: args.servers, sessionTimeoutMs: 5000 })
const services = group(client, '/examples/services/api')
const address =
  typeof args.rest.address === 'string'
    ? args.rest.address
    : `127.0.0.1:${8000 + (process.pid % 1000)}`

await using membership = await services.join(args.id, JSON.stringify({ address }), { rejoin: true })
say(`${args.id}: joined as ${address} (token ${membership.token})`)
membership.signal.addEventListener('abort', () => say(`${args.id}: membership ended`), {
  once: true,
})

const decoder = new TextDecoder()
for await (const members of services.watch({ signal: shutdown })) {
  const list = members.map(
    (m) => `${m.id} ${(JSON.parse(decoder.decode(m.data)) as { address: string }).address}`,
  )
  say(`${members.length} instance(s): ${list.join(', ')}`)
}
say(`${args.id}: leaving`)
