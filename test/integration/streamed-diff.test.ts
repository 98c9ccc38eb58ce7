/**
 * A DIFF larger than one peer message is streamed, on 3 real members: a follower is
 * stopped while 24 writes of 1,000,000 bytes are committed (24 MB: before peer messages
 * were bounded in bytes, one DIFF message over the 16 MiB peer frame, refused by the
 * leader's link, so the follower could never rejoin), then started again. It logs a
 * streamed DIFF (the DIFF message and SYNCPART messages, paced on the link), reaches the
 * others' zxid and digest, and serves every node byte for byte from its own tree.
 */
import { afterEach, expect, it } from 'vitest'
import { connect } from '../../client/index.js'
import { finishEnsemble, startEnsemble, type Ensemble } from '../helpers/ensemble.js'

let ensemble: Ensemble | undefined
afterEach(async (context) => {
  await finishEnsemble(ensemble, context.task.result?.state === 'fail', context.task.name)
  ensemble = undefined
}, 30_000)

const WRITES = 24
const DATA_BYTES = 1_000_000

it(
  'a follower 24 MB behind rejoins by a DIFF streamed in several messages and converges',
  { timeout: 240_000 },
  async () => {
    const e = (ensemble = await startEnsemble({ size: 3, name: 'streamed-diff', tickMs: 100 }))
    const { id: leaderId } = await e.leader({ timeoutMs: 30_000 })
    const followerId = e.members.map((m) => m.id).find((id) => id !== leaderId)!
    const follower = e.member(followerId)
    await follower.stop()

    const writer = await connect({
      servers: e.urls.filter((u) => u !== follower.url),
      sessionTimeoutMs: 10_000,
      requestTimeoutMs: 60_000,
    })
    try {
      await writer.create('/streamed', '')
      for (let i = 0; i < WRITES; i++)
        await writer.create(`/streamed/n${i}`, new Uint8Array(DATA_BYTES).fill(i + 1))
    } finally {
      await writer.close()
    }

    const mark = follower.logs.length
    await follower.start()
    const sync = await follower.waitForLog((l) => l.msg === 'sync from the leader', {
      since: mark,
      timeoutMs: 60_000,
      what: 'sync from the leader',
    })
    expect({ sync: sync.sync, streamed: sync.streamed }).toEqual({ sync: 'DIFF', streamed: true })
    const { zxid } = await e.converged({ timeoutMs: 60_000 })
    expect((await e.status(followerId)).zxid).toBe(zxid)

    const reader = await connect({
      servers: [follower.url],
      sessionTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
    })
    try {
      expect((await reader.children('/streamed')).length).toBe(WRITES)
      for (let i = 0; i < WRITES; i++) {
        const { data } = await reader.get(`/streamed/n${i}`)
        expect(
          data.length === DATA_BYTES && data.every((b) => b === i + 1),
          `/streamed/n${i} byte for byte`,
        ).toBe(true)
      }
    } finally {
      await reader.close()
    }
  },
)
