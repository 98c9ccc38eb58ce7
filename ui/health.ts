/**
 * Ensemble health: each member's /status, read every second. The member serving the
 * page lists the ensemble's members (`members` in its /status); the others answer the
 * page's origin through CORS. A member that does not answer within the second shows as
 * unreachable. Under the table, a chart of the committed txns per second and the
 * largest follower lag.
 */
import { drawChart } from './chart.js'
import { h } from './dom.js'

/** StatusBody is the part of GET /status the console shows. */
export interface StatusBody {
  id: number
  role: string
  serving: boolean
  leaderId: number | null
  epoch: number | null
  zxid: string
  zxidDecimal: string
  lastCommittedZxid: string
  sessions: number
  connections: number
  znodes: number
  watches: number
  followers?: { id: number; lagTxns: number | null; connected: boolean; stage: string }[]
  members?: { id: number; host: string; clientPort: number }[]
}

/** MemberEndpoint is where the page reads one member's /status ('' is the page's own member). */
export interface MemberEndpoint {
  id: number
  base: string
}

/** POLL_MS is how often every member's /status is read. */
export const POLL_MS = 1000

/** CHART_SLOTS is how many samples the chart shows (a minute). */
const CHART_SLOTS = 60

/** StatusError is a /status request that got an HTTP error. */
export class StatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

/** fetchStatus reads `base`/status with the admin token when there is one. */
export async function fetchStatus(base: string, token: string | undefined): Promise<StatusBody> {
  const response = await fetch(`${base}/status`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(POLL_MS - 100),
  })
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { error?: string }
    throw new StatusError(
      response.status,
      `HTTP ${response.status}: ${body.error ?? response.statusText}`,
    )
  }
  return (await response.json()) as StatusBody
}

/** endpointsOf lists where to read each member's /status, from the page's own member's /status. */
export function endpointsOf(own: StatusBody, protocol: string): MemberEndpoint[] {
  if (own.members === undefined) return [{ id: own.id, base: '' }]
  return own.members.map((m) => ({
    id: m.id,
    base:
      m.id === own.id
        ? ''
        : `${protocol}//${m.host.includes(':') ? `[${m.host}]` : m.host}:${m.clientPort}`,
  }))
}

/** HealthView polls the members and renders the table and the chart. */
export class HealthView {
  private readonly throughput: number[] = []
  private readonly lag: number[] = []
  private last: { epoch: bigint; counter: bigint; atMs: number } | undefined

  constructor(
    private readonly table: HTMLElement,
    private readonly chart: SVGSVGElement,
    private readonly legend: HTMLElement,
    private readonly endpoints: MemberEndpoint[],
    private readonly token: () => string | undefined,
  ) {}

  /** start polls every POLL_MS (a round that takes longer delays the next; rounds never overlap). */
  start(): void {
    const round = async () => {
      const startedMs = performance.now()
      await this.poll().catch(() => undefined)
      setTimeout(() => void round(), Math.max(0, POLL_MS - (performance.now() - startedMs)))
    }
    void round()
  }

  /** poll reads every member's /status once and renders what came back. */
  async poll(): Promise<void> {
    const results = await Promise.all(
      this.endpoints.map((e) =>
        fetchStatus(e.base, this.token()).then(
          (status) => ({ id: e.id, status, error: undefined }),
          (err: unknown) => ({ id: e.id, status: undefined, error: unreachable(err) }),
        ),
      ),
    )
    const leader = results.find((r) => r.status?.role === 'leading')?.status
    const lagOf = new Map((leader?.followers ?? []).map((f) => [f.id, f.lagTxns]))
    this.table.replaceChildren(
      ...results.map(({ id, status, error }) => {
        if (status === undefined)
          return h(
            'tr',
            { 'data-member-id': String(id), 'data-role': 'unreachable' },
            h('td', {}, id),
            h('td', { class: 'role unreachable', colspan: '8' }, error),
          )
        const lag = status.role === 'leading' ? '—' : (lagOf.get(id) ?? '?')
        return h(
          'tr',
          { 'data-member-id': String(id), 'data-role': status.role, 'data-zxid': status.zxid },
          h('td', {}, id),
          h(
            'td',
            { class: `role ${status.role}` },
            status.role,
            status.serving ? '' : ' (not serving)',
          ),
          h('td', {}, status.epoch ?? '—'),
          h('td', { class: 'zxid' }, status.zxid),
          h('td', { class: 'zxid' }, status.lastCommittedZxid),
          h('td', {}, lag === null ? 'other epoch' : lag),
          h('td', {}, status.sessions),
          h('td', {}, status.connections),
          h('td', {}, status.znodes),
        )
      }),
    )
    this.sample(
      results.flatMap((r) => (r.status === undefined ? [] : [r.status])),
      lagOf,
    )
  }

  /** sample adds one point to the chart: txns/s from the highest applied zxid, and the largest lag. */
  private sample(statuses: StatusBody[], lagOf: Map<number, number | null>): void {
    const zxid = statuses.reduce(
      (top, s) => (BigInt(s.zxidDecimal) > top ? BigInt(s.zxidDecimal) : top),
      0n,
    )
    const now = performance.now()
    const epoch = zxid >> 32n
    const counter = zxid & 0xffffffffn
    const rate =
      this.last !== undefined && this.last.epoch === epoch && now > this.last.atMs
        ? Number(counter - this.last.counter) / ((now - this.last.atMs) / 1000)
        : 0
    this.last = { epoch, counter, atMs: now }
    const lag = Math.max(0, ...[...lagOf.values()].map((v) => v ?? 0))
    push(this.throughput, Math.round(rate))
    push(this.lag, lag)
    drawChart(
      this.chart,
      [
        { name: 'txns/s', className: 'throughput', values: this.throughput },
        { name: 'lag', className: 'lag', values: this.lag },
      ],
      CHART_SLOTS,
    )
    this.legend.textContent = `txns/s ${Math.round(rate)} · largest follower lag ${lag} txns`
  }
}

function push(values: number[], value: number): void {
  values.push(value)
  if (values.length > CHART_SLOTS) values.shift()
}

function unreachable(err: unknown): string {
  if (err instanceof StatusError) return err.message
  if (err instanceof Error && err.name === 'TimeoutError')
    return 'unreachable (no answer within a second)'
  return `unreachable (${err instanceof TypeError ? 'no connection' : String(err)})`
}
