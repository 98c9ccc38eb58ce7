/**
 * A follower whose data directory is deleted rejoins by SNAP, on 3 real members.
 *
 * The ensemble keeps at most 20 committed txns in memory for DIFFs (diffLimitTxns 20)
 * and 4,500 nodes are written (three SNAP chunks), so the only way to bring an empty member up to date is a
 * snapshot. The wiped member logs that it installed a snapshot from the leader,
 * reaches the same zxid and digest as the others, and serves every node (its own
 * reads, without a sync, once converged). Writes keep flowing while it catches up.
 */
import { afterEach, expect, it } from 'vitest'
import { connect } from '../../client/index.js'
import { finishEnsemble, startEnsemble, type Ensemble } from '../helpers/ensemble.js'
import { missingAcked, startWriters, type Writers } from '../helpers/ensemble-writers.js'

let ensemble: Ensemble | undefined
let writers: Writers | undefined
afterEach(async (context) => {
  await writers?.stop()
  writers = undefined
  await finishEnsemble(ensemble, context.task.result?.state === 'fail', context.task.name)
  ensemble = undefined
}, 30_000)

const NODES = 4500

it(
  'a follower with a wiped data dir rejoins by SNAP and converges',
  { timeout: 120_000 },
  async () => {
    const e = (ensemble = await startEnsemble({
      size: 3,
      name: 'wiped-follower',
      diffLimitTxns: 20,
    }))
    const { id: leaderId } = await e.leader()
    const followerId = e.members.map((m) => m.id).find((id) => id !== leaderId)!
    const follower = e.member(followerId)

    const setup = await connect({ servers: e.urls, sessionTimeoutMs: 10_000 })
    await setup.create('/wiped', '')
    // Over two SNAP chunks (2,000 records each), so the chunked transfer is exercised.
    for (let i = 0; i < NODES; i += 500)
      await Promise.all(
        Array.from({ length: Math.min(500, NODES - i) }, (_, j) =>
          setup.create(`/wiped/n${i + j}`, `value ${i + j}`),
        ),
      )
    await setup.close()
    await e.converged()
    expect(Number((await e.status(followerId)).raw.znodes)).toBeGreaterThanOrEqual(NODES + 1)

    await follower.stop()
    follower.wipe()
    writers = await startWriters({
      servers: [e.urls.filter((u) => u !== follower.url)],
      parent: '/wiped-live',
    })
    await writers.waitForAcks(30) // the two others keep serving and move on while it is down
    const mark = follower.logs.length
    await follower.start()
    const installed = await follower.waitForLog(
      (l) => l.msg === 'installed a snapshot from the leader',
      { since: mark, timeoutMs: 30_000, what: 'SNAP installed' },
    )
    expect(installed.znodes).toBeGreaterThanOrEqual(NODES)
    await writers.waitForAcks(20)
    await writers.stop()
    const { zxid } = await e.converged({ timeoutMs: 30_000 })
    expect((await e.status(followerId)).zxid).toBe(zxid)

    const reader = await connect({ servers: [follower.url], sessionTimeoutMs: 10_000 })
    try {
      const children = await reader.children('/wiped')
      expect(children.length).toBe(NODES)
      expect(new TextDecoder().decode((await reader.get(`/wiped/n${NODES - 1}`)).data)).toBe(
        `value ${NODES - 1}`,
      )
    } finally {
      await reader.close()
    }
    expect(
      Object.fromEntries(await missingAcked(e, '/wiped-live', writers.acked, [followerId])),
    ).toEqual({})

    // What it installed is on its disk: a restart recovers from that snapshot, not from nothing.
    await follower.stop()
    const restartMark = follower.logs.length
    await follower.start()
    const recovered = await follower.waitForLog((l) => l.msg === 'recovered', {
      since: restartMark,
      timeoutMs: 30_000,
      what: 'recovered',
    })
    expect(recovered.snapshotZxid).not.toBe('0x0_00000000')
    expect(Number(recovered.snapshotZnodes)).toBeGreaterThanOrEqual(NODES)
    await e.converged({ timeoutMs: 30_000 })
    expect(e.unexpectedExits()).toEqual([])
  },
)
