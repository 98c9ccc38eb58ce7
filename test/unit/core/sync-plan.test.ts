/**
 * planSync, the leader's choice of DIFF, TRUNC or SNAP for one follower: each
 * branch on a small history spanning three epochs, the DIFF limit, the rule that a
 * TRUNC never crosses an epoch boundary, and the deliberate `trunc-across-epoch` bug.
 */
import { describe, expect, test } from 'vitest'
import { makeZxid, type Txn, type Zxid } from '../../../protocol/index.js'
import { TxnLog, planSync, type SyncPlan } from '../../../server/core/index.js'

const z = makeZxid
const txn = (zxid: Zxid): Txn => ({
  zxid,
  timeMs: 0,
  sessionId: 0n,
  xid: 0,
  op: { type: 'error', code: 0 },
})
// Leader history: base (1,1), then (1,2) (1,3) (3,1) (3,2).
const leaderLog = () => new TxnLog(z(1, 1), [z(1, 2), z(1, 3), z(3, 1), z(3, 2)].map(txn))
const zxids = (plan: SyncPlan) => ('txns' in plan ? plan.txns.map((t) => t.zxid) : undefined)

describe('planSync', () => {
  test('DIFF from a zxid in the history, empty when the follower is up to date', () => {
    const plan = planSync(leaderLog(), z(1, 3), 10)
    expect(plan.mode).toBe('diff')
    expect(zxids(plan)).toEqual([z(3, 1), z(3, 2)])
    expect(zxids(planSync(leaderLog(), z(3, 2), 10))).toEqual([])
    expect(zxids(planSync(leaderLog(), z(1, 1), 10))).toEqual([z(1, 2), z(1, 3), z(3, 1), z(3, 2)])
  })

  test('TRUNC a same-epoch tail the leader lacks, then send what follows', () => {
    const plan = planSync(leaderLog(), z(1, 5), 10)
    expect(plan).toMatchObject({ mode: 'trunc', truncateAfter: z(1, 3) })
    expect(zxids(plan)).toEqual([z(3, 1), z(3, 2)])
    // A follower simply ahead of the leader within the leader's last epoch.
    expect(planSync(leaderLog(), z(3, 7), 10)).toMatchObject({
      mode: 'trunc',
      truncateAfter: z(3, 2),
      txns: [],
    })
  })

  test('SNAP when the truncation point lies in an older epoch than the tail', () => {
    expect(planSync(leaderLog(), z(2, 4), 10)).toEqual({ mode: 'snap' })
    expect(planSync(leaderLog(), z(4, 1), 10)).toEqual({ mode: 'snap' })
  })

  test('SNAP when the follower is older than the history kept, or further behind than the DIFF limit', () => {
    expect(planSync(leaderLog(), z(1, 0), 10)).toEqual({ mode: 'snap' })
    expect(planSync(leaderLog(), z(1, 1), 3)).toEqual({ mode: 'snap' })
    expect(planSync(leaderLog(), z(1, 5), 1)).toEqual({ mode: 'snap' })
  })

  test('with trunc-across-epoch the cross-epoch case becomes a TRUNC to the leader’s last zxid', () => {
    expect(planSync(leaderLog(), z(2, 4), 10, 'trunc-across-epoch')).toEqual({
      mode: 'trunc',
      truncateAfter: z(3, 2),
      txns: [],
    })
    expect(planSync(leaderLog(), z(1, 5), 10, 'trunc-across-epoch').mode).toBe('trunc')
  })
})
