/**
 * MemberMetrics: what `GET /metrics` shows of one member, in the Prometheus text
 * format (docs/operations.md lists every family). Each member owns its own prom-client
 * Registry, never the process-wide default one: tests run several members in one
 * process.
 *
 * Two kinds of figures:
 * - gauges are read at scrape time from the member's /status (MemberStatus), computed
 *   once per scrape, so /metrics and /status never disagree and cost nothing between
 *   scrapes;
 * - counters and histograms are counted at a few hook points in the member
 *   (member-server.ts, client-front.ts, client-connection.ts, the client listener).
 *   The per-request ones (latency, bytes) are plain number writes into cells bound
 *   once (hot-histogram.ts) and reach prom-client only at scrape time: no allocation
 *   and no label string per request.
 */
import { Counter, Gauge, Registry } from 'prom-client'
import { ErrorCode, type RequestOp, type Zxid } from '../../protocol/index.js'
import { DROP_REASONS, type DropCounts, type Ready } from '../core/index.js'
import type { QueuedRequest } from './client-connection.js'
import { HotHistogram, type HistogramCell } from './hot-histogram.js'
import type { MemberStatus } from './member-status.js'

/** METRIC_PREFIX starts every family name. */
export const METRIC_PREFIX = 'conclave_'

/** REQUEST_OPS is every request op, each a label value of the request families from the start. */
const REQUEST_OPS = Object.keys({
  create: true,
  delete: true,
  exists: true,
  get: true,
  set: true,
  children: true,
  multi: true,
  sync: true,
  getEphemerals: true,
  childCount: true,
  getAcl: true,
  setAcl: true,
  auth: true,
  addWatch: true,
  removeWatches: true,
  setWatches: true,
  closeSession: true,
} satisfies Record<RequestOp, true>) as RequestOp[]

/** INVALID_OP labels requests answered with an error before their op could be read (a malformed frame with a readable xid). */
const INVALID_OP = 'invalid'

/** ROLES are the values of `conclave_role`'s label: the core's roles, and 'standalone'. */
const ROLES = ['looking', 'following', 'leading', 'observing', 'standalone'] as const

/** SyncKind is how a leader brought a follower up to date. */
export type SyncKind = 'diff' | 'trunc' | 'snap'

/** SYNC_KINDS are the peer message types that start a sync. */
const SYNC_KINDS: readonly SyncKind[] = ['diff', 'trunc', 'snap']

/**
 * LimitKind names a limit a client ran into (docs/operations.md, "Limits"):
 * - connections: a connection over maxConnections or maxConnectionsPerAddress (closed with 1013);
 * - frame_too_large: a frame over the frame limit (closed with 1009);
 * - client_not_reading: a client whose output passed its bound (closed with 1008);
 * - session_rate: a new session over maxSessionCreatesPerSecond (refused THROTTLED);
 * - quota: a request over maxWatchesPerSession or maxEphemeralsPerSession (QUOTA_EXCEEDED);
 * - reply_too_large: a reply over the frame limit, answered MARSHALLING_ERROR instead.
 */
export type LimitKind =
  | 'connections'
  | 'frame_too_large'
  | 'client_not_reading'
  | 'session_rate'
  | 'quota'
  | 'reply_too_large'

const LIMIT_KINDS: readonly LimitKind[] = [
  'connections',
  'frame_too_large',
  'client_not_reading',
  'session_rate',
  'quota',
  'reply_too_large',
]

/** SECONDS_BUCKETS are the latency buckets, 100 µs to 10 s. */
const SECONDS_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]

/** BATCH_BUCKETS are the group-commit size buckets, in txns. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]

/** PROPOSALS_TRACKED bounds the leader's proposals awaiting commit that are timed; older ones go untimed. */
const PROPOSALS_TRACKED = 1 << 16

/** zeroed makes a counter's series show (at 0) before its first increment, so rates and alerts see it from the start. */
function zeroed(child: Counter.Internal): Counter.Internal {
  child.inc(0)
  return child
}

/** ClientMetrics are the hooks the client side calls (client-front.ts). */
export interface ClientMetrics {
  /** received counts one frame from a client. */
  received(bytes: number): void
  /** sent counts one frame to a client. */
  sent(bytes: number): void
  /** replied records how long a request took from receipt to reply (`elapsedMs`, on the clock seam), and counts a quota refusal. */
  replied(entry: QueuedRequest, elapsedMs: number, err: number): void
  /** refused counts a client that ran into a limit. */
  refused(kind: LimitKind): void
}

/** MemberMetrics owns one member's Registry and every family in it. */
export class MemberMetrics implements ClientMetrics {
  /** registry holds this member's families only. */
  readonly registry = new Registry()
  /** The status of the scrape in progress: one /status per scrape, however many gauges read it. */
  private scraped: MemberStatus | undefined
  private readonly requestCells = new Map<string, HistogramCell>()
  private readonly invalidCell: HistogramCell
  private readonly fsyncSeconds: HistogramCell
  private readonly fsyncBatch: HistogramCell
  private readonly proposalSeconds: HistogramCell
  private receivedBytes = 0
  private sentBytes = 0
  private readonly refusals: Record<LimitKind, Counter.Internal>
  private readonly syncs: Record<'sent' | 'received', Record<SyncKind, Counter.Internal>>
  private readonly elections: Counter
  /** The election under way, since when (performance.now()); undefined while serving. A member starts in one. */
  private election: { startedMs: number } | undefined = { startedMs: performance.now() }
  private lastElectionSeconds = 0
  private lastElectionReason = 'started'
  /** The leader's proposals not yet committed, oldest first: zxid (as a number) and when proposed, in a ring. */
  private readonly proposedZxids = new Float64Array(PROPOSALS_TRACKED)
  private readonly proposedAtMs = new Float64Array(PROPOSALS_TRACKED)
  private proposedHead = 0
  private proposedCount = 0

  /**
   * The constructor registers every family. `status` builds the member's /status;
   * `transitionReason` says why the role last changed (read when an election starts);
   * `peerDrops` returns the core's drop counts by reason (`Peer.status().drops`), read at
   * scrape time — without it (a standalone server) every reason shows 0.
   */
  constructor(
    private readonly status: () => MemberStatus,
    private readonly transitionReason: () => string,
    private readonly peerDrops: () => DropCounts | undefined = () => undefined,
  ) {
    const registry = this.registry
    const name = (suffix: string) => METRIC_PREFIX + suffix
    const metrics = this

    const requestSeconds = new HotHistogram({
      name: name('request_duration_seconds'),
      help: 'Time from receiving a client request to sending its reply, by op.',
      labelName: 'op',
      buckets: SECONDS_BUCKETS,
      registry,
    })
    for (const op of REQUEST_OPS) this.requestCells.set(op, requestSeconds.cell(op))
    this.invalidCell = requestSeconds.cell(INVALID_OP)
    new Counter({
      name: name('requests_total'),
      help: 'Client requests answered, by op (invalid: malformed, answered with an error).',
      labelNames: ['op'],
      registers: [registry],
      collect() {
        this.reset()
        for (const [op, cell] of metrics.requestCells) this.inc({ op }, cell.count)
        this.inc({ op: INVALID_OP }, metrics.invalidCell.count)
      },
    })
    this.gauge(
      'requests_in_flight',
      'Client requests received and not answered yet.',
      (s) => s.requestsInFlight,
    )
    new Counter({
      name: name('received_bytes_total'),
      help: 'Bytes of the WebSocket frames received from clients.',
      registers: [registry],
      collect() {
        this.reset()
        this.inc(metrics.receivedBytes)
      },
    })
    new Counter({
      name: name('sent_bytes_total'),
      help: 'Bytes of the WebSocket frames sent to clients.',
      registers: [registry],
      collect() {
        this.reset()
        this.inc(metrics.sentBytes)
      },
    })
    this.gauge('client_connections', 'Open client connections.', (s) => s.connections)

    this.fsyncSeconds = new HotHistogram({
      name: name('fsync_duration_seconds'),
      help: 'Time for one group commit of txns to the log to become durable (write and fsync).',
      buckets: SECONDS_BUCKETS,
      registry,
    }).cell()
    this.fsyncBatch = new HotHistogram({
      name: name('fsync_batch_txns'),
      help: 'Txns made durable by one group commit.',
      buckets: BATCH_BUCKETS,
      registry,
    }).cell()
    this.proposalSeconds = new HotHistogram({
      name: name('proposal_commit_duration_seconds'),
      help: 'On the leader, time from proposing a txn to applying it committed (a quorum logged it).',
      buckets: SECONDS_BUCKETS,
      registry,
    }).cell()

    this.elections = new Counter({
      name: name('elections_total'),
      help: 'Elections this member took part in since it started: the one it starts in, and one each time it stops serving.',
      registers: [registry],
    })
    this.elections.inc()
    new Gauge({
      name: name('last_election_duration_seconds'),
      help: 'How long the last finished election took, from leaving service (or starting) to serving again.',
      registers: [registry],
      collect() {
        this.set(metrics.lastElectionSeconds)
      },
    })
    new Gauge({
      name: name('last_election_info'),
      help: 'Why the last election started (label reason); the value is always 1.',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset()
        if (metrics.lastElectionReason !== '') this.set({ reason: metrics.lastElectionReason }, 1)
      },
    })
    new Gauge({
      name: name('role'),
      help: "This member's role: 1 for the role it has, 0 for the others.",
      labelNames: ['role'],
      registers: [registry],
      collect() {
        const role = metrics.scrapeStatus().role
        for (const r of ROLES) this.set({ role: r }, r === role ? 1 : 0)
      },
    })
    this.gauge('serving', 'Whether this member serves clients (1) or not (0).', (s) =>
      s.serving ? 1 : 0,
    )
    this.gauge(
      'epoch',
      'The epoch of the leadership this member follows or leads (0 while none).',
      (s) => s.epoch ?? 0,
    )
    new Gauge({
      name: name('follower_lag_txns'),
      help: 'On the leader, how many txns each follower has not acknowledged yet (label follower: its id).',
      labelNames: ['follower'],
      registers: [registry],
      collect() {
        this.reset()
        for (const f of metrics.scrapeStatus().followers ?? [])
          if (f.lagTxns !== null) this.set({ follower: String(f.id) }, f.lagTxns)
      },
    })
    const syncs = new Counter({
      name: name('syncs_total'),
      help: 'Syncs of a follower with its leader, by kind (diff, trunc, snap) and direction (sent: by this member as leader; received: as follower).',
      labelNames: ['kind', 'direction'],
      registers: [registry],
    })
    const syncsOf = (direction: 'sent' | 'received') =>
      Object.fromEntries(
        SYNC_KINDS.map((kind) => [kind, zeroed(syncs.labels({ kind, direction }))]),
      ) as Record<SyncKind, Counter.Internal>
    this.syncs = { sent: syncsOf('sent'), received: syncsOf('received') }

    this.gauge(
      'sessions',
      'Live sessions in the ensemble (as this member knows them).',
      (s) => s.sessions,
    )
    this.gauge(
      'watches',
      'Watches registered on this member, one per watcher, path and kind.',
      (s) => s.watches,
    )
    this.gauge('ephemerals', 'Ephemeral znodes.', (s) => s.ephemerals)
    this.gauge('znodes', 'Znodes, / and /zookeeper included.', (s) => s.znodes)
    this.gauge('data_bytes', 'Sum of the znodes’ data lengths.', (s) => s.dataBytes)
    this.gauge(
      'event_loop_lag_max_seconds',
      'Longest event-loop delay over the last 5 to 10 seconds.',
      (s) => s.eventLoop.lagMaxMs / 1000,
    )
    this.gauge(
      'event_loop_lag_p99_seconds',
      '99th percentile event-loop delay over the last 5 seconds.',
      (s) => s.eventLoop.lagP99Ms / 1000,
    )
    this.gauge(
      'disk_full',
      'Whether writes to the data directory fail for want of space (1) or not (0).',
      (s) => (s.diskFull === null ? 0 : 1),
    )
    new Counter({
      name: name('peer_messages_dropped_total'),
      help: 'Peer messages (and connection reports) the ZAB core ignored, by reason (docs/architecture.md, Why the core drops a message).',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        const drops = metrics.peerDrops() ?? {}
        this.reset()
        // Every reason from the start, at 0 until seen, so rates and alerts see it.
        for (const reason of DROP_REASONS) this.inc({ reason }, drops[reason] ?? 0)
      },
    })
    const refusals = new Counter({
      name: name('limit_refusals_total'),
      help: 'Clients refused or closed for passing a limit, by kind (docs/operations.md, Limits).',
      labelNames: ['kind'],
      registers: [registry],
    })
    this.refusals = Object.fromEntries(
      LIMIT_KINDS.map((kind) => [kind, zeroed(refusals.labels({ kind }))]),
    ) as Record<LimitKind, Counter.Internal>
  }

  /** contentType is the Content-Type of `render`'s text. */
  get contentType(): string {
    return this.registry.contentType
  }

  /** render is the text of GET /metrics. */
  async render(): Promise<string> {
    this.scraped = this.status()
    try {
      return await this.registry.metrics()
    } finally {
      this.scraped = undefined
    }
  }

  // ---------------------------------------------------------------- client hooks

  /** received counts one frame from a client. */
  received(bytes: number): void {
    this.receivedBytes += bytes
  }

  /** sent counts one frame to a client. */
  sent(bytes: number): void {
    this.sentBytes += bytes
  }

  /** replied times a request from receipt to reply, by op, and counts a quota refusal. */
  replied(entry: QueuedRequest, elapsedMs: number, err: number): void {
    const op = entry.kind === 'answered' ? entry.op : entry.request.op
    const cell = (op === undefined ? undefined : this.requestCells.get(op)) ?? this.invalidCell
    cell.observe(elapsedMs / 1000)
    if (err === ErrorCode.QUOTA_EXCEEDED) this.refusals.quota.inc()
  }

  /** refused counts a client that ran into a limit. */
  refused(kind: LimitKind): void {
    this.refusals[kind].inc()
  }

  // ---------------------------------------------------------------- member hooks

  /**
   * onReady looks at each Ready the member takes: elections (the role left serving, or
   * it serves again), the leader's new proposals (timed until their commit) and the
   * syncs it starts.
   */
  onReady(ready: Ready): void {
    if (this.election === undefined && (!ready.established || ready.leaderLost)) {
      this.election = { startedMs: performance.now() }
      this.elections.inc()
      this.lastElectionReason = this.transitionReason()
    }
    if (this.election !== undefined && ready.established) {
      this.lastElectionSeconds = (performance.now() - this.election.startedMs) / 1000
      this.election = undefined
    }
    if (ready.role !== 'leading') this.proposedCount = 0
    else if (ready.persist.txns.length > 0) this.onProposed(ready.persist.txns)
    for (const envelope of ready.send) {
      const type = envelope.message.type
      if (type === 'diff' || type === 'trunc' || type === 'snap') this.syncs.sent[type].inc()
    }
  }

  /** onSyncReceived counts a sync this member received from its leader. */
  onSyncReceived(kind: SyncKind): void {
    this.syncs.received[kind].inc()
  }

  /** onPersisted times a group commit of txns to the log (snapshots from a leader are not counted). */
  onPersisted(txns: number, snapshot: boolean, startedMs: number): void {
    if (txns === 0 || snapshot) return
    this.fsyncSeconds.observe((performance.now() - startedMs) / 1000)
    this.fsyncBatch.observe(txns)
  }

  /** onCommitted times a committed txn proposed by this member as leader, when it is applied. */
  onCommitted(zxid: Zxid): void {
    if (this.proposedCount === 0) return
    // Zxids fit a double exactly while epochs stay below 2^21.
    const z = Number(zxid)
    while (this.proposedCount > 0) {
      const head = this.proposedHead
      const proposed = this.proposedZxids[head]!
      if (proposed > z) return
      this.proposedHead = (head + 1) % PROPOSALS_TRACKED
      this.proposedCount -= 1
      if (proposed === z) {
        this.proposalSeconds.observe((performance.now() - this.proposedAtMs[head]!) / 1000)
        return
      }
    }
  }

  // ---------------------------------------------------------------- internals

  private onProposed(txns: Ready['persist']['txns']): void {
    const nowMs = performance.now()
    for (const txn of txns) {
      if (this.proposedCount === PROPOSALS_TRACKED) {
        this.proposedHead = (this.proposedHead + 1) % PROPOSALS_TRACKED
        this.proposedCount -= 1
      }
      const slot = (this.proposedHead + this.proposedCount) % PROPOSALS_TRACKED
      this.proposedZxids[slot] = Number(txn.zxid)
      this.proposedAtMs[slot] = nowMs
      this.proposedCount += 1
    }
  }

  /** scrapeStatus is the status of the scrape in progress (or a fresh one outside `render`). */
  private scrapeStatus(): MemberStatus {
    return this.scraped ?? this.status()
  }

  /** gauge registers an unlabelled gauge read from the status at scrape time. */
  private gauge(suffix: string, help: string, read: (status: MemberStatus) => number): void {
    const metrics = this
    new Gauge({
      name: METRIC_PREFIX + suffix,
      help,
      registers: [this.registry],
      collect() {
        this.set(read(metrics.scrapeStatus()))
      },
    })
  }
}
