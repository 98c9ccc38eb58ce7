/**
 * `x509` identities end to end: a standalone server whose client port speaks TLS and
 * requires client certificates from a test CA (made by openssl); the verified
 * certificate's CN is the connection's `x509` identity, an ACL entry `x509:<CN>` grants
 * exactly that client, and the `auth` pseudo-scheme expands to it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { CREATOR_ALL_ACL, NoAuthError, Perm, connect, type Client } from '../../client/index.js'
import { makeCa, makeLeaf, type CertFiles } from '../helpers/certs.js'
import { startServer, type ServerProcess } from '../helpers/server-process.js'

let dir: string
let ca: CertFiles
let server: ServerProcess
const clients: Client[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'conclave-x509-'))
  ca = makeCa(dir, 'ca')
  const serverCert = makeLeaf(dir, ca, 'server', 'member-1')
  const configFile = join(dir, 'config.json')
  writeFileSync(
    configFile,
    JSON.stringify({
      clientTls: true,
      tlsCertFile: serverCert.certFile,
      tlsKeyFile: serverCert.keyFile,
      clientCaFile: ca.certFile,
      clientCertAuth: 'require',
    }),
  )
  server = await startServer({ args: ['--config', configFile] })
}, 60_000)
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** as connects with a client certificate whose CN is `commonName`. */
async function as(commonName: string): Promise<Client> {
  const cert = makeLeaf(dir, ca, `client-${commonName}`, commonName)
  const client = await connect({
    servers: [server.url.replace(/^ws:/, 'wss:')],
    sessionTimeoutMs: 10_000,
    tls: {
      ca: readFileSync(ca.certFile),
      cert: readFileSync(cert.certFile),
      key: readFileSync(cert.keyFile),
    },
  })
  clients.push(client)
  return client
}

it('grants an x509:<CN> entry to the client with that certificate only, and expands auth to it', async () => {
  const [alice, bob] = [await as('alice'), await as('bob')]
  await alice.create('/x509-only', 'for alice', {
    acl: [{ scheme: 'x509', id: 'alice', perms: Perm.ALL }],
  })
  expect(new TextDecoder().decode((await alice.get('/x509-only')).data)).toBe('for alice')
  await expect(bob.get('/x509-only')).rejects.toBeInstanceOf(NoAuthError)
  await expect(bob.set('/x509-only', 'mine now')).rejects.toBeInstanceOf(NoAuthError)

  // 'auth' means every identity the creating session authenticated with: here its certificate.
  await alice.create('/creator-only', '', { acl: [...CREATOR_ALL_ACL] })
  const { acl } = await alice.getAcl('/creator-only')
  expect(acl).toEqual([{ scheme: 'x509', id: 'alice', perms: Perm.ALL }])
  await expect(bob.get('/creator-only')).rejects.toBeInstanceOf(NoAuthError)
})
