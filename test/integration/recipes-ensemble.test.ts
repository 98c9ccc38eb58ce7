/**
 * Leadership across a member failure, on 3 real member processes. The member a leader
 * is connected to is killed -9 (its connection drops, and the client resumes its
 * session on another member):
 * - with loseOn 'lost' the leadership survives the failover: same session, same node,
 *   same token, and the waiting candidate is not elected;
 * - with the default 'suspended' the lease ends at the drop; once the client is back
 *   (same session) its node is deleted and the waiting candidate leads, with a larger token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  connect,
  election,
  type Client,
  type LeaseEndedError,
  type LoseOn,
} from '../../client/index.js'
import { finishEnsemble, startEnsemble, type Ensemble } from '../helpers/ensemble.js'
import { waitFor, withDeadline } from '../helpers/wait.js'

let ensemble: Ensemble | undefined
let failed = false
const clients: Client[] = []

beforeAll(async () => {
  ensemble = await startEnsemble({ size: 3, name: 'recipes' })
  await ensemble.leader({ timeoutMs: 60_000 })
  await ensemble.converged({ timeoutMs: 60_000 })
}, 120_000)
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()))
  await finishEnsemble(ensemble, failed, 'recipes-ensemble')
}, 60_000)

async function open(): Promise<Client> {
  const client = await connect({ servers: ensemble!.urls, sessionTimeoutMs: 8000 })
  clients.push(client)
  return client
}

/** failover elects `loseOn` leader A and waiting candidate B, then kills A's member and brings it back. */
async function failover(path: string, loseOn: LoseOn) {
  const e = ensemble!
  const a = await open()
  const b = await open()
  const leadership = await election(a, path, { id: 'a', loseOn }).campaign()
  const next = election(b, path, { id: 'b' }).campaign()
  await waitFor(async () => (await b.children(path)).length === 2, { what: 'b in line' })
  const sessionId = a.sessionId
  const killed = a.serverId
  const dropped = new Promise<void>((resolve) =>
    a.on('state', (s) => s === 'suspended' && resolve()),
  )
  await e.member(killed).kill('SIGKILL')
  await withDeadline(dropped, 15_000, "a's connection drops")
  await waitFor(() => a.state === 'connected', {
    what: 'a resumes on another member',
    timeoutMs: 30_000,
  })
  expect(a.sessionId).toBe(sessionId)
  expect(a.serverId).not.toBe(killed)
  return { a, b, leadership, next, restart: () => e.member(killed).start() }
}

describe('leadership across a member failure', () => {
  it(
    "with loseOn 'lost' the leader keeps its session, node and token",
    { timeout: 120_000 },
    async () => {
      try {
        const path = '/recipes-ensemble/lost'
        const { b, leadership, next, restart } = await failover(path, 'lost')
        expect(leadership.signal.aborted).toBe(false)
        await b.sync(path)
        expect(await election(b, path, { id: 'observer' }).leader()).toMatchObject({
          id: 'a',
          token: leadership.token,
        })
        await restart()
        await leadership.resign()
        const successor = await withDeadline(next, 15_000, 'b elected after the resign')
        expect(successor.token).toBeGreaterThan(leadership.token)
        await successor.resign()
      } catch (error) {
        failed = true
        throw error
      }
    },
  )

  it(
    "with the default 'suspended' the lease ends at the drop and the next candidate leads",
    { timeout: 120_000 },
    async () => {
      try {
        const path = '/recipes-ensemble/suspended'
        const { b, leadership, next, restart } = await failover(path, 'suspended')
        expect((leadership.signal.reason as LeaseEndedError).reason).toBe('suspended')
        const successor = await withDeadline(next, 20_000, 'b elected once a is back')
        expect(successor.token).toBeGreaterThan(leadership.token)
        expect(await b.exists(leadership.path)).toBeNull()
        await restart()
        await successor.resign()
      } catch (error) {
        failed = true
        throw error
      }
    },
  )
})
