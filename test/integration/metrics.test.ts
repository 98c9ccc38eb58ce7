/**
 * GET /metrics on a real 3-member ensemble (issue 14):
 * - every member answers valid Prometheus text (a strict parser) with every family,
 *   typed, and its role gauge agrees with /status; the leader shows each follower's lag;
 * - N creates and M gets through one member move that member's request counters by
 *   exactly N and M (and their latency histograms), its byte counters, and the
 *   leader's group-commit and proposal-to-commit histograms;
 * - a frame over the limit counts as a frame_too_large limit refusal;
 * - when the leader is killed, each surviving member counts an election and names its
 *   reason; when the killed member restarts and rejoins, the new leader counts the
 *   sync it sent and the rejoined member the one it received.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { CloseCode } from '../../protocol/index.js'
import { connect, type Client } from '../../client/index.js'
import { finishEnsemble, startEnsemble, type Ensemble, type Member } from '../helpers/ensemble.js'
import { FAMILIES } from '../helpers/metric-families.js'
import {
  parsePromText,
  sampleValue,
  samplesOf,
  sumOf,
  type PromFamily,
} from '../helpers/prom-text.js'
import { waitFor, withDeadline } from '../helpers/wait.js'

let ensemble: Ensemble | undefined
let failed = false
const clients: Client[] = []

beforeAll(async () => {
  ensemble = await startEnsemble({ size: 3, name: 'metrics' })
  await ensemble.leader()
  await allServing()
}, 120_000)
afterEach(async (context) => {
  if (context.task.result?.state === 'fail') failed = true
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)))
})
afterAll(async () => {
  await finishEnsemble(ensemble, failed, 'metrics failed')
}, 30_000)

/** allServing waits until every member serves (a leader with a quorum may still be syncing a follower). */
async function allServing(): Promise<void> {
  const e = ensemble!
  await waitFor(
    async () => {
      const statuses = await e.statuses()
      return statuses.size === e.size && [...statuses.values()].every((s) => s.serving)
    },
    { timeoutMs: 20_000, what: 'every member serving' },
  )
}

/** scrape fetches and strictly parses a member's /metrics. */
async function scrape(member: Member): Promise<Map<string, PromFamily>> {
  const response = await fetch(`${member.httpUrl}/metrics`, { signal: AbortSignal.timeout(5000) })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return parsePromText(await response.text())
}

describe('GET /metrics on a 3-member ensemble', () => {
  it('shows every family, typed, on every member; the role agrees with /status; the leader shows follower lag', async () => {
    const e = ensemble!
    const { id: leaderId } = await e.leader()
    for (const member of e.members) {
      const families = await scrape(member)
      for (const [name, type] of Object.entries(FAMILIES))
        expect(families.get(name)?.type, `${name} on member ${member.id}`).toBe(type)
      const { role } = await e.status(member.id)
      expect(sampleValue(families, 'conclave_role', { role }), `member ${member.id}`).toBe(1)
      expect(sumOf(families, 'conclave_role')).toBe(1)
      expect(sampleValue(families, 'conclave_serving')).toBe(1)
      expect(sampleValue(families, 'conclave_elections_total')).toBeGreaterThanOrEqual(1)
    }
    const lag = samplesOf(await scrape(e.member(leaderId)), 'conclave_follower_lag_txns')
    expect(lag.map((s) => Number(s.labels.follower)).sort()).toEqual(
      [1, 2, 3].filter((id) => id !== leaderId),
    )
  })

  it("counts each request by op, with its latency, and the member's bytes; the leader times group commits and proposals", async () => {
    const e = ensemble!
    const { id: leaderId } = await e.leader()
    const member = e.member(leaderId === 1 ? 2 : 1)
    const client = await connect({ servers: [member.url] })
    clients.push(client)
    const before = await scrape(member)
    const leaderBefore = await scrape(e.member(leaderId))
    const creates = 25
    const gets = 10
    for (let i = 0; i < creates; i++) await client.create(`/metrics-${i}`, `value ${i}`)
    for (let i = 0; i < gets; i++) await client.get(`/metrics-${i}`)
    const after = await scrape(member)
    const moved = (name: string, labels: Record<string, string> = {}) =>
      sampleValue(after, name, labels) - sampleValue(before, name, labels)
    expect(moved('conclave_requests_total', { op: 'create' })).toBe(creates)
    expect(moved('conclave_requests_total', { op: 'get' })).toBe(gets)
    expect(moved('conclave_requests_total', { op: 'delete' })).toBe(0)
    expect(moved('conclave_request_duration_seconds_count', { op: 'create' })).toBe(creates)
    expect(moved('conclave_request_duration_seconds_sum', { op: 'create' })).toBeGreaterThan(0)
    expect(moved('conclave_received_bytes_total')).toBeGreaterThan(creates * 'value 0'.length)
    expect(moved('conclave_sent_bytes_total')).toBeGreaterThan(gets * 'value 0'.length)
    expect(moved('conclave_znodes')).toBe(creates)
    expect(moved('conclave_data_bytes')).toBeGreaterThanOrEqual(creates * 'value 0'.length)
    expect(sampleValue(after, 'conclave_client_connections')).toBeGreaterThanOrEqual(1)

    const leaderAfter = await scrape(e.member(leaderId))
    const leaderMoved = (name: string) =>
      sampleValue(leaderAfter, name) - sampleValue(leaderBefore, name)
    expect(leaderMoved('conclave_proposal_commit_duration_seconds_count')).toBeGreaterThanOrEqual(
      creates,
    )
    expect(leaderMoved('conclave_fsync_duration_seconds_count')).toBeGreaterThanOrEqual(1)
    expect(leaderMoved('conclave_fsync_batch_txns_sum')).toBeGreaterThanOrEqual(creates)
  })

  it('counts a client that sends a frame over the limit as a frame_too_large refusal', async () => {
    const member = ensemble!.member(1)
    const refusals = async () =>
      sampleValue(await scrape(member), 'conclave_limit_refusals_total', {
        kind: 'frame_too_large',
      })
    const before = await refusals()
    const ws = new WebSocket(member.url)
    ws.on('error', () => undefined)
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
    await new Promise<void>(
      (resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)),
    )
    // Over the default frame limit (maxDataBytes, 1 MiB, plus headroom).
    ws.send(new Uint8Array(3 * 1024 * 1024))
    expect(await withDeadline(closed, 10_000, 'the close')).toBe(CloseCode.FRAME_TOO_LARGE)
    expect(await refusals()).toBe(before + 1)
  })

  it('counts an election on each member that outlives a killed leader, and the sync of the member that rejoins', async () => {
    const e = ensemble!
    const first = await e.leader()
    const survivors = e.members.filter((m) => m.id !== first.id)
    // A follower that never served is still in the election it started in: wait for service.
    await allServing()
    const electionsBefore = new Map<number, number>()
    for (const member of survivors)
      electionsBefore.set(member.id, sampleValue(await scrape(member), 'conclave_elections_total'))

    await e.member(first.id).kill('SIGKILL')
    const second = await e.leader({ timeoutMs: 20_000, among: survivors.map((m) => m.id) })
    for (const member of survivors) {
      const families = await scrape(member)
      expect(
        sampleValue(families, 'conclave_elections_total'),
        `elections on member ${member.id}`,
      ).toBeGreaterThan(electionsBefore.get(member.id)!)
      const [info] = samplesOf(families, 'conclave_last_election_info')
      expect(info?.labels.reason, `last election reason on member ${member.id}`).toBeTruthy()
      expect(info?.labels.reason).not.toBe('started')
      expect(sampleValue(families, 'conclave_last_election_duration_seconds')).toBeGreaterThan(0)
    }
    const newLeader = e.member(second.id)
    expect(sampleValue(await scrape(newLeader), 'conclave_role', { role: 'leading' })).toBe(1)

    const syncsSent = (families: Map<string, PromFamily>) =>
      sumOf(families, 'conclave_syncs_total', { direction: 'sent' })
    const sentBefore = syncsSent(await scrape(newLeader))
    await e.member(first.id).start()
    await waitFor(async () => (await e.tryStatus(first.id))?.serving === true, {
      timeoutMs: 30_000,
      what: `member ${first.id} serving again`,
    })
    expect(syncsSent(await scrape(newLeader)), 'syncs sent by the new leader').toBeGreaterThan(
      sentBefore,
    )
    const rejoined = await scrape(e.member(first.id))
    expect(sumOf(rejoined, 'conclave_syncs_total', { direction: 'received' })).toBeGreaterThan(0)
    expect(sampleValue(rejoined, 'conclave_role', { role: 'following' })).toBe(1)
    expect(e.unexpectedExits()).toEqual([])
  })
})
