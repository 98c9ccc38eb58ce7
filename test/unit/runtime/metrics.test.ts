/**
 * MemberMetrics (issue 14): every family renders as valid Prometheus text (strict
 * parser), gauges read the member's status at scrape time, and the hooks move the
 * counters and histograms: requests by op with their latency, quota refusals, bytes,
 * elections (count, duration, reason) from the Readys, the leader's proposal-to-commit
 * time, group commits, syncs. Two members' registries stay apart. Also: the strict
 * parser refuses what a scraper would.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it, vi } from 'vitest'
import { ErrorCode, makeZxid, type Txn, type Zxid } from '../../../protocol/index.js'
import { DROP_REASONS, type DropCounts, type Ready } from '../../../server/core/index.js'
import type { QueuedRequest } from '../../../server/runtime/client-connection.js'
import { HotHistogram } from '../../../server/runtime/hot-histogram.js'
import type { MemberStatus } from '../../../server/runtime/member-status.js'
import { MemberMetrics } from '../../../server/runtime/metrics.js'
import { FAMILIES } from '../../helpers/metric-families.js'
import { Registry } from 'prom-client'
import { parsePromText, sampleValue, samplesOf } from '../../helpers/prom-text.js'
import { readyOf } from '../../helpers/ready.js'

function statusOf(overrides: Partial<MemberStatus> = {}): MemberStatus {
  return {
    id: 1,
    role: 'leading',
    serving: true,
    leaderId: 1,
    epoch: 3,
    acceptedEpoch: 3,
    currentEpoch: 3,
    zxid: '0x3_00000005',
    zxidDecimal: '12884901893',
    lastLoggedZxid: '0x3_00000005',
    lastCommittedZxid: '0x3_00000005',
    sessions: 4,
    znodes: 12,
    ephemerals: 2,
    dataBytes: 345,
    watches: 6,
    watchWindow: { oldestZxid: '0x0_00000000', changes: 0, bytes: 0 },
    connections: 5,
    requestsInFlight: 7,
    digest: 0n,
    diskFull: null,
    eventLoop: { lagMaxMs: 12.5, lagP99Ms: 3, windowMs: 5000 },
    followers: [
      { id: 2, stage: 'synced', ackedZxid: '0x3_00000003', lagTxns: 2, connected: true },
      { id: 3, stage: 'syncing', ackedZxid: '0x2_00000009', lagTxns: null, connected: true },
    ],
    ...overrides,
  }
}

const txnAt = (zxid: Zxid) => ({ zxid }) as Txn

async function scrape(metrics: MemberMetrics) {
  return parsePromText(await metrics.render())
}

describe('MemberMetrics', () => {
  it('renders every family, typed, as valid text; gauges come from the status at scrape time', async () => {
    let status = statusOf()
    const metrics = new MemberMetrics(
      () => status,
      () => 'started',
    )
    const families = await scrape(metrics)
    for (const [name, type] of Object.entries(FAMILIES))
      expect(families.get(name)?.type, name).toBe(type)
    expect([...families.keys()].filter((n) => !(n in FAMILIES))).toEqual([])
    for (const family of families.values()) expect(family.help, family.name).toBeTruthy()
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/)

    expect(sampleValue(families, 'conclave_requests_in_flight')).toBe(7)
    expect(sampleValue(families, 'conclave_sessions')).toBe(4)
    expect(sampleValue(families, 'conclave_watches')).toBe(6)
    expect(sampleValue(families, 'conclave_ephemerals')).toBe(2)
    expect(sampleValue(families, 'conclave_znodes')).toBe(12)
    expect(sampleValue(families, 'conclave_data_bytes')).toBe(345)
    expect(sampleValue(families, 'conclave_client_connections')).toBe(5)
    expect(sampleValue(families, 'conclave_epoch')).toBe(3)
    expect(sampleValue(families, 'conclave_serving')).toBe(1)
    expect(sampleValue(families, 'conclave_event_loop_lag_max_seconds')).toBe(0.0125)
    expect(sampleValue(families, 'conclave_event_loop_lag_p99_seconds')).toBe(0.003)
    expect(sampleValue(families, 'conclave_role', { role: 'leading' })).toBe(1)
    expect(sampleValue(families, 'conclave_role', { role: 'following' })).toBe(0)
    // A follower in another epoch has no lag in txns: no sample rather than a made-up one.
    expect(samplesOf(families, 'conclave_follower_lag_txns').map((s) => s.labels)).toEqual([
      { follower: '2' },
    ])
    expect(sampleValue(families, 'conclave_follower_lag_txns', { follower: '2' })).toBe(2)

    status = statusOf({ role: 'following', followers: undefined, epoch: null, serving: false })
    const later = await scrape(metrics)
    expect(sampleValue(later, 'conclave_role', { role: 'following' })).toBe(1)
    expect(sampleValue(later, 'conclave_role', { role: 'leading' })).toBe(0)
    expect(samplesOf(later, 'conclave_follower_lag_txns')).toEqual([])
    expect(sampleValue(later, 'conclave_epoch')).toBe(0)
  })

  it('counts the core’s drops by reason, every reason shown from the start', async () => {
    let drops: DropCounts = {}
    const metrics = new MemberMetrics(
      statusOf,
      () => '',
      () => drops,
    )
    const first = await scrape(metrics)
    expect(samplesOf(first, 'conclave_peer_messages_dropped_total').map((s) => s.labels)).toEqual(
      DROP_REASONS.map((reason) => ({ reason })),
    )
    for (const reason of DROP_REASONS)
      expect(sampleValue(first, 'conclave_peer_messages_dropped_total', { reason })).toBe(0)
    drops = { 'stale-epoch': 4, 'not-from-leader': 1 }
    const later = await scrape(metrics)
    const dropped = (reason: string) =>
      sampleValue(later, 'conclave_peer_messages_dropped_total', { reason })
    expect(dropped('stale-epoch')).toBe(4)
    expect(dropped('not-from-leader')).toBe(1)
    expect(dropped('wrong-phase')).toBe(0)
    // Without the core's counts (a standalone server) the family still shows, at 0.
    const standalone = await scrape(new MemberMetrics(statusOf, () => ''))
    expect(
      sampleValue(standalone, 'conclave_peer_messages_dropped_total', { reason: 'duplicate' }),
    ).toBe(0)
  })

  it('builds the status once per scrape', async () => {
    let calls = 0
    const metrics = new MemberMetrics(
      () => (calls++, statusOf()),
      () => '',
    )
    await metrics.render()
    expect(calls).toBe(1)
  })

  it('counts and times requests by op, malformed ones as invalid, and quota refusals', async () => {
    const metrics = new MemberMetrics(statusOf, () => '')
    const get = { kind: 'read', xid: 1, request: { op: 'get', path: '/a' } } as QueuedRequest
    const refused: QueuedRequest = {
      kind: 'answered',
      xid: 2,
      reply: { err: ErrorCode.QUOTA_EXCEEDED },
      op: 'addWatch',
    }
    const malformed: QueuedRequest = { kind: 'answered', xid: 3, reply: { err: -8 } }
    for (let i = 0; i < 3; i++) metrics.replied(get, 2, 0)
    metrics.replied(refused, 0, ErrorCode.QUOTA_EXCEEDED)
    metrics.replied(malformed, 0, -8)
    metrics.received(100)
    metrics.received(23)
    metrics.sent(7)
    const f = await scrape(metrics)
    expect(sampleValue(f, 'conclave_requests_total', { op: 'get' })).toBe(3)
    expect(sampleValue(f, 'conclave_requests_total', { op: 'addWatch' })).toBe(1)
    expect(sampleValue(f, 'conclave_requests_total', { op: 'invalid' })).toBe(1)
    expect(sampleValue(f, 'conclave_requests_total', { op: 'create' })).toBe(0)
    expect(sampleValue(f, 'conclave_request_duration_seconds_count', { op: 'get' })).toBe(3)
    // Each get took about 2 ms: none in the 1 ms bucket, all by 10 ms.
    expect(
      sampleValue(f, 'conclave_request_duration_seconds_bucket', { op: 'get', le: '0.001' }),
    ).toBe(0)
    expect(
      sampleValue(f, 'conclave_request_duration_seconds_bucket', { op: 'get', le: '0.01' }),
    ).toBe(3)
    expect(sampleValue(f, 'conclave_request_duration_seconds_sum', { op: 'get' })).toBeGreaterThan(
      0.0059,
    )
    expect(sampleValue(f, 'conclave_limit_refusals_total', { kind: 'quota' })).toBe(1)
    expect(sampleValue(f, 'conclave_limit_refusals_total', { kind: 'connections' })).toBe(0)
    expect(sampleValue(f, 'conclave_received_bytes_total')).toBe(123)
    expect(sampleValue(f, 'conclave_sent_bytes_total')).toBe(7)
  })

  it('counts limit refusals by kind', async () => {
    const metrics = new MemberMetrics(statusOf, () => '')
    metrics.refused('connections')
    metrics.refused('frame_too_large')
    metrics.refused('frame_too_large')
    const f = await scrape(metrics)
    expect(sampleValue(f, 'conclave_limit_refusals_total', { kind: 'connections' })).toBe(1)
    expect(sampleValue(f, 'conclave_limit_refusals_total', { kind: 'frame_too_large' })).toBe(2)
    expect(sampleValue(f, 'conclave_limit_refusals_total', { kind: 'session_rate' })).toBe(0)
  })

  it('counts the election a member starts in and each one after it stops serving, with reason and duration', async () => {
    let reason = 'leading'
    const metrics = new MemberMetrics(statusOf, () => reason)
    let f = await scrape(metrics)
    expect(sampleValue(f, 'conclave_elections_total')).toBe(1)
    expect(sampleValue(f, 'conclave_last_election_info', { reason: 'started' })).toBe(1)
    metrics.onReady(readyOf({ role: 'looking', established: false }))
    metrics.onReady(readyOf({ role: 'following', established: false }))
    metrics.onReady(readyOf({ role: 'following', established: true }))
    metrics.onReady(readyOf({ role: 'following', established: true }))
    f = await scrape(metrics)
    expect(sampleValue(f, 'conclave_elections_total')).toBe(1)
    expect(sampleValue(f, 'conclave_last_election_info', { reason: 'started' })).toBe(1)

    reason = 'leader 2 silent for 10 ticks'
    // The election is timed by performance.now(): it takes exactly 250 ms here.
    const now = vi.spyOn(performance, 'now').mockReturnValue(10_000)
    metrics.onReady(readyOf({ role: 'looking', established: false, leaderLost: true }))
    metrics.onReady(readyOf({ role: 'looking', established: false }))
    now.mockReturnValue(10_250)
    reason = 'leading'
    metrics.onReady(readyOf({ role: 'leading', established: true, becameEstablished: true }))
    now.mockRestore()
    f = await scrape(metrics)
    expect(sampleValue(f, 'conclave_elections_total')).toBe(2)
    expect(samplesOf(f, 'conclave_last_election_info').map((s) => s.labels)).toEqual([
      { reason: 'leader 2 silent for 10 ticks' },
    ])
    expect(sampleValue(f, 'conclave_last_election_duration_seconds')).toBe(0.25)

    // Leadership lost and found again between two Readys is an election too.
    metrics.onReady(readyOf({ role: 'following', established: true, leaderLost: true }))
    expect(sampleValue(await scrape(metrics), 'conclave_elections_total')).toBe(3)
  })

  it("times the leader's proposals to their commit, and counts the syncs it sends", async () => {
    const metrics = new MemberMetrics(statusOf, () => '')
    const zxids = [1, 2, 3].map((c) => makeZxid(3, c))
    metrics.onReady(
      readyOf({
        persist: { txns: zxids.map(txnAt) },
        send: [
          { to: 2, message: { type: 'diff' } },
          { to: 3, message: { type: 'snap' } },
        ] as unknown as Ready['send'],
      }),
    )
    for (const zxid of zxids.slice(0, 2)) metrics.onCommitted(zxid)
    let f = await scrape(metrics)
    expect(sampleValue(f, 'conclave_proposal_commit_duration_seconds_count')).toBe(2)
    expect(sampleValue(f, 'conclave_syncs_total', { kind: 'diff', direction: 'sent' })).toBe(1)
    expect(sampleValue(f, 'conclave_syncs_total', { kind: 'snap', direction: 'sent' })).toBe(1)
    expect(sampleValue(f, 'conclave_syncs_total', { kind: 'trunc', direction: 'sent' })).toBe(0)
    // Leadership lost: what it proposed is no longer timed (another leader commits it, or not).
    metrics.onReady(readyOf({ role: 'looking', established: false, leaderLost: true }))
    metrics.onCommitted(zxids[2]!)
    metrics.onSyncReceived('trunc')
    f = await scrape(metrics)
    expect(sampleValue(f, 'conclave_proposal_commit_duration_seconds_count')).toBe(2)
    expect(sampleValue(f, 'conclave_syncs_total', { kind: 'trunc', direction: 'received' })).toBe(1)
  })

  it('skips commits it never saw proposed, and times the ones after them', async () => {
    const metrics = new MemberMetrics(statusOf, () => '')
    metrics.onReady(readyOf({ persist: { txns: [txnAt(makeZxid(3, 5))] } }))
    metrics.onCommitted(makeZxid(3, 4))
    metrics.onCommitted(makeZxid(3, 5))
    const f = await scrape(metrics)
    expect(sampleValue(f, 'conclave_proposal_commit_duration_seconds_count')).toBe(1)
  })

  it('times group commits of txns (not snapshot installs) with their batch size', async () => {
    const metrics = new MemberMetrics(statusOf, () => '')
    metrics.onPersisted(5, false, performance.now() - 3)
    metrics.onPersisted(0, false, performance.now())
    metrics.onPersisted(100, true, performance.now())
    const f = await scrape(metrics)
    expect(sampleValue(f, 'conclave_fsync_duration_seconds_count')).toBe(1)
    expect(sampleValue(f, 'conclave_fsync_duration_seconds_sum')).toBeGreaterThan(0.0029)
    expect(sampleValue(f, 'conclave_fsync_batch_txns_bucket', { le: '4' })).toBe(0)
    expect(sampleValue(f, 'conclave_fsync_batch_txns_bucket', { le: '8' })).toBe(1)
    expect(sampleValue(f, 'conclave_fsync_batch_txns_sum')).toBe(5)
  })

  it("keeps each member's figures in its own registry", async () => {
    const one = new MemberMetrics(statusOf, () => '')
    const two = new MemberMetrics(
      () => statusOf({ sessions: 99 }),
      () => '',
    )
    one.received(10)
    expect(sampleValue(await scrape(one), 'conclave_received_bytes_total')).toBe(10)
    const f = await scrape(two)
    expect(sampleValue(f, 'conclave_received_bytes_total')).toBe(0)
    expect(sampleValue(f, 'conclave_sessions')).toBe(99)
  })
})

describe('the docs', () => {
  it('docs/operations.md lists every family with its type, and the Grafana dashboard uses no other', () => {
    const docs = readFileSync(new URL('../../../docs/operations.md', import.meta.url), 'utf8')
    const documented = new Map(
      [...docs.matchAll(/^\| `(conclave_[a-z0-9_]+)` \| ([a-z]+) \|/gm)].map((m) => [m[1], m[2]]),
    )
    expect(Object.fromEntries(documented)).toEqual(FAMILIES)
    const dashboard = readFileSync(
      new URL('../../../docs/grafana-dashboard.json', import.meta.url),
      'utf8',
    )
    const used = new Set(
      [...dashboard.matchAll(/conclave_[a-z0-9_]+/g)].map((m) =>
        m[0].replace(/_(bucket|sum|count)$/, ''),
      ),
    )
    expect([...used].filter((name) => !(name in FAMILIES))).toEqual([])
  })
})

describe('HotHistogram', () => {
  it('renders cumulative buckets, +Inf, sum and count per label value, the same as prom-client would', async () => {
    const registry = new Registry()
    const h = new HotHistogram({
      name: 'x_seconds',
      help: 'x',
      labelName: 'op',
      buckets: [1, 2, 5],
      registry,
    })
    const a = h.cell('a')
    h.cell('b')
    for (const v of [0.5, 1, 1.5, 3, 9]) a.observe(v)
    const f = parsePromText(await registry.metrics())
    const buckets = samplesOf(f, 'x_seconds_bucket', { op: 'a' }).map((s) => [s.labels.le, s.value])
    expect(buckets).toEqual([
      ['1', 2],
      ['2', 3],
      ['5', 4],
      ['+Inf', 5],
    ])
    expect(sampleValue(f, 'x_seconds_sum', { op: 'a' })).toBe(15)
    expect(sampleValue(f, 'x_seconds_count', { op: 'b' })).toBe(0)
    expect(() => new HotHistogram({ name: 'y', help: 'y', buckets: [2, 1], registry })).toThrow(
      /ascend/,
    )
  })
})

describe('the strict Prometheus text parser', () => {
  const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{k="v\\"q"} 3\n'

  it('reads HELP, TYPE and samples with escaped label values', () => {
    const f = parsePromText(ok)
    expect(f.get('a_total')).toEqual({
      name: 'a_total',
      type: 'counter',
      help: 'A.',
      samples: [{ name: 'a_total', labels: { k: 'v"q' }, value: 3 }],
    })
  })

  it.each([
    ['a sample without a TYPE', 'a_total 3\n'],
    ['a sample of another name', '# TYPE a_total counter\nb_total 3\n'],
    ['a bad value', '# TYPE a counter\na three\n'],
    ['an unterminated label value', '# TYPE a gauge\na{k="v} 1\n'],
    ['a bad label name', '# TYPE a gauge\na{1k="v"} 1\n'],
    ['a label given twice', '# TYPE a gauge\na{k="v",k="w"} 1\n'],
    ['a series given twice', '# TYPE a gauge\na 1\na 2\n'],
    ['a TYPE given twice', '# TYPE a gauge\n# TYPE a gauge\n'],
    ['an unknown type', '# TYPE a meter\n'],
    ['a family split by another', '# TYPE a gauge\n# TYPE b gauge\na{x="1"} 1\nb 1\na{x="2"} 1\n'],
    ['another comment', '# hello\n'],
    ['no final newline', '# TYPE a gauge\na 1'],
    [
      'buckets not cumulative',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    ],
    ['no +Inf bucket', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    [
      '+Inf bucket unlike _count',
      '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n',
    ],
  ])('refuses %s', (_what, text) => {
    expect(() => parsePromText(text)).toThrow()
  })
})
