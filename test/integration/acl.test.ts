/**
 * ACLs and authentication on a real server process with the real SDK (issue 12):
 * - every operation with the permission it needs present or absent, for each scheme
 *   (world, auth, digest, ip), inside multi too; setAcl's aversion; ACLs survive a restart;
 * - watches (one-shot, persistent, recursive, and the replay after a reconnect) tell an
 *   unauthorized client nothing about nodes it cannot read (CVE-2024-23944);
 * - digest credentials right and wrong, malformed ones (AUTH_FAILED, client closed),
 *   auth re-sent after a reconnect, the super user, no password in the server's log.
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AuthFailedError,
  BadVersionError,
  NoAuthError,
  Perm,
  connect,
  op,
  type Acl,
  type Client,
  type WatchEvent,
} from '../../client/index.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { waitFor } from '../helpers/wait.js'

const ALICE = 'alice:Wonderland-7f3a'
const SUPER = 'root:Sup3r-Secret-9c1e'
const digest = (credentials: string) =>
  `${credentials.split(':')[0]}:${createHash('sha1').update(credentials).digest('base64')}`
const aliceId = digest(ALICE)

let server: ServerProcess
let configDir: string
let dataDir: string
const clients: Client[] = []

async function start(): Promise<void> {
  server = await startServer({
    dataDir,
    args: [
      '--config',
      join(configDir, 'conclave.json'),
      '--tick-ms',
      '50',
      '--min-session-timeout-ms',
      '500',
    ],
  })
}

async function open(auth: string[] = [], url = server.url): Promise<Client> {
  const client = await connect({
    servers: [url],
    sessionTimeoutMs: 4000,
    auth: auth.map((credentials) => ({ scheme: 'digest', credentials })),
  })
  clients.push(client)
  return client
}

beforeAll(async () => {
  configDir = mkdtempSync(join(tmpdir(), 'conclave-acl-'))
  dataDir = join(configDir, 'data')
  writeFileSync(join(configDir, 'conclave.json'), JSON.stringify({ superDigest: digest(SUPER) }))
  await start()
})
afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await server?.stop()
  rmSync(configDir, { recursive: true, force: true })
})

type Outcome = 'ok' | 'NO_AUTH'
const outcome = async (action: Promise<unknown>): Promise<Outcome> => {
  try {
    await action
    return 'ok'
  } catch (err) {
    if (err instanceof NoAuthError) return 'NO_AUTH'
    throw err
  }
}

/** OPS: each operation, the permission it needs, and how to run it on node `n` (a child `n/c` exists). */
const OPS: { name: string; perm: number; run: (c: Client, n: string) => Promise<unknown> }[] = [
  { name: 'get', perm: Perm.READ, run: (c, n) => c.get(n) },
  { name: 'children', perm: Perm.READ, run: (c, n) => c.children(n) },
  { name: 'childCount', perm: Perm.READ, run: (c, n) => c.childCount(n) },
  { name: 'getAcl', perm: Perm.READ | Perm.ADMIN, run: (c, n) => c.getAcl(n) },
  { name: 'set', perm: Perm.WRITE, run: (c, n) => c.set(n, 'x') },
  { name: 'create', perm: Perm.CREATE, run: (c, n) => c.create(`${n}/new`) },
  { name: 'delete', perm: Perm.DELETE, run: (c, n) => c.delete(`${n}/c`) },
  {
    name: 'setAcl',
    perm: Perm.ADMIN,
    run: (c, n) => c.setAcl(n, [{ perms: Perm.ALL, scheme: 'world', id: 'anyone' }]),
  },
  { name: 'multi create', perm: Perm.CREATE, run: (c, n) => c.multi([op.create(`${n}/m`, '')]) },
  { name: 'multi set', perm: Perm.WRITE, run: (c, n) => c.multi([op.set(n, 'y')]) },
  { name: 'multi delete', perm: Perm.DELETE, run: (c, n) => c.multi([op.delete(`${n}/c`)]) },
  { name: 'multi check', perm: Perm.READ, run: (c, n) => c.multi([op.check(n)]) },
]

describe('ACL matrix: operation x permission present/absent x scheme', () => {
  it('grants exactly what the ACL grants, to exactly whom it names', async () => {
    const root = await open([SUPER])
    const alice = await open([ALICE])
    const anon = await open()
    await root.create('/m')
    /** Per scheme: the entry (perms filled in per node), who creates the node, who is allowed, who is not. */
    const schemes: Record<
      string,
      { entry: Omit<Acl, 'perms'>; creator: Client; allowed: Client; stranger: Client | null }
    > = {
      world: {
        entry: { scheme: 'world', id: 'anyone' },
        creator: root,
        allowed: anon,
        stranger: null,
      },
      auth: { entry: { scheme: 'auth', id: '' }, creator: alice, allowed: alice, stranger: anon },
      digest: {
        entry: { scheme: 'digest', id: aliceId },
        creator: root,
        allowed: alice,
        stranger: anon,
      },
      ip: {
        entry: { scheme: 'ip', id: '127.0.0.0/8' },
        creator: root,
        allowed: anon,
        stranger: null,
      },
    }
    const got: string[] = []
    const want: string[] = []
    for (const [scheme, { entry, creator, allowed, stranger }] of Object.entries(schemes)) {
      for (const o of OPS) {
        for (const present of [true, false]) {
          const node = `/m/${scheme}-${o.name.replace(' ', '-')}-${present ? 'yes' : 'no'}`
          const perms = present ? Perm.ALL : Perm.ALL & ~o.perm
          await creator.create(node, 'd', { acl: [{ ...entry, perms }] })
          await root.create(`${node}/c`)
          // The stranger first: the allowed run may delete what the op needs.
          if (stranger !== null && present) {
            got.push(`${node} (stranger): ${await outcome(o.run(stranger, node))}`)
            want.push(`${node} (stranger): NO_AUTH`)
          }
          got.push(`${node}: ${await outcome(o.run(allowed, node))}`)
          want.push(`${node}: ${present ? 'ok' : 'NO_AUTH'}`)
        }
      }
    }
    // An ip entry that does not name the client's address.
    await root.create('/m/ip-other', '', {
      acl: [{ perms: Perm.ALL, scheme: 'ip', id: '10.0.0.0/8' }],
    })
    got.push(`ip-other: ${await outcome(anon.get('/m/ip-other'))}`)
    want.push('ip-other: NO_AUTH')
    // exists is not checked (ZooKeeper 3.8).
    got.push(`exists: ${await outcome(anon.exists('/m/ip-other'))}`)
    want.push('exists: ok')
    expect(got).toEqual(want)
  })

  it('setAcl with a wrong aversion fails with BAD_VERSION, the right one bumps it', async () => {
    const root = await open([SUPER])
    await root.create('/av')
    const everyone: Acl[] = [{ perms: Perm.READ, scheme: 'world', id: 'anyone' }]
    await expect(root.setAcl('/av', everyone, { version: 5 })).rejects.toBeInstanceOf(
      BadVersionError,
    )
    const stat = await root.setAcl('/av', everyone, { version: 0 })
    expect(stat.aversion).toBe(1)
    expect((await root.getAcl('/av')).acl).toEqual(everyone)
  })

  it('getAcl without ADMIN hides digest hashes', async () => {
    const root = await open([SUPER])
    await root.create('/masked', '', {
      acl: [
        { perms: Perm.READ, scheme: 'digest', id: aliceId },
        { perms: Perm.READ, scheme: 'world', id: 'anyone' },
      ],
    })
    const anon = await open()
    expect((await anon.getAcl('/masked')).acl[0]).toEqual({
      perms: Perm.READ,
      scheme: 'digest',
      id: 'alice:x',
    })
  })
})

/** collect gathers a stream's events until aborted. */
function collect(stream: AsyncIterable<WatchEvent>, into: WatchEvent[]): void {
  void (async () => {
    try {
      for await (const event of stream) into.push(event)
    } catch {
      // closed
    }
  })()
}
const show = (events: WatchEvent[]) => events.map((e) => `${e.type} ${e.path}`)

describe('watches never tell of nodes the watcher cannot read', () => {
  it('recursive, persistent and one-shot watches, live and replayed after a reconnect', async () => {
    const root = await open([SUPER])
    await root.create('/w')
    const proxy: TcpProxy = await startProxy(server.port)
    try {
      const anon = await open([], proxy.url)
      const alice = await open([ALICE])
      const stop = new AbortController()
      const anonRecursive: WatchEvent[] = []
      const anonPersistent: WatchEvent[] = []
      const aliceRecursive: WatchEvent[] = []
      collect(anon.watch('/w', { recursive: true, signal: stop.signal }), anonRecursive)
      collect(anon.watch('/w/secret', { signal: stop.signal }), anonPersistent)
      collect(alice.watch('/w', { recursive: true, signal: stop.signal }), aliceRecursive)
      const oneShot: WatchEvent[] = []
      await anon.exists('/w/secret2', { watch: (e) => oneShot.push(e) })
      await anon.sync()
      await alice.sync()

      const secret: Acl[] = [{ perms: Perm.ALL, scheme: 'digest', id: aliceId }]
      const live = async (suffix: string) => {
        await root.create(`/w/secret${suffix}`, 's', { acl: secret })
        await root.set(`/w/secret${suffix}`, 't')
        await root.delete(`/w/secret${suffix}`)
        await root.create(`/w/open${suffix}`, 'o')
      }
      await live('')
      await root.create('/w/secret2', 's', { acl: secret })
      await waitFor(() => anonRecursive.some((e) => e.path === '/w/open'), { what: 'open event' })
      await waitFor(() => aliceRecursive.some((e) => e.path === '/w/open'))

      // While anon is cut off, the same again; its stream replays from its position, and
      // its one-shot exist watches catch up through setWatches.
      const caughtUp: WatchEvent[] = []
      await anon.exists('/w/secret4', { watch: (e) => caughtUp.push(e) })
      await anon.exists('/w/open4', { watch: (e) => caughtUp.push(e) })
      proxy.block()
      proxy.cut()
      await waitFor(() => anon.state === 'suspended')
      await live('3')
      await root.create('/w/secret4', 's', { acl: secret })
      await root.create('/w/open4', 'o')
      proxy.unblock()
      await waitFor(() => anonRecursive.some((e) => e.path === '/w/open3'), {
        what: 'replayed open event',
      })
      await waitFor(() => caughtUp.length > 0, { what: 'one-shot catch-up' })
      await waitFor(() => aliceRecursive.some((e) => e.path === '/w/open4'))
      await anon.sync()
      stop.abort()

      expect(show(anonRecursive)).toEqual([
        'created /w/open',
        'created /w/open3',
        'created /w/open4',
      ])
      expect(show(anonPersistent)).toEqual([])
      expect(show(oneShot)).toEqual([])
      expect(show(aliceRecursive)).toEqual([
        'created /w/secret',
        'dataChanged /w/secret',
        'deleted /w/secret',
        'created /w/open',
        'created /w/secret2',
        'created /w/secret3',
        'dataChanged /w/secret3',
        'deleted /w/secret3',
        'created /w/open3',
        'created /w/secret4',
        'created /w/open4',
      ])
      expect(show(caughtUp)).toEqual(['created /w/open4'])
    } finally {
      await proxy.close()
    }
  })
})

describe('authentication', () => {
  it('a wrong password is an identity no ACL names; malformed credentials are AUTH_FAILED and close the client', async () => {
    const root = await open([SUPER])
    await root.create('/a', 'private', {
      acl: [{ perms: Perm.ALL, scheme: 'digest', id: aliceId }],
    })
    const wrong = await open(['alice:not-the-password'])
    await expect(wrong.get('/a')).rejects.toBeInstanceOf(NoAuthError)
    const alice = await open([ALICE])
    expect(new TextDecoder().decode((await alice.get('/a')).data)).toBe('private')

    const later = await open()
    await expect(later.get('/a')).rejects.toBeInstanceOf(NoAuthError)
    await later.addAuth('digest', ALICE)
    await expect(later.get('/a')).resolves.toBeDefined()

    const bad = await open()
    await expect(bad.addAuth('digest', 'no-colon-here')).rejects.toBeInstanceOf(AuthFailedError)
    await waitFor(() => bad.state === 'closed', { what: 'client closed after AUTH_FAILED' })
    await expect(
      connect({ servers: [server.url], auth: [{ scheme: 'digest', credentials: 'nocolon' }] }),
    ).rejects.toBeInstanceOf(AuthFailedError)
  })

  it('credentials are sent again after a reconnect', async () => {
    const root = await open([SUPER])
    await root.create('/r', 'r', { acl: [{ perms: Perm.ALL, scheme: 'digest', id: aliceId }] })
    const proxy = await startProxy(server.port)
    try {
      const alice = await open([], proxy.url)
      await alice.addAuth('digest', ALICE)
      const session = alice.sessionId
      proxy.cut()
      await waitFor(() => alice.state === 'suspended')
      await waitFor(() => alice.state === 'connected')
      expect(alice.sessionId).toBe(session)
      await expect(alice.get('/r')).resolves.toBeDefined()
    } finally {
      await proxy.close()
    }
  })

  it('the super user passes every ACL', async () => {
    const alice = await open([ALICE])
    await alice.create('/s', '', { acl: [{ perms: Perm.ALL, scheme: 'auth', id: '' }] })
    const root = await open([SUPER])
    await root.set('/s', 'by root')
    await root.setAcl('/s', [{ perms: 0, scheme: 'digest', id: aliceId }])
    await expect(root.get('/s')).resolves.toBeDefined()
    await expect(alice.get('/s')).rejects.toBeInstanceOf(NoAuthError)
  })

  it('ACLs survive a restart', async () => {
    const root = await open([SUPER])
    const acl: Acl[] = [{ perms: Perm.READ | Perm.ADMIN, scheme: 'digest', id: aliceId }]
    await root.create('/durable', 'd', { acl })
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await server.stop()
    await start()
    const anon = await open()
    const alice = await open([ALICE])
    await expect(anon.get('/durable')).rejects.toBeInstanceOf(NoAuthError)
    expect((await alice.getAcl('/durable')).acl).toEqual(acl)
    await expect(alice.set('/durable', 'x')).rejects.toBeInstanceOf(NoAuthError)
  })

  it('no password or digest appears in the server log or /status', async () => {
    const status = await (await fetch(`${server.httpUrl}/status`)).text()
    expect(status).not.toContain(digest(SUPER).split(':')[1])
    const log = server.logs.join('\n')
    expect(log).not.toContain(digest(SUPER).split(':')[1])
    expect(log).not.toContain(aliceId.split(':')[1])
    for (const secret of [ALICE, SUPER, 'Wonderland-7f3a', 'Sup3r-Secret-9c1e', 'not-the-password'])
      expect(log).not.toContain(secret)
  })
})
