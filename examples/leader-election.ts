/**
 * Leader election: run it in several terminals; one leads, the others wait in line.
 * The leader publishes a heartbeat once a second, fenced by its lease: the write goes
 * through only while its election node still exists (`lease.ownerCheck()`), so a
 * leader that has lost its place, however late it notices, cannot overwrite the next
 * one's. Ctrl-C resigns, and the next in line takes over at once.
 *
 *   npm run build && npm start                  # a local ensemble, in another terminal
 *   npx tsx examples/leader-election.ts --id a
 *   npx tsx examples/leader-election.ts --id b
 */
import {
  AbortedError,
  connect,
  election,
  LeaseEndedError,
  op,
  type Leadership,
} from 'conclave/client'
import { exampleArgs, say, shutdownSignal } from './shared.js'

const args = exampleArgs()
const shutdown = shutdownSignal()
await using client = await connect({ servers: args.servers, sessionTimeoutMs: 5000 })
const candidate = election(client, '/examples/leader', { id: args.id })
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true })
  })

/** lead does the leader's work until the leadership ends or we shut down. */
async function lead(leadership: Leadership): Promise<void> {
  say(`${args.id}: leading with token ${leadership.token}`)
  const stop = AbortSignal.any([leadership.signal, shutdown])
  await client.create('/examples/leader-heartbeat', '', { makeParents: true }).catch(() => {})
  for (let beat = 1; !stop.aborted; beat++) {
    // Fenced inside Conclave: applied only while our election node exists.
    await client
      .multi([
        leadership.ownerCheck(),
        op.set('/examples/leader-heartbeat', `${args.id} #${beat} token ${leadership.token}`),
      ])
      .catch((error: unknown) => {
        say(`${args.id}: heartbeat refused (${(error as Error).message})`)
      })
    await sleep(1000, stop)
  }
  if (leadership.signal.aborted)
    say(`${args.id}: leadership ended (${(leadership.signal.reason as LeaseEndedError).reason})`)
}

while (!shutdown.aborted) {
  const leader = await candidate.leader()
  say(`${args.id}: waiting in line; leader now: ${leader?.id ?? 'none'}`)
  let leadership: Leadership
  try {
    leadership = await candidate.campaign({ signal: shutdown })
  } catch (error) {
    if (error instanceof AbortedError) break
    throw error
  }
  try {
    await lead(leadership)
  } finally {
    await leadership.resign()
  }
}
say(`${args.id}: resigned and stopped`)
