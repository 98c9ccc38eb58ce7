/**
 * The table `conclave status` prints: one row per server from its GET /status — its
 * applied, logged and committed zxids — with each follower's acknowledged zxid and lag
 * taken from the leader's view of it (a follower does not know how far behind it is;
 * the leader does).
 */

/** MemberStatus is one server's /status body plus the `server` address it was read from. */
export type MemberStatus = Record<string, unknown> & { server: string }

/** STATUS_COLUMNS are the table's columns, in order. */
export const STATUS_COLUMNS = [
  'server',
  'id',
  'role',
  'epoch',
  'zxid',
  'logged',
  'committed',
  'acked',
  'lag',
  'sessions',
  'znodes',
  'connections',
] as const

/** FollowerView is one entry of a leader's `followers` list. */
interface FollowerView {
  id: unknown
  ackedZxid?: unknown
  lagTxns?: unknown
  connected?: unknown
}

/** cell renders one value: absent or null is '-'. */
function cell(value: unknown): string {
  if (value === undefined || value === null) return '-'
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value)
  // A structured value (say, from a newer server) shows as JSON rather than '[object Object]'.
  return JSON.stringify(value) ?? '?'
}

/**
 * findLeader picks the row to take lags from: a reachable server that says it is
 * leading. During a partition a deposed leader may still say so; the highest epoch wins.
 */
function findLeader(statuses: readonly MemberStatus[]): MemberStatus | undefined {
  const epoch = (s: MemberStatus) => (typeof s.epoch === 'number' ? s.epoch : -1)
  return statuses.filter((s) => s.role === 'leading').sort((a, b) => epoch(b) - epoch(a))[0]
}

/** lagCell is a row's lag: '-' for the leader and standalone servers, the leader's count for a follower, '?' when unknown. */
function lagCell(status: MemberStatus, leader: MemberStatus | undefined): string {
  if (status === leader || status.role === 'standalone') return '-'
  if (status.role !== 'following' || leader === undefined || !Array.isArray(leader.followers))
    return '?'
  const view = (leader.followers as FollowerView[]).find((f) => f.id === status.id)
  if (view === undefined) return '?'
  const lag = typeof view.lagTxns === 'number' ? String(view.lagTxns) : '?'
  return view.connected === false ? `${lag} (no link)` : lag
}

/** ackedCell is the zxid the leader knows a follower has durably logged; '-' for the leader, '?' when unknown. */
function ackedCell(status: MemberStatus, leader: MemberStatus | undefined): string {
  if (status === leader || status.role === 'standalone') return '-'
  const view =
    leader !== undefined && Array.isArray(leader.followers)
      ? (leader.followers as FollowerView[]).find((f) => f.id === status.id)
      : undefined
  return view === undefined || typeof view.ackedZxid !== 'string' ? '?' : view.ackedZxid
}

/** roleCell is the role, marked when the server is not serving clients yet (or any more), or waits for disk space. */
function roleCell(status: MemberStatus): string {
  const role = cell(status.role)
  if (typeof status.diskFull === 'object' && status.diskFull !== null) return `${role} (disk full)`
  return status.serving === false && (role === 'leading' || role === 'following')
    ? `${role} (not serving)`
    : role
}

/** statusRows turns statuses into table cells, one row of STATUS_COLUMNS per server. */
export function statusRows(statuses: readonly MemberStatus[]): string[][] {
  const leader = findLeader(statuses)
  return statuses.map((s) => [
    // ws:// is what every address starts with; the table shows host:port.
    s.server.replace(/^ws:\/\//, '').replace(/\/$/, ''),
    cell(s.id),
    roleCell(s),
    cell(s.epoch),
    cell(s.zxid),
    cell(s.lastLoggedZxid),
    cell(s.lastCommittedZxid),
    s.id === undefined ? '-' : ackedCell(s, leader),
    s.id === undefined ? '-' : lagCell(s, leader),
    cell(s.sessions),
    cell(s.znodes),
    cell(s.connections),
  ])
}

/** formatStatusTable renders the table with a header, columns padded to their widest cell. */
export function formatStatusTable(statuses: readonly MemberStatus[]): string {
  const rows = statusRows(statuses)
  const widths = STATUS_COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: readonly string[]) =>
    cells
      .map((text, i) => text.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  return [line(STATUS_COLUMNS), ...rows.map(line)].join('\n') + '\n'
}
