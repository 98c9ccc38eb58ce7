/**
 * The hostile-client harness itself: with no attack its checks pass, and they catch a
 * member that stalls the ensemble (a leader stopped past its timeout causes an election
 * and a bystander latency over 1 s) — so a hostile test that passes means something.
 */
import { expect, it } from 'vitest'
import { finishHostileRun, rawClient, startHostileRun } from '../helpers/hostile.js'

it('passes a quiet run: no exits, no election, bystander served, writes everywhere after a restart', async () => {
  const run = await startHostileRun({ name: 'hostile-quiet' })
  const raw = await rawClient(run.url(1))
  expect((await raw.connect()).type).toBe('connected')
  raw.request(1, { op: 'exists', path: '/bystander', watch: false })
  expect((await raw.reply(1)).err).toBe(0)
  raw.terminate()
  await run.waitForBystanderOps(20)
  await finishHostileRun(run, { rssGrowthMaxMiB: 100 })
}, 180_000)

it('fails a run in which the leader stalls past its timeout', async () => {
  const run = await startHostileRun({ name: 'hostile-stall' })
  const leader = run.ensemble.member(run.leaderId)
  await leader.kill('SIGSTOP')
  await run.ensemble.leader({
    timeoutMs: 30_000,
    among: run.ensemble.members.filter((m) => m.id !== run.leaderId).map((m) => m.id),
  })
  await leader.kill('SIGCONT')
  await expect(finishHostileRun(run, { rssGrowthMaxMiB: 100, restart: false })).rejects.toThrow(
    /no election happened|worst latency/,
  )
}, 180_000)
