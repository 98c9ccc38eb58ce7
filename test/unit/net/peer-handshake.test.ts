/**
 * The peer handshake's pure parts: proofs, the ensemble fingerprint, the member-list
 * difference named in refusal logs, the hello and challenge checks, and decoding of
 * handshake frames.
 *
 * Method: the proof properties are checked with fast-check over random secrets, ids
 * and nonces: a proof verifies only for the exact secret, role and transcript it was
 * made for (so a changed nonce, id, fingerprint or ensemble id, or a reflected proof,
 * fails). The checks are driven through each refusal case, and the decoder is fed
 * garbage, wrong shapes and another protocol version.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeMessage } from '../../../protocol/codec.js'
import { PeerCloseCode } from '../../../server/net/peer-errors.js'
import {
  NONCE_BYTES,
  PEER_PROTOCOL_VERSION,
  checkChallenge,
  checkHello,
  computeProof,
  createNonce,
  decodeHandshakeMessage,
  transcriptFor,
  verifyProof,
  type HandshakeTranscript,
  type LocalIdentity,
  type PeerChallenge,
  type PeerHello,
} from '../../../server/net/peer-handshake.js'
import {
  describeMemberDifference,
  ensembleFingerprint,
  validateMembers,
  type PeerMember,
} from '../../../server/net/peer-members.js'

const members: PeerMember[] = [
  { id: 1, host: '10.0.0.1', peerPort: 2888 },
  { id: 2, host: '10.0.0.2', peerPort: 2888 },
  { id: 3, host: '10.0.0.3', peerPort: 2888 },
]
const secret = new TextEncoder().encode('a shared secret of decent length')

function identity(selfId: number, list: PeerMember[] = members, ensembleId = ''): LocalIdentity {
  return { selfId, members: list, ensembleId, fingerprint: ensembleFingerprint(list) }
}

function hello(overrides: Partial<PeerHello> = {}): PeerHello {
  return {
    type: 'hello',
    version: PEER_PROTOCOL_VERSION,
    fromId: 3,
    toId: 1,
    ensembleId: '',
    fingerprint: ensembleFingerprint(members),
    members,
    nonce: createNonce(),
    ...overrides,
  }
}

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 })
const transcriptArb: fc.Arbitrary<HandshakeTranscript> = fc.record({
  ensembleId: fc.string({ maxLength: 20 }),
  fingerprint: bytes32,
  dialerId: fc.integer({ min: 1, max: 255 }),
  acceptorId: fc.integer({ min: 1, max: 255 }),
  dialerNonce: bytes32,
  acceptorNonce: bytes32,
})

describe('proofs', () => {
  it('verify for the same secret, role and transcript', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        transcriptArb,
        fc.constantFrom('dialer', 'acceptor' as const),
        (key, t, role) => {
          expect(verifyProof(key, role, t, computeProof(key, role, t))).toBe(true)
        },
      ),
    )
  })

  it('fail for another secret, the other role, or any changed transcript field', () => {
    const fields = [
      'ensembleId',
      'fingerprint',
      'dialerId',
      'acceptorId',
      'dialerNonce',
      'acceptorNonce',
    ] as const
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        transcriptArb,
        fc.constantFrom(...fields),
        (key, otherKey, t, field) => {
          const proof = computeProof(key, 'dialer', t)
          if (Buffer.compare(key, otherKey) !== 0)
            expect(verifyProof(otherKey, 'dialer', t, proof)).toBe(false)
          // Reflection: the acceptor's proof is not accepted as the dialer's.
          expect(verifyProof(key, 'acceptor', t, proof)).toBe(false)
          const changed = { ...t, [field]: mutate(t[field]) }
          expect(verifyProof(key, 'dialer', changed, proof)).toBe(false)
        },
      ),
    )
  })

  it('refuse a proof of the wrong length without throwing', () => {
    const t = transcriptFor(identity(1), 3, 1, createNonce(), createNonce())
    expect(verifyProof(secret, 'dialer', t, new Uint8Array(0))).toBe(false)
    expect(
      verifyProof(secret, 'dialer', t, computeProof(secret, 'dialer', t).subarray(0, 31)),
    ).toBe(false)
  })

  it('use fresh random nonces', () => {
    const a = createNonce()
    expect(a.length).toBe(NONCE_BYTES)
    expect(Buffer.compare(a, createNonce())).not.toBe(0)
  })
})

function mutate(value: string | number | Uint8Array): string | number | Uint8Array {
  if (typeof value === 'string') return value + 'x'
  if (typeof value === 'number') return value === 255 ? 1 : value + 1
  const copy = new Uint8Array(value)
  copy[0] = (copy[0] as number) ^ 0x01
  return copy
}

describe('ensemble fingerprint', () => {
  it('does not depend on the order members are listed in', () => {
    expect(ensembleFingerprint([...members].reverse())).toEqual(ensembleFingerprint(members))
  })

  it('changes with any id, host or port', () => {
    const base = ensembleFingerprint(members)
    const variants: PeerMember[][] = [
      [...members.slice(0, 2), { id: 4, host: '10.0.0.3', peerPort: 2888 }],
      [...members.slice(0, 2), { id: 3, host: '10.0.0.9', peerPort: 2888 }],
      [...members.slice(0, 2), { id: 3, host: '10.0.0.3', peerPort: 2889 }],
      members.slice(0, 2),
    ]
    for (const v of variants) expect(ensembleFingerprint(v)).not.toEqual(base)
  })

  it('is 32 bytes', () => {
    expect(ensembleFingerprint(members).length).toBe(32)
  })
})

describe('describeMemberDifference', () => {
  it('names members only one side has and members whose address differs', () => {
    const theirs: PeerMember[] = [
      members[0] as PeerMember,
      { id: 2, host: '10.0.0.2', peerPort: 2999 },
      { id: 4, host: '10.0.0.4', peerPort: 2888 },
    ]
    const text = describeMemberDifference(members, theirs)
    expect(text).toContain('only in our list: 3@10.0.0.3:2888')
    expect(text).toContain("only in the peer's list: 4@10.0.0.4:2888")
    expect(text).toContain('member 2 is 2@10.0.0.2:2888 here but 2@10.0.0.2:2999 at the peer')
  })

  it('is empty for equal lists in any order', () => {
    expect(describeMemberDifference(members, [...members].reverse())).toBe('')
  })
})

describe('validateMembers', () => {
  it('sorts by id and refuses bad lists with a message naming the problem', () => {
    expect(validateMembers([...members].reverse(), 2).map((m) => m.id)).toEqual([1, 2, 3])
    expect(() => validateMembers(members, 9)).toThrow(/selfId 9 is not in the member list/)
    expect(() => validateMembers([...members, members[0] as PeerMember], 1)).toThrow(
      /appears twice/,
    )
    expect(() => validateMembers([{ id: 0, host: 'h', peerPort: 1 }], 0)).toThrow(
      /member id must be an integer/,
    )
    expect(() => validateMembers([{ id: 1, host: '', peerPort: 1 }], 1)).toThrow(/host must be/)
    expect(() => validateMembers([{ id: 1, host: 'h', peerPort: 70000 }], 1)).toThrow(
      /peerPort must be/,
    )
    expect(() => validateMembers([], 1)).toThrow(/non-empty/)
  })
})

describe('checkHello (acceptor)', () => {
  const local = identity(1)

  it('accepts a hello from a larger member of the same ensemble', () => {
    expect(checkHello(hello(), local)).toBeNull()
  })

  it('refuses an unknown id, naming it and the members', () => {
    const refusal = checkHello(hello({ fromId: 9 }), local)
    expect(refusal?.code).toBe(PeerCloseCode.UNKNOWN_MEMBER)
    expect(refusal?.detail).toBe(
      'peer claims id 9, which is not a member of this ensemble (members: 1, 2, 3)',
    )
  })

  it('refuses a peer claiming our own id', () => {
    expect(checkHello(hello({ fromId: 1 }), local)?.code).toBe(PeerCloseCode.UNKNOWN_MEMBER)
  })

  it('refuses a hello meant for another member', () => {
    const refusal = checkHello(hello({ toId: 2 }), local)
    expect(refusal?.code).toBe(PeerCloseCode.WRONG_TARGET)
    expect(refusal?.detail).toContain('meant to reach member 2 but reached member 1')
  })

  it('refuses another ensemble id', () => {
    const refusal = checkHello(hello({ ensembleId: 'prod' }), identity(1, members, 'staging'))
    expect(refusal?.code).toBe(PeerCloseCode.ENSEMBLE_MISMATCH)
    expect(refusal?.detail).toContain("ensemble 'prod' but this is ensemble 'staging'")
  })

  it('refuses a different member list, naming the difference', () => {
    const theirs = [...members.slice(0, 2), { id: 3, host: '10.0.0.3', peerPort: 3888 }]
    const refusal = checkHello(
      hello({ members: theirs, fingerprint: ensembleFingerprint(theirs) }),
      local,
    )
    expect(refusal?.code).toBe(PeerCloseCode.ENSEMBLE_MISMATCH)
    expect(refusal?.detail).toContain(
      'member 3 is 3@10.0.0.3:2888 here but 3@10.0.0.3:3888 at the peer',
    )
  })

  it('refuses the smaller id dialing', () => {
    const refusal = checkHello(hello({ fromId: 1, toId: 2 }), identity(2))
    expect(refusal?.code).toBe(PeerCloseCode.WRONG_DIRECTION)
  })
})

describe('checkChallenge (dialer)', () => {
  const dialer = identity(3)
  const acceptor = identity(1)
  function challengeFor(
    dialerNonce: Uint8Array,
    key = secret,
    overrides: Partial<PeerChallenge> = {},
  ): PeerChallenge {
    const nonce = createNonce()
    const proof = computeProof(key, 'acceptor', transcriptFor(acceptor, 3, 1, dialerNonce, nonce))
    return {
      type: 'challenge',
      version: 1,
      fromId: 1,
      toId: 3,
      fingerprint: acceptor.fingerprint,
      nonce,
      proof,
      ...overrides,
    }
  }

  it('accepts the dialed member proving the secret', () => {
    const nonce = createNonce()
    expect(checkChallenge(challengeFor(nonce), dialer, 1, secret, nonce)).toBeNull()
  })

  it('refuses a proof made with another secret', () => {
    const nonce = createNonce()
    const refusal = checkChallenge(
      challengeFor(nonce, new TextEncoder().encode('another secret')),
      dialer,
      1,
      secret,
      nonce,
    )
    expect(refusal?.code).toBe(PeerCloseCode.AUTH_FAILED)
    expect(refusal?.detail).toContain('member 1 failed to prove the shared secret')
  })

  it('refuses a proof replayed from another connection (another dialer nonce)', () => {
    const old = challengeFor(createNonce())
    expect(checkChallenge(old, dialer, 1, secret, createNonce())?.code).toBe(
      PeerCloseCode.AUTH_FAILED,
    )
  })

  it('refuses an answer from another member, or for another ensemble', () => {
    const nonce = createNonce()
    expect(
      checkChallenge(challengeFor(nonce, secret, { fromId: 2 }), dialer, 1, secret, nonce)?.code,
    ).toBe(PeerCloseCode.WRONG_TARGET)
    const other = ensembleFingerprint(members.slice(0, 2))
    expect(
      checkChallenge(challengeFor(nonce, secret, { fingerprint: other }), dialer, 1, secret, nonce)
        ?.code,
    ).toBe(PeerCloseCode.ENSEMBLE_MISMATCH)
  })
})

describe('decodeHandshakeMessage', () => {
  it('round-trips every handshake message', () => {
    const h = hello()
    const decoded = decodeHandshakeMessage(encodeMessage(h))
    expect(decoded.ok && decoded.message).toEqual(h)
    expect(decodeHandshakeMessage(encodeMessage({ type: 'ready' }))).toEqual({
      ok: true,
      message: { type: 'ready' },
    })
  })

  it('refuses garbage, wrong shapes and unknown types as PROTOCOL_ERROR, never throwing', () => {
    const cases = [
      Uint8Array.of(0xc1),
      new TextEncoder().encode('GET / HTTP/1.1'),
      encodeMessage([1, 2, 3]),
      encodeMessage({ type: 'hello' }),
      encodeMessage({ ...hello(), nonce: new Uint8Array(5) }),
      encodeMessage({ ...hello(), fromId: 300 }),
      encodeMessage({ type: 'election', version: 1 }),
      new Uint8Array(200 * 1024),
    ]
    for (const frame of cases) {
      const decoded = decodeHandshakeMessage(frame)
      expect(decoded.ok).toBe(false)
      if (!decoded.ok) expect(decoded.refusal.code).toBe(PeerCloseCode.PROTOCOL_ERROR)
    }
  })

  it('refuses another protocol version as VERSION_MISMATCH, saying both versions', () => {
    const decoded = decodeHandshakeMessage(encodeMessage({ ...hello(), version: 2 }))
    expect(decoded.ok).toBe(false)
    if (!decoded.ok) {
      expect(decoded.refusal.code).toBe(PeerCloseCode.VERSION_MISMATCH)
      expect(decoded.refusal.detail).toBe(
        'peer speaks peer protocol version 2; this member speaks 1',
      )
    }
  })
})
