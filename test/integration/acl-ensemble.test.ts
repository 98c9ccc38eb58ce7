/**
 * ACLs on 3 real members (issue 12): a write sent through a follower is checked by the
 * leader with the identities of the client's connection (they travel with the forwarded
 * write, as ZooKeeper's authInfo does), and ACLs reach a follower that rejoins by DIFF
 * and one that rejoins by SNAP (wiped data directory).
 */
import { createHash } from 'node:crypto'
import { afterEach, expect, it } from 'vitest'
import { NoAuthError, Perm, connect, type Acl, type Client } from '../../client/index.js'
import { finishEnsemble, startEnsemble, type Ensemble } from '../helpers/ensemble.js'

const ALICE = 'alice:ensemble-pw-51'
const aliceId = `alice:${createHash('sha1').update(ALICE).digest('base64')}`

let ensemble: Ensemble | undefined
const clients: Client[] = []
afterEach(async (context) => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await finishEnsemble(ensemble, context.task.result?.state === 'fail', context.task.name)
  ensemble = undefined
}, 30_000)

async function open(url: string, auth: string[] = []): Promise<Client> {
  const client = await connect({
    servers: [url],
    sessionTimeoutMs: 10_000,
    auth: auth.map((credentials) => ({ scheme: 'digest', credentials })),
  })
  clients.push(client)
  return client
}

it(
  'forwarded writes carry identities; ACLs survive DIFF and SNAP',
  { timeout: 120_000 },
  async () => {
    const e = (ensemble = await startEnsemble({ size: 3, name: 'acl-ensemble', diffLimitTxns: 20 }))
    const { id: leaderId } = await e.leader()
    const [viaId, rejoinId] = e.members.map((m) => m.id).filter((id) => id !== leaderId) as [
      number,
      number,
    ]
    const via = e.member(viaId)
    const rejoin = e.member(rejoinId)

    // Through a follower: 'auth' is expanded by the leader from the forwarded identities.
    const alice = await open(via.url, [ALICE])
    const anon = await open(via.url)
    await alice.create('/e', 'mine', { acl: [{ perms: Perm.ALL, scheme: 'auth', id: '' }] })
    expect((await alice.getAcl('/e')).acl).toEqual([
      { perms: Perm.ALL, scheme: 'digest', id: aliceId },
    ])
    await expect(anon.set('/e', 'x')).rejects.toBeInstanceOf(NoAuthError)
    await expect(anon.create('/e/child')).rejects.toBeInstanceOf(NoAuthError)
    await expect(anon.get('/e')).rejects.toBeInstanceOf(NoAuthError)
    await alice.set('/e', 'still mine')
    await alice.create('/e/child')

    const check = async (url: string, acl: Acl[]) => {
      const reader = await open(url, [ALICE])
      await reader.sync()
      // Without ADMIN the digest hash is masked.
      expect((await reader.getAcl('/e2')).acl).toEqual(
        acl.map((a) => ((a.perms & Perm.ADMIN) !== 0 ? a : { ...a, id: 'alice:x' })),
      )
      const stranger = await open(url)
      await expect(stranger.get('/e2')).rejects.toBeInstanceOf(NoAuthError)
    }

    // DIFF: a few txns while the member is down, under diffLimitTxns.
    await rejoin.stop()
    const readOnly: Acl[] = [{ perms: Perm.READ, scheme: 'digest', id: aliceId }]
    await alice.create('/e2', 'x', { acl: readOnly })
    await rejoin.start()
    await e.converged({ timeoutMs: 30_000 })
    await check(rejoin.url, readOnly)

    // SNAP: wiped, and past the DIFF limit.
    await rejoin.stop()
    rejoin.wipe()
    const writer = await open(via.url, [ALICE])
    for (let i = 0; i < 25; i++) await writer.create(`/e/child/n${i}`)
    const mark = rejoin.logs.length
    await rejoin.start()
    await rejoin.waitForLog((l) => l.msg === 'installed a snapshot from the leader', {
      since: mark,
      timeoutMs: 30_000,
      what: 'SNAP installed',
    })
    await e.converged({ timeoutMs: 30_000 })
    await check(rejoin.url, readOnly)
    expect((await (await open(rejoin.url, [ALICE])).children('/e/child')).length).toBe(25)
    expect(e.unexpectedExits()).toEqual([])
  },
)
