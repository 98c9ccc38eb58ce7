/**
 * The peer port's door against strangers (peer-gate.ts): the handshake deadline counted
 * from the TCP accept, the bound per remote address, the strangers' pool and the
 * members' reserve, with real sockets. Members are listed at 127.0.0.1; strangers
 * connect from other loopback addresses (127.0.0.2, ...) so they are told apart by
 * address, except in the test where the attacker shares the members' address.
 *
 * What must hold: a stranger that never completes its upgrade request is cut at the
 * deadline; one address cannot hold more than its bound, a newcomer displacing the
 * oldest silent connection, else the oldest that only sent a hello, and being refused
 * (503) only when every one is vouched for by an admission token; strangers from other
 * addresses never displace a connection from a member's address; an attacker at the
 * member's own address that keeps re-opening silent connections does not keep the
 * member from linking; and the log lines they cause are rate-limited and carry none of
 * their bytes.
 */
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { encodeMessage } from '../../../protocol/codec.js'
import { DEFAULT_LOG_LIMITS } from '../../../server/net/log-limiter.js'
import { PeerCloseCode } from '../../../server/net/peer-errors.js'
import { ADMISSION_HEADER, createAdmissionToken } from '../../../server/net/peer-admission-token.js'
import {
  PEER_PROTOCOL_VERSION,
  createNonce,
  decodeHandshakeMessage,
  type LocalIdentity,
} from '../../../server/net/peer-handshake.js'
import { PEER_PATH, type PeerLinksOptions } from '../../../server/net/peer-links.js'
import { ensembleFingerprint } from '../../../server/net/peer-members.js'
import { waitFor, withDeadline } from '../../helpers/wait.js'
import { Directory, SECRET, membersOf, startMember, type Member } from './peer-test-kit.js'

const members = membersOf([1, 2, 3])
const DISPLACED =
  'peer connection displaced: it had not proven itself and a newer connection needed its slot'
const member3Identity: LocalIdentity = {
  selfId: 3,
  members,
  ensembleId: '',
  fingerprint: ensembleFingerprint(members),
}
const MARKER = 'EVIL-MARKER-BYTES'
const started: Member[] = []
const sockets: { destroy(): void }[] = []

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await Promise.all(started.splice(0).map((m) => m.links.close()))
})

/** startAcceptor starts member 2 (member 3 may dial it) with the given gate settings. */
async function startAcceptor(
  directory: Directory,
  overrides: Partial<PeerLinksOptions>,
): Promise<Member> {
  const member = await startMember(2, members, directory, { keepAliveMs: 0, ...overrides })
  started.push(member)
  return member
}

/** Stranger is a WebSocket to the peer port from `localAddress`, with its fate as promises. */
interface Stranger {
  ws: WebSocket
  /** outcome: 'open', or the HTTP status it was refused with. */
  outcome: Promise<'open' | number>
  closed: Promise<number>
}

function stranger(
  port: number,
  localAddress: string,
  headers: Record<string, string> = {},
): Stranger {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${PEER_PATH}`, { localAddress, headers })
  ws.on('error', () => {})
  sockets.push({ destroy: () => ws.terminate() })
  const outcome = new Promise<'open' | number>((resolve) => {
    ws.once('open', () => resolve('open'))
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
    ws.once('close', () => resolve(0))
  })
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  return { ws, outcome, closed }
}

/** helloAsMember3 sends a hello that passes checkHello (the member list is no secret) and waits for the challenge. */
async function helloAsMember3(s: Stranger): Promise<void> {
  expect(await s.outcome).toBe('open')
  const challenge = new Promise<string>((resolve) =>
    s.ws.once('message', (data: Buffer) => {
      const decoded = decodeHandshakeMessage(new Uint8Array(data))
      resolve(decoded.ok ? decoded.message.type : 'undecodable')
    }),
  )
  s.ws.send(
    encodeMessage({
      type: 'hello',
      version: PEER_PROTOCOL_VERSION,
      fromId: 3,
      toId: 2,
      ensembleId: '',
      fingerprint: ensembleFingerprint(members),
      members,
      nonce: createNonce(),
    }),
  )
  expect(await withDeadline(challenge, 5000, 'the challenge')).toBe('challenge')
}

function expectNoMarkerLogged(member: Member): void {
  const leaked = member.log.lines.filter((l) => JSON.stringify(l).includes(MARKER))
  expect(leaked, 'log lines carrying the stranger bytes').toEqual([])
}

describe('the handshake deadline', () => {
  it('cuts a connection that trickles its upgrade request, from the TCP accept, logging none of its bytes', async () => {
    const member = await startAcceptor(new Directory(), { handshakeTimeoutMs: 300 })
    const request = `GET ${PEER_PATH} HTTP/1.1\r\nHost: x\r\nX-${MARKER}: ${MARKER}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`
    const socket = net.connect({
      host: '127.0.0.1',
      port: member.links.port,
      localAddress: '127.0.0.2',
    })
    sockets.push(socket)
    socket.on('error', () => {})
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    let sent = 0
    // One byte every 20 ms: the whole request would take seconds, far past the deadline.
    const trickle = setInterval(() => {
      if (sent < request.length && !socket.destroyed) socket.write(request[sent++] as string)
    }, 20)
    try {
      await withDeadline(closed, 5000, 'the trickling connection to be cut')
    } finally {
      clearInterval(trickle)
    }
    expect(sent, 'the upgrade request was cut before it was complete').toBeLessThan(request.length)
    const cut = member.log.find(
      'peer connection cut: no WebSocket upgrade within the handshake deadline',
    )
    expect(cut).toHaveLength(1)
    expect(cut[0]).toMatchObject({
      stage: 'http',
      timeoutMs: 300,
      remote: expect.stringMatching(/^127\.0\.0\.2:/),
    })
    expectNoMarkerLogged(member)
    await waitFor(() => member.links.handshakeSlots().pending === 0, {
      what: 'the slot to be freed',
    })
  })

  it('closes an upgraded connection that never sends its hello with HANDSHAKE_TIMEOUT', async () => {
    const member = await startAcceptor(new Directory(), { handshakeTimeoutMs: 300 })
    const s = stranger(member.links.port, '127.0.0.2')
    expect(await s.outcome).toBe('open')
    expect(await withDeadline(s.closed, 5000, 'the close')).toBe(PeerCloseCode.HANDSHAKE_TIMEOUT)
    expect(member.links.handshakeSlots().pending).toBe(0)
  })
})

describe('the bound per address', () => {
  it('lets a newcomer displace the oldest silent, then hello-only, connection of its address; refuses it once all are vouched', async () => {
    const member = await startAcceptor(new Directory(), {
      handshakeTimeoutMs: 10_000,
      handshakesPerAddressMax: 2,
    })
    const port = member.links.port
    const silent = [stranger(port, '127.0.0.2'), stranger(port, '127.0.0.2')]
    for (const s of silent) expect(await s.outcome).toBe('open')
    const newcomer = stranger(port, '127.0.0.2')
    expect(await newcomer.outcome).toBe('open')
    expect(await withDeadline(silent[0]!.closed, 5000, 'the oldest to be displaced')).toBe(
      PeerCloseCode.BUSY,
    )
    expect(member.log.find(DISPLACED)).toHaveLength(1)

    const helloed = [stranger(port, '127.0.0.3'), stranger(port, '127.0.0.3')]
    for (const s of helloed) await helloAsMember3(s)
    expect(await stranger(port, '127.0.0.3').outcome).toBe('open')
    expect(
      await withDeadline(
        helloed[0]!.closed,
        5000,
        'the oldest hello-only connection to be displaced',
      ),
    ).toBe(PeerCloseCode.BUSY)

    const token = () => ({
      [ADMISSION_HEADER]: createAdmissionToken(SECRET, member3Identity, 2, Date.now()),
    })
    const vouched = [stranger(port, '127.0.0.5', token()), stranger(port, '127.0.0.5', token())]
    for (const s of vouched) expect(await s.outcome).toBe('open')
    expect(await stranger(port, '127.0.0.5').outcome).toBe(503)
    expect(
      member.log.find('peer connection refused: too many handshakes in progress', {
        limit: 'perAddress',
      }),
    ).toHaveLength(1)
    // Another address is not held to 127.0.0.3's bound.
    expect(await stranger(port, '127.0.0.4').outcome).toBe('open')
  })
})

describe("the members' reserve", () => {
  it("keeps a connection from a member's address while strangers churn through their whole pool, and rate-limits the lines", async () => {
    const directory = new Directory()
    const member = await startAcceptor(directory, {
      handshakeTimeoutMs: 10_000,
      handshakesPerAddressMax: 1,
      strangerHandshakesMax: 2,
    })
    const port = member.links.port
    // Silent, from the members' address: a stranger there could displace it, strangers elsewhere must not.
    const fromMemberAddress = stranger(port, '127.0.0.1')
    expect(await fromMemberAddress.outcome).toBe('open')
    const flood = Array.from({ length: 3 * DEFAULT_LOG_LIMITS.linesMax }, (_, i) =>
      stranger(port, `127.0.1.${i + 1}`),
    )
    for (const s of flood) expect(await s.outcome).toBe('open')
    let displaced = 0
    for (const s of flood) void s.closed.then(() => displaced++)
    await waitFor(() => displaced === flood.length - 2, {
      what: "the flood to displace itself down to the strangers' pool",
    })
    expect(
      fromMemberAddress.ws.readyState,
      'the connection from the member address is still open',
    ).toBe(WebSocket.OPEN)
    expect(member.links.handshakeSlots()).toMatchObject({ pending: 3, strangers: 2 })
    expect(member.log.find(DISPLACED, { limit: 'strangers' }).length).toBe(
      DEFAULT_LOG_LIMITS.linesMax,
    )

    const member3 = await startMember(3, members, directory, { keepAliveMs: 0 })
    started.push(member3)
    await waitFor(() => member.links.isUp(3) && member3.links.isUp(2), {
      timeoutMs: 5000,
      what: 'member 3 linked to member 2',
    })
  })

  it("links a member while an attacker at the member's own address keeps re-opening silent connections", async () => {
    const directory = new Directory()
    const member = await startAcceptor(directory, {
      handshakeTimeoutMs: 10_000,
      memberHandshakesPerAddressMax: 4,
    })
    const port = member.links.port
    let attacking = true
    let opened = 0
    const attack = () => {
      if (!attacking) return
      const s = stranger(port, '127.0.0.1')
      opened++
      void s.closed.then(attack)
    }
    for (let i = 0; i < 8; i++) attack()
    await waitFor(() => member.links.handshakeSlots().pending === 4, {
      what: 'the attacker to hold every slot of 127.0.0.1',
    })
    try {
      const member3 = await startMember(3, members, directory, { keepAliveMs: 0 })
      started.push(member3)
      await waitFor(() => member.links.isUp(3), {
        timeoutMs: 5000,
        what: 'member 3 linked to member 2',
      })
    } finally {
      attacking = false
    }
    expect(opened).toBeGreaterThan(8)
    expect(member.log.find(DISPLACED).length).toBeGreaterThan(0)
  })
})
