/**
 * Hostile client, attack 2 of issue 9: a raw client pipelines 40 creates of 1,000,000
 * bytes each (every one under the 1 MiB data limit) to the leader. Before peer messages
 * were bounded in bytes, the leader put up to 64 txns in one proposal (40 MB, over the
 * 16 MiB peer frame limit), `send` threw MESSAGE_TOO_LARGE and the leader exited. Now
 * proposal batches close at the peer message budget (4.25 MiB by default): every member
 * stays up, no election happens, every write is acknowledged and is on every member,
 * byte for byte. RSS bound: 40 MB of data is held by each member's tree, its in-memory
 * log (the last diffLimitTxns txns, kept for DIFFs) and, briefly, the client frames and
 * the encoded proposals queued per follower — a few copies of 40 MB; 400 MiB leaves room
 * for the garbage collector's pace without letting an unbounded copy (one per txn per
 * follower, or a leak) pass.
 */
import { expect, it } from 'vitest'
import { connect } from '../../client/index.js'
import { finishEnsemble } from '../helpers/ensemble.js'
import {
  finishHostileRun,
  rawClient,
  startHostileRun,
  type HostileRun,
} from '../helpers/hostile.js'

const CREATES = 40
const DATA_BYTES = 1_000_000
const PARENT = '/hostile-proposals'
/**
 * TICK_MS is the production default (the harness's 50 ms halves every timeout): 40 MB
 * must be written and fsynced by every member while heartbeats keep within the default
 * 1 s leader timeout.
 */
const TICK_MS = 100

/** payload is create i's data: every byte i, so a write that lands in the wrong node shows. */
const payload = (i: number): Uint8Array => new Uint8Array(DATA_BYTES).fill(i + 1)

it('40 pipelined 1 MB creates to the leader are all acknowledged and replicated; no member exits, no election', async () => {
  const run = await startHostileRun({ name: 'hostile-proposals', tickMs: TICK_MS })
  try {
    await attack(run)
  } catch (err) {
    // finishHostileRun stops the ensemble; when the attack itself fails, stop it here (logs kept).
    await finishEnsemble(run.ensemble, true, `attack failed: ${String(err)}`)
    throw err
  }
  await finishHostileRun(run, { rssGrowthMaxMiB: 400 })
}, 600_000)

/** attack pipelines the creates to the leader, then checks every member holds them all. */
async function attack(run: HostileRun): Promise<void> {
  const raw = await rawClient(run.url(run.leaderId))
  expect((await raw.connect()).type).toBe('connected')
  raw.request(1, { op: 'create', path: PARENT, data: new Uint8Array(0), mode: 'persistent' })
  expect((await raw.reply(1, 30_000)).err).toBe(0)
  // Pipelined: every request is on the wire before the first reply is read.
  for (let i = 0; i < CREATES; i++)
    raw.request(2 + i, {
      op: 'create',
      path: `${PARENT}/n${i}`,
      data: payload(i),
      mode: 'persistent',
    })
  for (let i = 0; i < CREATES; i++)
    expect((await raw.reply(2 + i, 120_000)).err, `create ${i}`).toBe(0)
  raw.terminate()

  for (const member of run.ensemble.members) {
    const client = await connect({
      servers: [member.url],
      sessionTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
    })
    try {
      await client.sync(PARENT)
      expect((await client.children(PARENT)).length, `children on member ${member.id}`).toBe(
        CREATES,
      )
      for (let i = 0; i < CREATES; i++) {
        const { data } = await client.get(`${PARENT}/n${i}`)
        expect(
          data.length === DATA_BYTES && data.every((b) => b === i + 1),
          `member ${member.id} holds ${PARENT}/n${i} byte for byte`,
        ).toBe(true)
      }
    } finally {
      await client.close()
    }
  }
}
