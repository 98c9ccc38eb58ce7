/**
 * PeerLinks against hostile or misconfigured connections on its peer port. The member
 * under test is id 2 of the ensemble {1, 2, 3}: member 3 may dial it, member 1 may not.
 * Raw WebSocket clients play the other side byte by byte, computing proofs with the
 * right or a wrong secret, so each refusal path is reached exactly.
 *
 * What must hold: garbage, text frames, early data, a wrong or missing proof, an
 * unknown id, another member list, another ensemble id, the wrong dial direction and a
 * silent connection are all closed with their 41xx code and a logged reason, and no
 * message from such a connection ever reaches the handler. After authentication, an
 * undecodable frame closes the link and is never delivered. A fake acceptor that
 * cannot prove the secret is refused by the dialer. Caller mistakes get typed errors.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { encodeMessage } from '../../../protocol/codec.js'
import { PeerCloseCode, PeerLinksError } from '../../../server/net/peer-errors.js'
import {
  PEER_PROTOCOL_VERSION,
  computeProof,
  createNonce,
  decodeHandshakeMessage,
  transcriptFor,
  type HandshakeMessage,
  type LocalIdentity,
  type PeerChallenge,
} from '../../../server/net/peer-handshake.js'
import { PEER_PATH, PeerLinks } from '../../../server/net/peer-links.js'
import { ensembleFingerprint, type PeerMember } from '../../../server/net/peer-members.js'
import { waitFor, withDeadline } from '../../helpers/wait.js'
import {
  Directory,
  FRAME_BYTES_MAX,
  SECRET,
  captureLogger,
  membersOf,
  startMember,
  type Member,
} from './peer-test-kit.js'

const members = membersOf([1, 2, 3])
const WRONG_SECRET = new TextEncoder().encode('not-the-ensemble-secret-at-all!!')
let member: Member

beforeEach(async () => {
  // Member 1 is never started: member 2's dials to it fail quietly in the background.
  member = await startMember(2, members, new Directory(), {
    handshakeTimeoutMs: 400,
    keepAliveMs: 0,
  })
})
afterEach(async () => {
  await member.links.close()
})

/** RawPeer is a hand-driven WebSocket to the member's peer port. */
interface RawPeer {
  ws: WebSocket
  closed: Promise<{ code: number; reason: string }>
  next(): Promise<HandshakeMessage>
}

async function rawDial(port: number): Promise<RawPeer> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${PEER_PATH}`)
  const inbox: HandshakeMessage[] = []
  const waiters: ((m: HandshakeMessage) => void)[] = []
  ws.on('message', (data: Buffer) => {
    const decoded = decodeHandshakeMessage(new Uint8Array(data))
    if (!decoded.ok) return // a data frame after the handshake: the test reads those itself
    const waiter = waiters.shift()
    if (waiter) waiter(decoded.message)
    else inbox.push(decoded.message)
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  )
  ws.on('error', () => {})
  await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject))
  const next = () => {
    const queued = inbox.shift()
    return queued
      ? Promise.resolve(queued)
      : withDeadline(
          new Promise<HandshakeMessage>((resolve) => waiters.push(resolve)),
          5000,
          'a handshake message',
        )
  }
  return { ws, closed, next }
}

interface HelloOptions {
  fromId?: number
  toId?: number
  members?: PeerMember[]
  ensembleId?: string
}

/** sendHello sends a hello as `fromId` and returns the nonce used. */
function sendHello(peer: RawPeer, options: HelloOptions = {}): Uint8Array {
  const list = options.members ?? members
  const nonce = createNonce()
  peer.ws.send(
    encodeMessage({
      type: 'hello',
      version: PEER_PROTOCOL_VERSION,
      fromId: options.fromId ?? 3,
      toId: options.toId ?? 2,
      ensembleId: options.ensembleId ?? '',
      fingerprint: ensembleFingerprint(list),
      members: list,
      nonce,
    }),
  )
  return nonce
}

const identity = (selfId: number): LocalIdentity => ({
  selfId,
  members,
  ensembleId: '',
  fingerprint: ensembleFingerprint(members),
})

/** authenticate runs the whole dialer side as member 3 with `secret`; resolves after the proof is sent. */
async function authenticate(peer: RawPeer, secret: Uint8Array): Promise<void> {
  const nonce = sendHello(peer)
  const challenge = (await peer.next()) as PeerChallenge
  expect(challenge.type).toBe('challenge')
  const proof = computeProof(
    secret,
    'dialer',
    transcriptFor(identity(3), 3, 2, nonce, challenge.nonce),
  )
  peer.ws.send(encodeMessage({ type: 'proof', proof }))
}

function expectRefusal(codeName: string, detail: RegExp | string): void {
  const lines = member.log.find('peer link refused', { codeName })
  expect(
    lines.length,
    `a 'peer link refused' line with ${codeName}; got ${JSON.stringify(member.log.lines.filter((l) => l.level >= 40))}`,
  ).toBe(1)
  expect(lines[0]?.detail).toMatch(detail)
}

function expectNothingDelivered(): void {
  expect(member.seen.messages).toEqual([])
  expect(member.seen.linkChanges).toEqual([])
  expect(member.links.isUp(3)).toBe(false)
}

describe('before authentication', () => {
  it('closes a connection that sends garbage', async () => {
    const peer = await rawDial(member.links.port)
    peer.ws.send(Uint8Array.of(0xc1, 0xff, 0x00, 0x13))
    expect(await peer.closed).toEqual({
      code: PeerCloseCode.PROTOCOL_ERROR,
      reason: 'undecodable handshake frame',
    })
    expectRefusal('PROTOCOL_ERROR', /not a msgpack frame/)
    expectNothingDelivered()
  })

  it('closes a connection that sends a text frame', async () => {
    const peer = await rawDial(member.links.port)
    peer.ws.send('hello')
    expect((await peer.closed).code).toBe(PeerCloseCode.PROTOCOL_ERROR)
    expectRefusal('PROTOCOL_ERROR', 'peer sent a text frame')
  })

  it('never delivers election messages sent instead of a handshake', async () => {
    const peer = await rawDial(member.links.port)
    peer.ws.send(encodeMessage([{ type: 'vote', leader: 3, zxid: 99n }]))
    expect((await peer.closed).code).toBe(PeerCloseCode.PROTOCOL_ERROR)
    expectNothingDelivered()
  })

  it('refuses a wrong proof (wrong secret) and delivers nothing sent after it', async () => {
    const peer = await rawDial(member.links.port)
    await authenticate(peer, WRONG_SECRET)
    peer.ws.send(encodeMessage([{ type: 'vote', leader: 3 }]))
    expect(await peer.closed).toEqual({
      code: PeerCloseCode.AUTH_FAILED,
      reason: 'authentication failed',
    })
    expectRefusal('AUTH_FAILED', 'member 3 failed to prove the shared secret (wrong secret?)')
    expectNothingDelivered()
  })

  it('refuses data in place of the proof', async () => {
    const peer = await rawDial(member.links.port)
    sendHello(peer)
    expect((await peer.next()).type).toBe('challenge')
    peer.ws.send(encodeMessage([{ type: 'vote', leader: 3 }]))
    expect((await peer.closed).code).toBe(PeerCloseCode.PROTOCOL_ERROR)
    expectNothingDelivered()
  })

  it('closes a connection that stays silent past the handshake timeout', async () => {
    const peer = await rawDial(member.links.port)
    expect(await peer.closed).toEqual({
      code: PeerCloseCode.HANDSHAKE_TIMEOUT,
      reason: 'handshake timed out',
    })
    expectRefusal(
      'HANDSHAKE_TIMEOUT',
      /no complete handshake within 400 ms \(waiting for 'hello'\)/,
    )
  })

  it('closes a connection that stops after the hello (missing proof) at the timeout', async () => {
    const peer = await rawDial(member.links.port)
    sendHello(peer)
    expect((await peer.closed).code).toBe(PeerCloseCode.HANDSHAKE_TIMEOUT)
    expectRefusal('HANDSHAKE_TIMEOUT', /waiting for 'proof'/)
    expectNothingDelivered()
  })

  it('refuses an unknown member id, naming it', async () => {
    const peer = await rawDial(member.links.port)
    sendHello(peer, { fromId: 9 })
    expect(await peer.closed).toEqual({
      code: PeerCloseCode.UNKNOWN_MEMBER,
      reason: 'unknown member id',
    })
    expectRefusal(
      'UNKNOWN_MEMBER',
      'peer claims id 9, which is not a member of this ensemble (members: 1, 2, 3)',
    )
  })

  it('refuses a different member list, naming the difference', async () => {
    const theirs = [
      ...members.slice(0, 2),
      { id: 3, host: '127.0.0.1', peerPort: 29_999 },
      { id: 4, host: '127.0.0.1', peerPort: 20_004 },
    ]
    const peer = await rawDial(member.links.port)
    sendHello(peer, { members: theirs })
    expect((await peer.closed).code).toBe(PeerCloseCode.ENSEMBLE_MISMATCH)
    expectRefusal(
      'ENSEMBLE_MISMATCH',
      "member 3 has a different member list: only in the peer's list: 4@127.0.0.1:20004; member 3 is 3@127.0.0.1:20003 here but 3@127.0.0.1:29999 at the peer",
    )
  })

  it('refuses another ensemble id', async () => {
    const peer = await rawDial(member.links.port)
    sendHello(peer, { ensembleId: 'other' })
    expect((await peer.closed).code).toBe(PeerCloseCode.ENSEMBLE_MISMATCH)
    expectRefusal(
      'ENSEMBLE_MISMATCH',
      "member 3 belongs to ensemble 'other' but this is ensemble ''",
    )
  })

  it('refuses the smaller id dialing the larger', async () => {
    const peer = await rawDial(member.links.port)
    sendHello(peer, { fromId: 1 })
    expect((await peer.closed).code).toBe(PeerCloseCode.WRONG_DIRECTION)
    expectRefusal(
      'WRONG_DIRECTION',
      'member 1 dialed member 2, but only the larger id of a pair dials',
    )
  })

  it('refuses a hello meant for another member', async () => {
    const peer = await rawDial(member.links.port)
    sendHello(peer, { toId: 1 })
    expect((await peer.closed).code).toBe(PeerCloseCode.WRONG_TARGET)
    expectRefusal('WRONG_TARGET', 'member 3 meant to reach member 1 but reached member 2')
  })
})

describe('after authentication', () => {
  async function authenticated(): Promise<RawPeer> {
    const peer = await rawDial(member.links.port)
    await authenticate(peer, SECRET)
    expect((await peer.next()).type).toBe('ready')
    await waitFor(() => member.links.isUp(3), { what: 'link to 3 up' })
    return peer
  }

  it('delivers frames in order, then closes on garbage without delivering it', async () => {
    const peer = await authenticated()
    peer.ws.send(encodeMessage([{ n: 1 }, { n: 2 }]))
    peer.ws.send(Uint8Array.of(0x92, 0x01))
    peer.ws.send(encodeMessage([{ n: 3 }]))
    expect((await peer.closed).code).toBe(PeerCloseCode.PROTOCOL_ERROR)
    expect(member.seen.messages).toEqual([
      { from: 3, message: { n: 1 } },
      { from: 3, message: { n: 2 } },
    ])
    const closedLine = member.log.find('peer link closed', { codeName: 'PROTOCOL_ERROR', peer: 3 })
    expect(closedLine[0]?.detail).toMatch(/undecodable frame of 2 bytes/)
    expect(member.seen.linkChanges).toEqual([
      { peer: 3, up: true },
      { peer: 3, up: false },
    ])
  })

  it('closes on a frame that is msgpack but not an array of messages, or text', async () => {
    const first = await authenticated()
    first.ws.send(encodeMessage({ type: 'vote' }))
    expect((await first.closed).code).toBe(PeerCloseCode.PROTOCOL_ERROR)
    const second = await authenticated()
    second.ws.send('[]')
    expect((await second.closed).code).toBe(PeerCloseCode.PROTOCOL_ERROR)
    expect(member.seen.messages).toEqual([])
  })

  it('closes on a frame over frameBytesMax (1009) without delivering it', async () => {
    const peer = await authenticated()
    peer.ws.send(encodeMessage([new Uint8Array(FRAME_BYTES_MAX + 1)]))
    expect((await peer.closed).code).toBe(1009)
    await waitFor(() => !member.links.isUp(3), { what: 'link down' })
    expect(member.seen.messages).toEqual([])
  })

  it('replaces an older connection from the same peer with a newer one, once authenticated', async () => {
    const old = await authenticated()
    // A stranger dialing in member 3's name cannot kick it off: it fails authentication.
    const impostor = await rawDial(member.links.port)
    await authenticate(impostor, WRONG_SECRET)
    expect((await impostor.closed).code).toBe(PeerCloseCode.AUTH_FAILED)
    expect(member.links.isUp(3)).toBe(true)

    const fresh = await authenticated()
    expect((await old.closed).code).toBe(PeerCloseCode.SUPERSEDED)
    fresh.ws.send(encodeMessage(['via the new link']))
    await waitFor(() => member.seen.messages.length === 1, { what: 'message on the new link' })
    expect(member.seen.linkChanges).toEqual([
      { peer: 3, up: true },
      { peer: 3, up: false },
      { peer: 3, up: true },
    ])
    expect(member.links.isUp(3)).toBe(true)
    fresh.ws.close()
  })

  it('sends frames that a peer receives as arrays of messages', async () => {
    const peer = await authenticated()
    const frames: unknown[] = []
    peer.ws.on('message', (data: Buffer) => frames.push(data))
    expect(member.links.sendMany(3, [{ a: 1 }, { b: 2 }])).toBe(true)
    await waitFor(() => frames.length === 1, { what: 'one frame' })
    const { decodeMessage } = await import('../../../protocol/codec.js')
    expect(decodeMessage(new Uint8Array(frames[0] as Buffer))).toEqual({
      ok: true,
      value: [{ a: 1 }, { b: 2 }],
    })
    peer.ws.close()
  })
})

describe('the dialer side', () => {
  it('refuses an acceptor that cannot prove the secret, and sends it no proof', async () => {
    // A fake member 1 that answers with a proof made from the wrong secret.
    const received: HandshakeMessage['type'][] = []
    const server = http.createServer()
    const wss = new WebSocketServer({ server })
    const closed = new Promise<number>((resolve) => {
      wss.on('connection', (ws) => {
        ws.on('close', (code) => resolve(code))
        ws.on('message', (data: Buffer) => {
          const decoded = decodeHandshakeMessage(new Uint8Array(data))
          if (!decoded.ok) return
          received.push(decoded.message.type)
          if (decoded.message.type !== 'hello') return
          const nonce = createNonce()
          const proof = computeProof(
            WRONG_SECRET,
            'acceptor',
            transcriptFor(identity(1), 2, 1, decoded.message.nonce, nonce),
          )
          const fingerprint = ensembleFingerprint(members)
          ws.send(
            encodeMessage({
              type: 'challenge',
              version: 1,
              fromId: 1,
              toId: 2,
              fingerprint,
              nonce,
              proof,
            }),
          )
        })
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const directory = new Directory()
    directory.ports.set(1, (server.address() as AddressInfo).port)
    const dialer = await startMember(2, members, directory, { keepAliveMs: 0 })
    try {
      expect(await withDeadline(closed, 5000, 'the dialer closing')).toBe(PeerCloseCode.AUTH_FAILED)
      const lines = dialer.log.find('peer link refused', { codeName: 'AUTH_FAILED', peer: 1 })
      expect(lines[0]?.detail).toBe('member 1 failed to prove the shared secret (wrong secret?)')
      expect(received).toEqual(['hello'])
      expect(dialer.links.isUp(1)).toBe(false)
    } finally {
      await dialer.links.close()
      wss.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})

describe('the peer port', () => {
  it('answers plain HTTP with 426 and other WebSocket paths with 404', async () => {
    const response = await fetch(`http://127.0.0.1:${member.links.port}/status`)
    expect(response.status).toBe(426)
    const ws = new WebSocket(`ws://127.0.0.1:${member.links.port}/elsewhere`)
    ws.on('error', () => {})
    const status = await new Promise<number>((resolve) =>
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    )
    expect(status).toBe(404)
    ws.terminate()
  })
})

describe('caller mistakes', () => {
  it('are typed errors: unknown peer, oversized message, invalid options', async () => {
    const code = (f: () => unknown) => {
      try {
        f()
      } catch (err) {
        expect(err).toBeInstanceOf(PeerLinksError)
        return (err as PeerLinksError).code
      }
      return 'no error'
    }
    expect(code(() => member.links.send(9, 'x'))).toBe('UNKNOWN_PEER')
    expect(code(() => member.links.send(2, 'x'))).toBe('UNKNOWN_PEER')
    expect(member.links.send(3, 'x')).toBe(false)
    await authenticate(await rawDial(member.links.port), SECRET)
    await waitFor(() => member.links.isUp(3), { what: 'link to 3 up' })
    expect(code(() => member.links.send(3, new Uint8Array(FRAME_BYTES_MAX)))).toBe(
      'MESSAGE_TOO_LARGE',
    )
    const base = {
      selfId: 1,
      host: '127.0.0.1',
      peerPort: 0,
      members,
      secret: SECRET,
      frameBytesMax: FRAME_BYTES_MAX,
      logger: captureLogger().logger,
    }
    const invalid: [string, object][] = [
      ['selfId', { selfId: 7 }],
      ['secret', { secret: new Uint8Array(0) }],
      ['frameBytesMax', { frameBytesMax: 100 }],
      ['peerPort', { peerPort: -1 }],
      ['sendQueueBytesMax', { sendQueueBytesMax: 10 }],
    ]
    for (const [name, override] of invalid) {
      const err = await PeerLinks.start({ ...base, ...override }).catch((e: unknown) => e)
      expect(err, name).toBeInstanceOf(PeerLinksError)
      expect((err as PeerLinksError).code, name).toBe('INVALID_OPTIONS')
      expect((err as PeerLinksError).message, name).toContain(name)
    }
  })
})
