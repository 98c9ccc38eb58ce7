/**
 * TLS on both ports with real member processes and certificates made by `openssl`
 * (test/helpers/certs.ts): a CA, one certificate per member (SAN IP:127.0.0.1), a
 * client certificate, and a rogue CA with a certificate of its own.
 *
 * - The ensemble forms over TLS peer links; an SDK client connects over wss:// with
 *   the CA and writes; one trusting another CA is refused; plain-text HTTP and ws:// on
 *   the TLS client port are refused with a 400 that says to use TLS.
 * - A member presenting a certificate of the rogue CA never gets a peer link (the
 *   others log the refused TLS handshake); with a certificate of the right CA it joins.
 * - Certificate rotation without restart: member 1's files are replaced and SIGHUP
 *   sent; member 2's are replaced and picked up by the file poll. New connections see
 *   the new certificates.
 */
import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { connect } from '../../client/index.js'
import { CONCLAVE_CLI } from '../helpers/cli-path.js'
import { makeCa, makeLeaf, type CertFiles } from '../helpers/certs.js'
import { finishEnsemble, startEnsemble, type Ensemble, type Member } from '../helpers/ensemble.js'
import { waitFor } from '../helpers/wait.js'

let dir: string
let ca: CertFiles
let rogueCa: CertFiles
let ensemble: Ensemble | undefined

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'conclave-tls-'))
  ca = makeCa(dir, 'ca')
  rogueCa = makeCa(dir, 'rogue-ca')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))
afterEach(async (context) => {
  await finishEnsemble(ensemble, context.task.result?.state === 'fail', context.task.name)
  ensemble = undefined
}, 30_000)

/** run runs a command with node and resolves with its stdout (rejects on a non-zero exit). */
function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, args, { timeout: 20_000 }, (err, stdout, stderr) =>
      err === null ? resolve(stdout) : reject(new Error(`${err.message}\n${stderr}`)),
    ),
  )
}

/** wssUrl is a member's client URL over TLS. */
const wssUrl = (m: Member) => `wss://127.0.0.1:${m.clientPort}`

/** tlsStatus reads a member's /status over https, trusting `caFile`. */
function tlsStatus(m: Member, caFile = ca.certFile): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port: m.clientPort,
        path: '/status',
        ca: readFileSync(caFile),
        timeout: 1000,
      },
      (res) => {
        let body = ''
        res.on('data', (chunk: Buffer) => (body += chunk.toString()))
        res.on('end', () => resolve(JSON.parse(body) as Record<string, unknown>))
      },
    )
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('status timed out')))
  })
}

/** followerUp tells whether the leader's /status shows `id` linked and synced. */
function followerUp(status: Record<string, unknown>, id: number): boolean {
  const followers = (status.followers ?? []) as {
    id: number
    connected?: boolean
    stage?: string
  }[]
  return followers.some((f) => f.id === id && f.connected !== false && f.stage === 'synced')
}

/** leaderWith waits for a serving leader whose followers include every id in `ids`. */
async function leaderWith(members: Member[], ids: number[]): Promise<Member> {
  return waitFor(
    async () => {
      for (const m of members) {
        const status = await tlsStatus(m).catch(() => undefined)
        if (status?.role === 'leading' && ids.every((id) => followerUp(status, id))) return m
      }
      return undefined
    },
    { timeoutMs: 20_000, intervalMs: 100, what: `a leader with followers ${ids.join(', ')}` },
  )
}

/** serverCertificate is the fingerprint of the certificate a TLS port presents now. */
function serverCertificate(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port, ca: readFileSync(ca.certFile), servername: '' },
      () => {
        resolve(socket.getPeerCertificate().fingerprint256)
        socket.destroy()
      },
    )
    socket.on('error', reject)
  })
}

/** fingerprintOf is a PEM certificate file's SHA-256 fingerprint as Node prints it. */
function fingerprintOf(certFile: string): string {
  return new X509Certificate(readFileSync(certFile)).fingerprint256
}

/** startTlsEnsemble starts a 3-member ensemble, members `startIds`, each with its own certificate. */
async function startTlsEnsemble(
  startIds: number[],
  certs: Map<number, CertFiles>,
): Promise<Ensemble> {
  const started = await startEnsemble({
    size: 3,
    name: 'tls',
    startIds: [],
    settings: {
      clientTls: true,
      peerTls: true,
      clientCertAuth: 'request',
      tlsCaFile: ca.certFile,
      tlsReloadCheckMs: 200,
    },
  })
  for (const m of [1, 2, 3].map((id) => started.member(id))) {
    const cert = certs.get(m.id)!
    const config = JSON.parse(readFileSync(m.configFile, 'utf8')) as Record<string, unknown>
    writeFileSync(
      m.configFile,
      JSON.stringify({ ...config, tlsCertFile: cert.certFile, tlsKeyFile: cert.keyFile }, null, 2),
    )
  }
  await Promise.all(startIds.map((id) => started.member(id).start()))
  return started
}

it('forms over TLS peer links; SDK over wss:// with the CA; wrong CA and plain text refused', async () => {
  const certs = new Map(
    [1, 2, 3].map((id) => [id, makeLeaf(dir, ca, `member-${id}`, `member-${id}`)]),
  )
  ensemble = await startTlsEnsemble([1, 2, 3], certs)
  const members = [1, 2, 3].map((id) => ensemble!.member(id))
  const leader = await leaderWith(members, [])
  const followers = members.filter((m) => m !== leader).map((m) => m.id)
  await leaderWith(members, followers)

  // The SDK over wss:// trusting the CA: a write, read back through another member.
  const ca1 = readFileSync(ca.certFile, 'utf8')
  const writer = await connect({
    servers: [wssUrl(leader)],
    tls: { ca: ca1 },
    sessionTimeoutMs: 4000,
  })
  await writer.create('/tls', 'over tls')
  const reader = await connect({
    servers: [wssUrl(members.find((m) => m !== leader)!)],
    tls: { ca: ca1 },
    sessionTimeoutMs: 4000,
  })
  await reader.sync('/tls')
  expect(new TextDecoder().decode((await reader.get('/tls')).data)).toBe('over tls')
  await writer.close()
  await reader.close()

  // The CLI takes the same CA: `conclave status` and `conclave shell` over TLS.
  const status = await run([
    CONCLAVE_CLI,
    'status',
    '--json',
    '--servers',
    members.map(wssUrl).join(','),
    '--tls-ca-file',
    ca.certFile,
  ])
  expect((JSON.parse(status) as { role: string }[]).map((s) => s.role).sort()).toEqual([
    'following',
    'following',
    'leading',
  ])
  expect(
    await run([
      CONCLAVE_CLI,
      'shell',
      '--servers',
      wssUrl(leader),
      '--tls-ca-file',
      ca.certFile,
      '-c',
      'get /tls',
    ]),
  ).toContain('over tls')

  // A client trusting another CA does not get in.
  await expect(
    connect({
      servers: [wssUrl(leader)],
      tls: { ca: readFileSync(rogueCa.certFile, 'utf8') },
      sessionTimeoutMs: 2000,
      connectTimeoutMs: 1500,
    }),
  ).rejects.toThrow()

  // Plain text on the TLS client port: HTTP gets a 400 saying to use TLS; the SDK over ws:// fails.
  const plain = await fetch(`http://127.0.0.1:${leader.clientPort}/health`)
  expect(plain.status).toBe(400)
  expect(await plain.text()).toMatch(/speaks TLS only: use wss:\/\//)
  await expect(
    connect({ servers: [leader.url], sessionTimeoutMs: 2000, connectTimeoutMs: 1500 }),
  ).rejects.toThrow()
}, 90_000)

it('a member without a certificate of the CA cannot link; with one it joins', async () => {
  const certs = new Map([1, 2].map((id) => [id, makeLeaf(dir, ca, `m${id}`, `member-${id}`)]))
  // Member 3's certificate is signed by the rogue CA (its own CA file still names the real one).
  certs.set(3, makeLeaf(dir, rogueCa, 'm3-rogue', 'member-3'))
  ensemble = await startTlsEnsemble([1, 2, 3], certs)
  const members = [1, 2, 3].map((id) => ensemble!.member(id))
  const member3 = members[2]!
  const first = await leaderWith(members.slice(0, 2), [])
  const leader = await leaderWith(members.slice(0, 2), [first.id === 1 ? 2 : 1])
  // The TLS handshake is refused by members 1 and 2 (they verify member 3's certificate).
  await waitFor(
    () =>
      members
        .slice(0, 2)
        .some((m) => m.logs.some((line) => line.includes('peer TLS handshake refused'))),
    { timeoutMs: 10_000, what: 'a refused peer TLS handshake logged' },
  )
  await new Promise((r) => setTimeout(r, 2000))
  const status = await tlsStatus(leader)
  expect(followerUp(status, 3)).toBe(false)
  const own = await tlsStatus(member3, rogueCa.certFile)
  expect(own.serving).not.toBe(true)

  // Control: the same member with a certificate of the CA joins.
  await member3.stop()
  const good = makeLeaf(dir, ca, 'm3-good', 'member-3')
  const config = JSON.parse(readFileSync(member3.configFile, 'utf8')) as Record<string, unknown>
  writeFileSync(
    member3.configFile,
    JSON.stringify({ ...config, tlsCertFile: good.certFile, tlsKeyFile: good.keyFile }, null, 2),
  )
  await member3.start()
  await leaderWith(
    members,
    members.filter((m) => m.id !== leader.id).map((m) => m.id),
  )
}, 90_000)

it('rotates certificates without a restart: on SIGHUP and when the files change', async () => {
  const certs = new Map([1, 2, 3].map((id) => [id, makeLeaf(dir, ca, `r${id}`, `member-${id}`)]))
  ensemble = await startTlsEnsemble([1, 2, 3], certs)
  const [m1, m2] = [ensemble.member(1), ensemble.member(2)]
  expect(await serverCertificate(m1.clientPort)).toBe(fingerprintOf(certs.get(1)!.certFile))

  // Member 1: replace the files, then SIGHUP.
  const next1 = makeLeaf(dir, ca, 'r1-next', 'member-1')
  copyFileSync(next1.keyFile, certs.get(1)!.keyFile)
  copyFileSync(next1.certFile, certs.get(1)!.certFile)
  process.kill(m1.pid!, 'SIGHUP')
  await waitFor(
    async () => (await serverCertificate(m1.clientPort)) === fingerprintOf(next1.certFile),
    { timeoutMs: 10_000, what: "member 1's client port to present the new certificate" },
  )

  // Member 2: replace the files only; the poll picks them up.
  const next2 = makeLeaf(dir, ca, 'r2-next', 'member-2')
  copyFileSync(next2.keyFile, certs.get(2)!.keyFile)
  copyFileSync(next2.certFile, certs.get(2)!.certFile)
  await waitFor(
    async () => (await serverCertificate(m2.clientPort)) === fingerprintOf(next2.certFile),
    { timeoutMs: 10_000, what: "member 2's client port to present the new certificate" },
  )
  // New peer links use the rotated certificates: member 3 restarts and dials 1 and 2.
  const members = [1, 2, 3].map((id) => ensemble!.member(id))
  await ensemble.member(3).restart()
  const leader = await leaderWith(members, [])
  await leaderWith(
    members,
    members.filter((m) => m !== leader).map((m) => m.id),
  )
  const client = await connect({
    servers: members.map(wssUrl),
    tls: { ca: readFileSync(ca.certFile, 'utf8') },
    sessionTimeoutMs: 4000,
  })
  await client.create('/rotated', 'yes')
  await client.close()
}, 90_000)
