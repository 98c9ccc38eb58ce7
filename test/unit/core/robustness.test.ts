/**
 * The core survives nonsense. fast-check generates well-typed peer messages with
 * small value ranges (so stale, future, duplicate and out-of-phase values are
 * common), sends them from members, non-members and the server itself to peers in
 * every role and phase, interleaved with ticks and Ready hand-offs. Nothing may
 * throw, and every peer's invariants must hold after every step.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { makeZxid, type PeerMessage, type Txn } from '../../../protocol/index.js'
import { checkInvariants } from '../../../server/core/index.js'
import { Cluster } from '../../scenario/harness.js'

// The clusters below live in epoch 1, so values near it are the likeliest, to reach deep paths.
const epoch = fc.oneof(
  { weight: 3, arbitrary: fc.constant(1) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 4 }) },
)
const zxid = fc.tuple(epoch, fc.integer({ min: 0, max: 5 })).map(([e, c]) => makeZxid(e, c))
const txn: fc.Arbitrary<Txn> = zxid.map((z) => ({
  zxid: z,
  timeMs: 0,
  sessionId: 0n,
  xid: 0,
  op: { type: 'error', code: 0 },
}))
const txns = fc.array(txn, { maxLength: 4 })
const id = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 4, max: 5 }) },
)
const seq = fc.integer({ min: 0, max: 6 })

const message: fc.Arbitrary<PeerMessage> = fc.oneof(
  fc.record({
    type: fc.constant('vote' as const),
    round: seq,
    state: fc.constantFrom('looking' as const, 'following' as const, 'leading' as const),
    leader: id,
    leaderZxid: zxid,
    leaderEpoch: epoch,
  }),
  fc.record({
    type: fc.constant('followerInfo' as const),
    acceptedEpoch: epoch,
    currentEpoch: epoch,
    lastLoggedZxid: zxid,
  }),
  fc.record({ type: fc.constant('leaderInfo' as const), epoch }),
  fc.record({
    type: fc.constant('ackEpoch' as const),
    epoch,
    fresh: fc.boolean(),
    currentEpoch: epoch,
    lastLoggedZxid: zxid,
  }),
  fc.record(
    { type: fc.constant('diff' as const), epoch, txns, committedZxid: zxid, throughZxid: zxid },
    { requiredKeys: ['type', 'epoch', 'txns', 'committedZxid'] },
  ),
  fc.record(
    {
      type: fc.constant('trunc' as const),
      epoch,
      truncateAfter: zxid,
      txns,
      committedZxid: zxid,
      throughZxid: zxid,
    },
    { requiredKeys: ['type', 'epoch', 'truncateAfter', 'txns', 'committedZxid'] },
  ),
  fc.record({
    type: fc.constant('snap' as const),
    epoch,
    snapshot: zxid.map((z) => ({ zxid: z, data: [] })),
    txns,
    committedZxid: zxid,
  }),
  fc.record({ type: fc.constant('syncPart' as const), epoch, afterZxid: zxid, txns }),
  fc.record({ type: fc.constant('newLeader' as const), epoch }),
  fc.record({ type: fc.constant('ackNewLeader' as const), epoch, zxid }),
  fc.record({ type: fc.constant('upToDate' as const), epoch, committedZxid: zxid }),
  fc.record({ type: fc.constant('proposal' as const), epoch, txns }),
  fc.record({ type: fc.constant('ack' as const), epoch, zxid }),
  fc.record({ type: fc.constant('commit' as const), epoch, zxid }),
  fc.record({
    type: fc.constant('ping' as const),
    epoch,
    seq,
    committedZxid: zxid,
    lastZxid: zxid,
    established: fc.boolean(),
  }),
  fc.record({
    type: fc.constant('pong' as const),
    epoch,
    seq,
    sessions: fc.array(fc.bigInt({ min: 0n, max: 9n }), { maxLength: 2 }),
  }),
  fc.record({
    type: fc.constant('request' as const),
    epoch,
    seq,
    request: fc.record({
      origin: id,
      sessionId: fc.bigInt({ min: 0n, max: 9n }),
      xid: seq,
      payload: fc.constant(null),
    }),
  }),
  fc.record({ type: fc.constant('readIndex' as const), epoch, id: seq }),
  fc.record({ type: fc.constant('readIndexOk' as const), epoch, id: seq, zxid }),
)

type Step =
  | { kind: 'message'; to: number; from: number; message: PeerMessage }
  | { kind: 'tick' }
  | { kind: 'ready' }
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('message' as const),
      to: fc.integer({ min: 1, max: 3 }),
      from: id,
      message,
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'tick' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'ready' as const }) },
)

/** cluster builds 3 servers at a given stage: looking, mid-handshake, or serving with writes. */
function cluster(stage: number): Cluster {
  const c = new Cluster([1, 2, 3])
  if (stage === 0) return c
  c.stabilize()
  c.run(2)
  if (stage === 1) return c
  c.runUntil(() => c.allServing())
  c.write()
  c.write()
  c.stabilize()
  if (stage === 3) c.crash(3)
  return c
}

describe('robustness', () => {
  test('well-typed nonsense from anyone, in any phase, is dropped without throwing or breaking invariants', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.array(step, { maxLength: 40 }),
        (stage, steps) => {
          const c = cluster(stage)
          for (const s of steps) {
            if (s.kind === 'tick') c.tick()
            else if (s.kind === 'ready') for (const n of c.up()) c.processReady(n.id)
            else {
              const peer = c.node(s.to).peer
              if (peer === undefined) continue
              expect(() => peer.receive(s.from, s.message)).not.toThrow()
              checkInvariants(peer)
            }
          }
          c.queue = []
        },
      ),
      { numRuns: 600 },
    )
  })
})
