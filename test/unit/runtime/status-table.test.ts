/**
 * `conclave status`'s table from fixed /status bodies: columns, the leader's lag '-',
 * followers' acknowledged zxids and lags from the leader's followers list, unknown lags
 * '?', unreachable rows.
 */
import { describe, expect, it } from 'vitest'
import {
  formatStatusTable,
  statusRows,
  type MemberStatus,
} from '../../../server/cli/status-table.js'

const common = { sessions: 2, znodes: 10, watches: 1, connections: 1, digest: 'ab' }
const leader: MemberStatus = {
  server: 'ws://127.0.0.1:2281',
  id: 1,
  role: 'leading',
  serving: true,
  epoch: 3,
  zxid: '0x3_00000010',
  lastLoggedZxid: '0x3_00000012',
  lastCommittedZxid: '0x3_00000011',
  ...common,
  followers: [
    { id: 2, ackedZxid: '0x3_00000012', lagTxns: 0, connected: true },
    { id: 3, ackedZxid: '0x3_00000005', lagTxns: 7, connected: false },
  ],
}
const follower = (id: number, extra: Record<string, unknown> = {}): MemberStatus => ({
  server: `ws://127.0.0.1:${2280 + id}`,
  id,
  role: 'following',
  serving: true,
  epoch: 3,
  zxid: '0x3_0000000f',
  lastLoggedZxid: '0x3_00000012',
  lastCommittedZxid: '0x3_0000000f',
  ...common,
  ...extra,
})

describe('status table', () => {
  it('shows every column and takes the followers’ lags from the leader', () => {
    expect(formatStatusTable([leader, follower(2), follower(3)])).toBe(
      [
        'server          id  role       epoch  zxid          logged        committed     acked         lag          sessions  znodes  connections',
        '127.0.0.1:2281  1   leading    3      0x3_00000010  0x3_00000012  0x3_00000011  -             -            2         10      1',
        '127.0.0.1:2282  2   following  3      0x3_0000000f  0x3_00000012  0x3_0000000f  0x3_00000012  0            2         10      1',
        '127.0.0.1:2283  3   following  3      0x3_0000000f  0x3_00000012  0x3_0000000f  0x3_00000005  7 (no link)  2         10      1',
        '',
      ].join('\n'),
    )
  })

  it('marks lags it cannot know with ?: leader unreachable, follower not in its list, lag across epochs', () => {
    const down: MemberStatus = { server: 'ws://127.0.0.1:2281', role: 'unreachable (fetch failed)' }
    expect(statusRows([down, follower(2)]).map((r) => r[8])).toEqual(['-', '?'])
    const crossEpoch = { ...leader, followers: [{ id: 2, lagTxns: null, connected: true }] }
    expect(statusRows([crossEpoch, follower(2), follower(4)]).map((r) => r[8])).toEqual([
      '-',
      '?',
      '?',
    ])
    expect(
      statusRows([{ ...follower(2), role: 'looking', epoch: null }]).map((r) => [r[2], r[3], r[8]]),
    ).toEqual([['looking', '-', '?']])
  })

  it('trusts the leader of the highest epoch when two say they lead', () => {
    const stale = {
      ...leader,
      server: 'ws://127.0.0.1:2283',
      id: 3,
      epoch: 2,
      followers: [{ id: 2, lagTxns: 99, connected: true }],
    }
    const current = { ...leader, followers: [{ id: 2, lagTxns: 4, connected: true }] }
    expect(statusRows([stale, current, follower(2)]).map((r) => r[8])).toEqual(['?', '-', '4'])
  })

  it('shows a standalone server, a member not serving yet, and an unreachable one', () => {
    const standalone: MemberStatus = {
      server: 'ws://h:1',
      id: 1,
      role: 'standalone',
      epoch: 1,
      zxid: '0x1_00000002',
      lastLoggedZxid: '0x1_00000002',
      lastCommittedZxid: '0x1_00000002',
      ...common,
    }
    const electing = { ...leader, serving: false }
    const rows = statusRows([
      standalone,
      electing,
      { server: 'ws://h:3', role: 'unreachable (ECONNREFUSED)' },
    ])
    expect(rows[0]).toEqual([
      'h:1',
      '1',
      'standalone',
      '1',
      '0x1_00000002',
      '0x1_00000002',
      '0x1_00000002',
      '-',
      '-',
      '2',
      '10',
      '1',
    ])
    expect(rows[1]![2]).toBe('leading (not serving)')
    expect(rows[2]).toEqual([
      'h:3',
      '-',
      'unreachable (ECONNREFUSED)',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
    ])
  })

  it('marks a member whose disk is full', () => {
    const full = {
      ...follower(2),
      role: 'looking',
      serving: false,
      diskFull: {
        sinceMs: 1,
        stalledMs: 5000,
        failing: { 'log append': 'ENOSPC during write' },
        retryMs: 1000,
      },
    }
    expect(statusRows([leader, full, { ...follower(3), diskFull: null }]).map((r) => r[2])).toEqual(
      ['leading', 'looking (disk full)', 'following'],
    )
  })
})
