/**
 * Peer authentication with real member processes. Members 1 and 2 of a 3-member
 * ensemble run; member 3's place is taken by an impostor: a real `conclave server`
 * with member 3's config but a different secret file.
 *
 * - The impostor and the members log the refusal; the impostor never gets a peer link
 *   up, never follows or leads, and never receives data (its zxid and znodes stay at
 *   their initial values while the ensemble writes).
 * - The ensemble never counts it: the leader's followers never show 3 connected, and
 *   with member 2 stopped, member 1 and the impostor together never form a quorum
 *   (member 1 stays looking while the impostor keeps trying).
 * - Raw clients on a member's peer port: a WebSocket client that claims id 3 and
 *   answers the challenge with a made-up proof gets the challenge and nothing more,
 *   then a close with AUTH_FAILED; one that sends a garbage frame is closed with
 *   PROTOCOL_ERROR; a raw TCP client sending junk is disconnected. The member logs
 *   the refusals and keeps serving.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import WebSocket from 'ws'
import { connect } from '../../client/index.js'
import { PeerCloseCode } from '../../server/net/peer-errors.js'
import {
  createNonce,
  decodeHandshakeMessage,
  encodeHandshakeMessage,
  PEER_PROTOCOL_VERSION,
} from '../../server/net/peer-handshake.js'
import { PEER_PATH } from '../../server/net/peer-links.js'
import { ensembleFingerprint, type PeerMember } from '../../server/net/peer-members.js'
import {
  finishEnsemble,
  memberFromConfig,
  startEnsemble,
  type Ensemble,
  type LogEntry,
  type Member,
} from '../helpers/ensemble.js'
import { waitFor, withDeadline } from '../helpers/wait.js'

let ensemble: Ensemble | undefined
let impostor: Member | undefined
afterEach(async (context) => {
  const failed = context.task.result?.state === 'fail'
  if (failed && impostor !== undefined)
    process.stderr.write(`impostor log:\n${impostor.logs.join('\n')}\n`)
  await impostor?.stop()
  impostor = undefined
  await finishEnsemble(ensemble, failed, context.task.name)
  ensemble = undefined
}, 30_000)

const refusalAbout = (peer: number) => (l: LogEntry) =>
  typeof l.msg === 'string' && l.msg.startsWith('peer link refused') && l.peer === peer

/** linkUpTo tells whether a member's /status shows its link to `peer` up. */
function linkUpTo(raw: Record<string, unknown>, peer: number): boolean {
  const links = raw.links as { id: number; state: string }[] | undefined
  return links?.some((l) => l.id === peer && l.state === 'up') ?? false
}

it(
  'a process with the wrong secret cannot join, vote or receive data; raw peer clients are refused',
  { timeout: 120_000 },
  async () => {
    const e = (ensemble = await startEnsemble({ size: 3, startIds: [1, 2], name: 'peer-auth' }))
    const { id: leaderId } = await e.leader()

    const wrongSecret = join(e.dir, 'wrong-secret')
    writeFileSync(wrongSecret, randomBytes(32).toString('hex'), { mode: 0o600 })
    impostor = memberFromConfig(
      { ...e.member(3).config, secretFile: wrongSecret, dataDir: join(e.dir, 'impostor-data') },
      e.dir,
      'impostor-3',
    )
    const marks = new Map(e.members.map((m) => [m.id, m.logs.length]))
    await impostor.start()
    // Both sides say why: the impostor cannot verify the members' proofs, the members see it give up.
    await impostor.waitForLog(
      (l) =>
        typeof l.msg === 'string' &&
        l.msg.startsWith('peer link refused') &&
        (l.codeName === 'AUTH_FAILED' || l.code === PeerCloseCode.AUTH_FAILED),
      {
        timeoutMs: 20_000,
        what: 'the impostor logging an authentication refusal',
      },
    )
    await waitFor(
      () => [1, 2].some((id) => e.member(id).entries(marks.get(id)).some(refusalAbout(3))),
      { timeoutMs: 20_000, what: 'a member logging the refusal of peer 3' },
    )

    // The ensemble writes; the impostor sees none of it and is never counted.
    const client = await connect({
      servers: [e.member(1).url, e.member(2).url],
      sessionTimeoutMs: 10_000,
    })
    try {
      await client.create('/auth', 'secret data')
      await Promise.all(Array.from({ length: 20 }, (_, i) => client.create(`/auth/n${i}`, 'x')))
    } finally {
      await client.close()
    }
    await e.converged({ ids: [1, 2] })
    const impostorStatus = await fetch(`${impostor.httpUrl}/status`).then(
      (r) => r.json() as Promise<Record<string, unknown>>,
    )
    expect(impostorStatus.role).toBe('looking')
    expect(impostorStatus.zxidDecimal).toBe('0')
    expect(linkUpTo(impostorStatus, 1) || linkUpTo(impostorStatus, 2)).toBe(false)
    const leader = await e.status(leaderId)
    expect(leader.followers?.find((f) => f.id === 3)?.connected ?? false).toBe(false)
    for (const id of [1, 2])
      expect(linkUpTo((await e.status(id)).raw, 3), `member ${id} link to 3`).toBe(false)

    // Raw clients on member 1's peer port.
    const members: PeerMember[] = e.members.map((m) => ({
      id: m.id,
      host: '127.0.0.1',
      peerPort: m.peerPort,
    }))
    const forged = await rawPeer(e.member(1).peerPort, (ws, frames) => {
      ws.send(
        encodeHandshakeMessage({
          type: 'hello',
          version: PEER_PROTOCOL_VERSION,
          fromId: 3,
          toId: 1,
          ensembleId: 'peer-auth',
          fingerprint: ensembleFingerprint(members),
          members,
          nonce: createNonce(),
        }),
      )
      return () => {
        if (frames.length === 1)
          ws.send(encodeHandshakeMessage({ type: 'proof', proof: new Uint8Array(randomBytes(32)) }))
      }
    })
    expect(forged.frames.map((f) => decodeHandshakeMessage(f))).toMatchObject([
      { ok: true, message: { type: 'challenge' } },
    ])
    expect(forged.closeCode).toBe(PeerCloseCode.AUTH_FAILED)

    const garbage = await rawPeer(e.member(1).peerPort, (ws) => {
      ws.send(new Uint8Array([0xc1, 0xff, 0x00, 0x13, 0x37]))
      return () => {}
    })
    expect(garbage.frames).toEqual([])
    expect(garbage.closeCode).toBe(PeerCloseCode.PROTOCOL_ERROR)

    const tcpReply = await rawTcp(
      e.member(1).peerPort,
      'GARBAGE /nothing HTTP/9.9\r\n\r\n\x00\x01\x02',
    )
    expect(tcpReply).not.toContain('conclave')
    await e
      .member(1)
      .waitForLog((l) => l.msg === 'peer link refused' && l.reason === 'authentication failed', {
        since: marks.get(1),
        what: 'member 1 logging the forged proof',
      })
    expect((await e.leader({ among: [1, 2] })).id).toBe(leaderId)

    // Without member 2, member 1 and the impostor are two of three: they must not form a quorum.
    await e.member(2).stop()
    // Member 1 notices it lost its peer within a leader timeout; from then on it must stay looking.
    await waitFor(async () => (await e.tryStatus(1))?.role === 'looking', {
      timeoutMs: 20_000,
      what: 'member 1 looking after member 2 stopped',
    })
    const mark = e.member(1).logs.length
    const roles = new Set<string>()
    await waitFor(
      async () => {
        for (const url of [e.member(1).httpUrl, impostor!.httpUrl]) {
          const s = await fetch(`${url}/status`).then((r) => r.json() as Promise<{ role: string }>)
          roles.add(s.role)
        }
        // Wait for three more refused attempts of the impostor, watching roles all along.
        return e.member(1).entries(mark).filter(refusalAbout(3)).length >= 3
      },
      {
        timeoutMs: 60_000,
        intervalMs: 50,
        what: 'three more refusals of the impostor at member 1',
      },
    )
    expect([...roles]).toEqual(['looking'])
    expect(e.unexpectedExits()).toEqual([])
  },
)

/**
 * rawPeer opens a WebSocket to a peer port, lets `start` send what it likes (it
 * returns a hook run on every frame received), and resolves with the frames received
 * and the close code once the member closes the connection.
 */
async function rawPeer(
  port: number,
  start: (ws: WebSocket, frames: Uint8Array[]) => () => void,
): Promise<{ frames: Uint8Array[]; closeCode: number }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${PEER_PATH}`, { perMessageDeflate: false })
  const frames: Uint8Array[] = []
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  ws.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const onFrame = start(ws, frames)
  ws.on('message', (data: Buffer) => {
    frames.push(new Uint8Array(data))
    onFrame()
  })
  const closeCode = await withDeadline(closed, 20_000, 'the member closing a raw peer connection')
  return { frames, closeCode }
}

/** rawTcp sends bytes to a port and resolves with whatever comes back before the member closes. */
async function rawTcp(port: number, bytes: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1')
  let received = ''
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')))
  socket.on('error', () => {})
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  socket.write(bytes, 'latin1')
  await withDeadline(
    new Promise<void>((resolve) => socket.once('close', () => resolve())),
    20_000,
    'the member closing a raw TCP connection',
  )
  return received
}
