/**
 * The peer-message shape check: every message kind survives msgpack and
 * decodePeerMessage unchanged (bigints stay bigints, bytes stay bytes), and
 * malformed values come back as a ProtocolError with a stable code naming the field.
 */
import { describe, expect, test } from 'vitest'
import {
  ErrorCode,
  ProtocolError,
  decodeMessage,
  decodePeerMessage,
  encodeMessage,
  makeZxid,
  type PeerMessage,
  type Txn,
} from '../../../protocol/index.js'

const txn: Txn = {
  zxid: makeZxid(3, 7),
  timeMs: 1_700_000_000_000,
  sessionId: 0x0100_0000_0000_0001n,
  xid: 12,
  op: { type: 'set', path: '/a', data: new Uint8Array([1, 2, 3]), version: 4 },
}

const samples: PeerMessage[] = [
  {
    type: 'vote',
    round: 4,
    state: 'looking',
    leader: 3,
    leaderZxid: makeZxid(2, 9),
    leaderEpoch: 2,
  },
  { type: 'followerInfo', acceptedEpoch: 3, currentEpoch: 2, lastLoggedZxid: makeZxid(2, 9) },
  { type: 'leaderInfo', epoch: 4 },
  { type: 'ackEpoch', epoch: 4, fresh: true, currentEpoch: 2, lastLoggedZxid: makeZxid(2, 9) },
  { type: 'diff', epoch: 4, txns: [txn], committedZxid: makeZxid(3, 6) },
  {
    type: 'diff',
    epoch: 4,
    txns: [txn],
    committedZxid: makeZxid(3, 6),
    throughZxid: makeZxid(3, 9),
  },
  {
    type: 'syncPart',
    epoch: 4,
    afterZxid: makeZxid(3, 7),
    txns: [{ ...txn, zxid: makeZxid(3, 8) }],
  },
  { type: 'trunc', epoch: 4, truncateAfter: makeZxid(3, 1), txns: [txn], committedZxid: 0n },
  {
    type: 'snap',
    epoch: 4,
    snapshot: { zxid: makeZxid(3, 6), data: { nodes: [['/a', new Uint8Array([9])]] } },
    txns: [txn],
    committedZxid: makeZxid(3, 6),
  },
  { type: 'newLeader', epoch: 4 },
  { type: 'ackNewLeader', epoch: 4, zxid: makeZxid(3, 7) },
  { type: 'upToDate', epoch: 4, committedZxid: makeZxid(3, 7) },
  { type: 'proposal', epoch: 4, txns: [txn, { ...txn, zxid: makeZxid(3, 8) }] },
  { type: 'ack', epoch: 4, zxid: makeZxid(3, 8) },
  { type: 'commit', epoch: 4, zxid: makeZxid(3, 8) },
  {
    type: 'ping',
    epoch: 4,
    seq: 17,
    committedZxid: makeZxid(3, 8),
    lastZxid: makeZxid(3, 9),
    established: true,
  },
  { type: 'pong', epoch: 4, seq: 17, sessions: [0x0200_0000_0000_0005n] },
  {
    type: 'request',
    epoch: 4,
    seq: 1,
    request: { origin: 2, sessionId: 5n, xid: 3, payload: { op: 'get', path: '/a' } },
  },
  { type: 'readIndex', epoch: 4, id: 9 },
  { type: 'readIndexOk', epoch: 4, id: 9, zxid: makeZxid(3, 8) },
]

const roundTrip = (value: unknown) => {
  const decoded = decodeMessage(encodeMessage(value))
  if (!decoded.ok) throw decoded.error
  return decodePeerMessage(decoded.value)
}

describe('decodePeerMessage', () => {
  test.each(samples.map((m) => [m.type, m] as const))(
    '%s survives the wire unchanged',
    (_type, message) => {
      expect(roundTrip(message)).toEqual(message)
    },
  )

  test.each([
    [{ type: 'nope' }, ErrorCode.MARSHALLING_ERROR, /unknown peer message type/],
    [{ type: 'ack', epoch: 1 }, ErrorCode.MARSHALLING_ERROR, /zxid/],
    [{ type: 'ack', epoch: -1, zxid: 1n }, ErrorCode.BAD_ARGUMENTS, /epoch/],
    [
      { type: 'vote', round: 1, state: 'confused', leader: 1, leaderZxid: 0n, leaderEpoch: 0 },
      ErrorCode.MARSHALLING_ERROR,
      /state/,
    ],
    [
      { type: 'vote', round: 1, state: 'looking', leader: 0, leaderZxid: 0n, leaderEpoch: 0 },
      ErrorCode.BAD_ARGUMENTS,
      /leader/,
    ],
    [
      {
        type: 'proposal',
        epoch: 1,
        txns: [{ zxid: 1n, timeMs: 0, sessionId: 0n, xid: 0, op: { type: 'explode' } }],
      },
      ErrorCode.MARSHALLING_ERROR,
      /op\.type/,
    ],
    [{ type: 'proposal', epoch: 1, txns: 'many' }, ErrorCode.MARSHALLING_ERROR, /txns/],
    [
      { type: 'snap', epoch: 1, snapshot: 5, txns: [], committedZxid: 0n },
      ErrorCode.MARSHALLING_ERROR,
      /snapshot/,
    ],
    [[1, 2, 3], ErrorCode.MARSHALLING_ERROR, /map/],
    [null, ErrorCode.MARSHALLING_ERROR, /map/],
  ])('refuses case %#', (value, code, message) => {
    const result = decodePeerMessage(value)
    expect(result).toBeInstanceOf(ProtocolError)
    expect((result as ProtocolError).code).toBe(code)
    expect((result as ProtocolError).message).toMatch(message)
  })
})

describe('txn bodies inside peer messages', () => {
  test('an invalid path in a proposed txn is BAD_ARGUMENTS', () => {
    const bad = {
      type: 'proposal',
      epoch: 1,
      txns: [{ ...txn, op: { type: 'delete', path: 'no-slash' } }],
    }
    const result = roundTrip(bad)
    expect(result).toBeInstanceOf(ProtocolError)
    expect((result as ProtocolError).code).toBe(ErrorCode.BAD_ARGUMENTS)
  })

  test('bytes inside opaque payloads come back as plain Uint8Array', () => {
    const message = {
      type: 'request',
      epoch: 1,
      seq: 1,
      request: { origin: 1, sessionId: 1n, xid: 1, payload: { data: new Uint8Array([7]) } },
    }
    const result = roundTrip(message) as Extract<PeerMessage, { type: 'request' }>
    const data = (result.request.payload as { data: Uint8Array }).data
    expect(data.constructor).toBe(Uint8Array)
    expect([...data]).toEqual([7])
  })
})
