/**
 * Leader kill -9 while clients write, on 3 real member processes:
 * - writers spread over all members keep creating unique nodes;
 * - the leader is killed with SIGKILL mid-stream; another member becomes leader and
 *   acknowledges new writes;
 * - the killed member restarts from its data directory, rejoins as a follower and
 *   catches up (same applied zxid and digest as the others);
 * - after the writers stop, every acknowledged node is present through every member.
 */
import { afterEach, expect, it } from 'vitest'
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

it(
  'elects a new leader after kill -9, the killed member catches up, and no acknowledged write is lost',
  { timeout: 120_000 },
  async () => {
    const e = (ensemble = await startEnsemble({ size: 3, name: 'leader-kill' }))
    const first = await e.leader()
    writers = await startWriters({
      servers: [e.urls, e.urls, [...e.urls].reverse(), e.urls, [...e.urls].reverse(), e.urls],
      parent: '/kill',
    })
    await writers.waitForAcks(50)

    const killedAt = Date.now()
    await e.member(first.id).kill('SIGKILL')
    const second = await e.leader({ timeoutMs: 20_000 })
    expect(second.id).not.toBe(first.id)
    expect(second.status.epoch).toBeGreaterThan(first.status.epoch ?? 0)
    await writers.waitForAcks(50)
    expect(
      writers.acked.filter((a) => a.sentAtMs > killedAt).length,
      'writes issued after the kill were acknowledged',
    ).toBeGreaterThan(0)

    const restartMark = e.member(first.id).logs.length
    await e.member(first.id).start()
    await writers.waitForAcks(30)
    await writers.stop()
    const { zxid } = await e.converged({ timeoutMs: 30_000 })
    const rejoined = await e.status(first.id)
    expect(rejoined.role).toBe('following')
    expect(rejoined.zxid).toBe(zxid)
    // It came back from its own data dir: recovery found the txns it had logged before the kill.
    const recovered = e
      .member(first.id)
      .entries(restartMark)
      .find((l) => l.msg === 'recovered')
    expect(recovered, 'the recovery line of the restarted member').toBeDefined()
    expect(
      Number(recovered!.loggedTxns) + (recovered!.snapshotZxid === '0x0_00000000' ? 0 : 1),
    ).toBeGreaterThan(0)
    expect(Number(recovered!.currentEpoch)).toBeGreaterThanOrEqual(first.status.epoch ?? 1)

    const missing = await missingAcked(e, '/kill', writers.acked, [1, 2, 3])
    expect(
      Object.fromEntries(missing),
      `acknowledged writes missing (of ${writers.acked.length})`,
    ).toEqual({})
    expect(e.unexpectedExits()).toEqual([])
  },
)
