/**
 * Byte budgets of the core's messages (issue 9): a proposal batch and every message of a
 * DIFF stay within the peer message budget, and within the peer frame limit once
 * actually encoded with the peer codec, however large the txns; together they carry
 * every txn, in order. A pong carries no more session ids than fit the budget. The
 * runtime's defaults are used: a 4.25 MiB budget, a 16 MiB frame, txns of ~1 MB (just
 * under the 1 MiB data limit) — before budgets, 40 of them made one 40 MB proposal.
 */
import { describe, expect, test } from 'vitest'
import {
  txnBytesBound,
  type PeerMessage,
  type Txn,
  type TxnOp,
  type Zxid,
} from '../../../protocol/index.js'
import { CONFIG_DEFAULTS } from '../../../server/core/index.js'
import { ARRAY_HEADER_BYTES_MAX } from '../../../server/net/peer-frames.js'
import {
  peerFrameBytesMaxFor,
  peerMessageBudgetBytesFor,
  resolveConfig,
} from '../../../server/runtime/config.js'
import { Cluster, type InFlightMessage } from '../../scenario/harness.js'

const serverDefaults = resolveConfig({ dataDir: '/d' })
const BUDGET_BYTES = peerMessageBudgetBytesFor(serverDefaults)
const FRAME_BYTES_MAX = peerFrameBytesMaxFor(serverDefaults)
/** ENVELOPE_BYTES_MAX is what a message adds around its txns (type, epoch, zxids). */
const ENVELOPE_BYTES_MAX = 256

let serial = 0
/** bigCreate is a create of 1,000,000 bytes, each with its own data so order shows. */
function bigCreate(): TxnOp {
  serial += 1
  const data = new Uint8Array(1_000_000).fill(serial % 251)
  return {
    type: 'create',
    path: `/big-${serial}`,
    data,
    acl: [{ perms: 31, scheme: 'world', id: 'anyone' }],
    ephemeralOwner: 0n,
    container: false,
    ttlMs: 0,
    parentCversion: serial,
  }
}

/** checkWithinBudget asserts one message's txns fit the budget and its encoding a peer frame. */
function checkWithinBudget(message: PeerMessage, encoded: Uint8Array): void {
  const txns = 'txns' in message ? message.txns : []
  expect(txns.length).toBeGreaterThan(0)
  expect(txns.reduce((n, t) => n + txnBytesBound(t), 0)).toBeLessThanOrEqual(BUDGET_BYTES)
  expect(encoded.length).toBeLessThanOrEqual(BUDGET_BYTES + ENVELOPE_BYTES_MAX)
  expect(encoded.length + ARRAY_HEADER_BYTES_MAX).toBeLessThanOrEqual(FRAME_BYTES_MAX)
}

const zxidsOf = (txns: readonly Txn[]): Zxid[] => txns.map((t) => t.zxid)

describe('peer message byte budgets in the core', () => {
  test("the core's default budget is the runtime's default, and the frame holds two of it", () => {
    expect(CONFIG_DEFAULTS.peerMessageBudgetBytes).toBe(BUDGET_BYTES)
    expect(FRAME_BYTES_MAX).toBeGreaterThanOrEqual(2 * BUDGET_BYTES)
  })

  test('40 pipelined creates of 1,000,000 bytes go out in proposal batches within the budget, all of them, in order', () => {
    const c = new Cluster([1, 2, 3], { config: { peerMessageBudgetBytes: BUDGET_BYTES } })
    c.runUntil(() => c.allServing())
    const leader = c.requireLeader()
    const follower = c.ids.find((id) => id !== leader)!
    const proposed = Array.from({ length: 40 }, () => c.write(leader, bigCreate()).zxid)
    const proposals: PeerMessage[] = []
    c.onDeliver = (m, encoded) => {
      if (m.to !== follower || m.message.type !== 'proposal') return
      checkWithinBudget(m.message, encoded)
      proposals.push(m.message)
    }
    c.stabilize()
    // 4 txns of ~1 MB fit in 4.25 MiB: ten messages, not one of 40 MB (or one per 64 txns).
    expect(proposals.length).toBeGreaterThanOrEqual(10)
    expect(proposals.flatMap((p) => ('txns' in p ? zxidsOf(p.txns) : []))).toEqual(proposed)
    for (const id of c.ids) expect(c.appliedZxids(id)).toEqual(proposed)
  })

  test('a DIFF of 30 txns of 1,000,000 bytes is streamed in messages within the budget, carrying every missing txn in order', () => {
    const c = new Cluster([1, 2, 3], { config: { peerMessageBudgetBytes: BUDGET_BYTES } })
    c.runUntil(() => c.allServing())
    const leader = c.requireLeader()
    const behind = c.ids.find((id) => id !== leader)!
    c.crash(behind)
    const missing = Array.from({ length: 30 }, () => c.write(leader, bigCreate()).zxid)
    c.stabilize()
    const sync: InFlightMessage[] = []
    c.onDeliver = (m, encoded) => {
      if (m.to !== behind || !['diff', 'trunc', 'snap', 'syncPart'].includes(m.message.type)) return
      checkWithinBudget(m.message, encoded)
      sync.push(m)
    }
    c.restart(behind)
    c.runUntil(() => c.allServing())
    expect(c.node(behind).syncModes).toEqual(['diff'])
    expect(sync[0]?.message.type).toBe('diff')
    expect(sync.length).toBeGreaterThanOrEqual(8)
    expect(sync.slice(1).every((m) => m.message.type === 'syncPart')).toBe(true)
    expect(sync.flatMap((m) => ('txns' in m.message ? zxidsOf(m.message.txns) : []))).toEqual(
      missing,
    )
    expect(c.node(behind).disk.log.map((t) => t.zxid)).toEqual(missing)
    expect(c.appliedZxids(behind)).toEqual(c.appliedZxids(leader))
  })

  test('a pong carries at most the session ids that fit the budget; the rest follow in the next ones', () => {
    const budget = 90 // ten 9-byte session ids
    const c = new Cluster([1, 2, 3], { config: { peerMessageBudgetBytes: budget } })
    c.runUntil(() => c.allServing())
    const leader = c.requireLeader()
    const follower = c.ids.find((id) => id !== leader)!
    const ids = Array.from({ length: 25 }, (_, i) => BigInt(0x0100_0000 + i))
    c.peer(follower).touchSessions(ids)
    const reported: bigint[][] = []
    c.onDeliver = (m) => {
      if (m.from === follower && m.message.type === 'pong' && m.message.sessions.length > 0)
        reported.push(m.message.sessions)
    }
    c.run(4)
    expect(reported.map((r) => r.length)).toEqual([10, 10, 5])
    expect(reported.flat()).toEqual(ids)
    expect(c.node(leader).sessionsTouched).toEqual(expect.arrayContaining(ids))
  })
})
