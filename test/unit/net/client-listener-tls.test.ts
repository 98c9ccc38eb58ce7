/*
 * Goal: with TLS on the client port, the verified client certificate reaches the
 * runtime as ClientSocket.certificate (CN, subject, fingerprint) — what the ACL layer
 * maps to an `x509` identity — and only a verified one does: 'require' refuses a
 * client without a certificate, 'request' lets it in without one but cuts a client
 * whose certificate another CA signed. Method: a real ClientListener with TLS material
 * from `openssl`-made files and real ws clients.
 */
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import WebSocket from 'ws'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { ClientListener, type ClientSocket } from '../../../server/net/client-listener.js'
import { TlsMaterial } from '../../../server/net/tls-material.js'
import { makeCa, makeLeaf, type CertFiles } from '../../helpers/certs.js'
import { withDeadline } from '../../helpers/wait.js'

let dir: string
let ca: CertFiles
let server: CertFiles
let alice: CertFiles
let mallory: CertFiles
let listener: ClientListener | undefined
const logger = pino({ level: 'silent' })

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'conclave-listener-tls-'))
  ca = makeCa(dir, 'ca')
  server = makeLeaf(dir, ca, 'server', 'server')
  alice = makeLeaf(dir, ca, 'alice', 'alice')
  mallory = makeLeaf(dir, makeCa(dir, 'other-ca'), 'mallory', 'mallory')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))
afterEach(async () => {
  await listener?.close()
  listener = undefined
})

async function start(clientCertAuth: 'request' | 'require'): Promise<ClientSocket[]> {
  const open: ClientSocket[] = []
  const material = await TlsMaterial.load(
    {
      certFile: server.certFile,
      keyFile: server.keyFile,
      caFile: ca.certFile,
      clientCaFile: undefined,
    },
    logger,
  )
  listener = await ClientListener.listen(
    {
      host: '127.0.0.1',
      port: 0,
      frameBytesMax: 1024,
      maxConnections: 10,
      maxConnectionsPerAddress: 10,
      tls: { material, clientCertAuth },
    },
    {
      onOpen: (socket) => open.push(socket),
      onFrame: () => undefined,
      onClose: () => undefined,
      health: () => ({ status: 200, body: {} }),
      status: () => ({ status: 200, body: {} }),
    },
    logger,
  )
  return open
}

/** dial resolves 'open' or 'refused' for a wss:// client presenting `cert` (or none). */
function dial(cert: CertFiles | undefined): Promise<'open' | 'refused'> {
  const ws = new WebSocket(`wss://127.0.0.1:${listener!.port}`, {
    ca: readFileSync(ca.certFile),
    ...(cert === undefined
      ? {}
      : { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) }),
  })
  return withDeadline(
    new Promise<'open' | 'refused'>((resolve) => {
      ws.on('open', () => {
        resolve('open')
        ws.close()
      })
      ws.on('error', () => resolve('refused'))
      ws.on('close', () => resolve('refused'))
    }),
    5000,
    'wss dial',
  )
}

it('exposes the verified client certificate as the connection certificate', async () => {
  const open = await start('require')
  expect(await dial(alice)).toBe('open')
  expect(open).toHaveLength(1)
  expect(open[0]!.certificate).toEqual({
    commonName: 'alice',
    subject: 'O=conclave-test,CN=alice',
    fingerprint256: new X509Certificate(readFileSync(alice.certFile)).fingerprint256,
  })
  // 'require': no certificate, or one from another CA, is refused.
  expect(await dial(undefined)).toBe('refused')
  expect(await dial(mallory)).toBe('refused')
  expect(open).toHaveLength(1)
})

it("'request' lets a client without a certificate in without one, and cuts an unverified one", async () => {
  const open = await start('request')
  expect(await dial(undefined)).toBe('open')
  expect(open[0]!.certificate).toBeUndefined()
  expect(await dial(mallory)).toBe('refused')
  expect(await dial(alice)).toBe('open')
  expect(open.map((s) => s.certificate?.commonName)).toEqual([undefined, 'alice'])
})
