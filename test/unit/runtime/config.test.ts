/**
 * resolveConfig: the defaults of design.md §11, the ensemble keys (member list, secret
 * file, peer port, dial addresses) and every refusal naming the setting it refuses.
 */
import { describe, expect, it } from 'vitest'
import {
  ConfigError,
  DEFAULT_CONFIG,
  resolveConfig,
  txnBuilderOptionsFor,
} from '../../../server/runtime/config.js'

const MEMBERS = [
  { id: 3, host: '10.0.0.3', clientPort: 2283, peerPort: 2383 },
  { id: 1, host: '10.0.0.1', clientPort: 2281, peerPort: 2381 },
  { id: 2, host: '10.0.0.2', clientPort: 2282, peerPort: 2382 },
]

/** member is the raw config of member `id` of MEMBERS, plus `extra`. */
function member(id: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, dataDir: '/data', members: MEMBERS, secretFile: '/etc/conclave/secret', ...extra }
}

/** refused asserts that resolveConfig throws a ConfigError whose message contains `text`. */
function refused(raw: Record<string, unknown>, text: string): void {
  let caught: unknown
  try {
    resolveConfig(raw)
  } catch (err) {
    caught = err
  }
  expect(caught).toBeInstanceOf(ConfigError)
  expect((caught as Error).message).toContain(text)
}

describe('resolveConfig: standalone', () => {
  it('fills the defaults of design.md §11 and has no ensemble', () => {
    const c = resolveConfig({ dataDir: '/data' })
    expect(c).toMatchObject({ ...DEFAULT_CONFIG, dataDir: '/data', ensemble: undefined })
    expect(c).toMatchObject({
      tickMs: 100,
      leaderTimeoutTicks: 10,
      initTimeoutTicks: 100,
      diffLimitTxns: 1000,
      clientPort: 2281,
    })
  })

  it('a member list of one is standalone, and its entry gives the client port', () => {
    const c = resolveConfig({
      id: 7,
      dataDir: '/d',
      members: [{ id: 7, host: 'a', clientPort: 3001, peerPort: 3101 }],
    })
    expect(c.ensemble).toBeUndefined()
    expect(c.clientPort).toBe(3001)
  })

  it('takes the tunables from the config', () => {
    const c = resolveConfig({
      dataDir: '/d',
      leaderTimeoutTicks: 5,
      initTimeoutTicks: 50,
      diffLimitTxns: 7,
    })
    expect(c).toMatchObject({ leaderTimeoutTicks: 5, initTimeoutTicks: 50, diffLimitTxns: 7 })
  })

  it('takes the peer handshake limits, with their defaults, and refuses nonsense', () => {
    expect(resolveConfig({ dataDir: '/d' })).toMatchObject({
      peerHandshakeTimeoutMs: 1500,
      peerHandshakesPerAddressMax: 8,
      peerMemberHandshakesPerAddressMax: 64,
      peerStrangerHandshakesMax: 32,
    })
    const c = resolveConfig({
      dataDir: '/d',
      peerHandshakeTimeoutMs: 900,
      peerHandshakesPerAddressMax: 2,
      peerMemberHandshakesPerAddressMax: 5,
      peerStrangerHandshakesMax: 3,
    })
    expect(c).toMatchObject({
      peerHandshakeTimeoutMs: 900,
      peerHandshakesPerAddressMax: 2,
      peerMemberHandshakesPerAddressMax: 5,
      peerStrangerHandshakesMax: 3,
    })
    refused({ dataDir: '/d', peerHandshakeTimeoutMs: 10 }, "'peerHandshakeTimeoutMs'")
    refused({ dataDir: '/d', peerHandshakesPerAddressMax: 0 }, "'peerHandshakesPerAddressMax'")
    refused(
      { dataDir: '/d', peerMemberHandshakesPerAddressMax: 1.5 },
      "'peerMemberHandshakesPerAddressMax'",
    )
    refused({ dataDir: '/d', peerStrangerHandshakesMax: -1 }, "'peerStrangerHandshakesMax'")
  })

  it('gives the TxnBuilder the data limit, the txn limit (twice the client frame) and maxEphemeralsPerSession', () => {
    expect(txnBuilderOptionsFor(resolveConfig({ dataDir: '/d' }))).toEqual({
      dataBytesMax: 1_048_576,
      txnBytesMax: 2_228_224,
      ephemeralsPerSessionMax: 10_000,
    })
    const small = resolveConfig({ dataDir: '/d', maxDataBytes: 1024, maxEphemeralsPerSession: 3 })
    expect(txnBuilderOptionsFor(small)).toEqual({
      dataBytesMax: 1024,
      txnBytesMax: 2 * (1024 + 65_536),
      ephemeralsPerSessionMax: 3,
    })
    refused(
      { dataDir: '/d', maxEphemeralsPerSession: 0 },
      "'maxEphemeralsPerSession' must be an integer in [1,",
    )
  })

  it('checks ensemble keys even without an ensemble, so a typo shows before the day it matters', () => {
    refused({ dataDir: '/d', peerPort: 70000 }, "'peerPort'")
    refused({ dataDir: '/d', secretFile: '' }, "'secretFile'")
    refused(
      { dataDir: '/d', dialAddresses: { 2: 'a:1' } },
      "'dialAddresses' needs a 'members' list",
    )
  })
})

describe('resolveConfig: ensemble member', () => {
  it('sorts the members by id and takes this member’s ports by default', () => {
    const c = resolveConfig(member(2))
    expect(c.ensemble).toBeDefined()
    expect(c.ensemble!.members.map((m) => m.id)).toEqual([1, 2, 3])
    expect(c.ensemble!.members[0]).toEqual({
      id: 1,
      host: '10.0.0.1',
      clientPort: 2281,
      peerPort: 2381,
    })
    expect(c.ensemble!.peerPort).toBe(2382)
    expect(c.clientPort).toBe(2282)
    expect(c.ensemble!.secretFile).toBe('/etc/conclave/secret')
    expect(c.ensemble!.ensembleId).toBe('')
    expect(c.ensemble!.dialAddresses.size).toBe(0)
    // host stays the bind address; the member's host is what others dial.
    expect(c.host).toBe(DEFAULT_CONFIG.host)
  })

  it('an explicit top-level clientPort or peerPort wins over the member entry (tests pass 0)', () => {
    const c = resolveConfig(member(1, { clientPort: 0, peerPort: 0 }))
    expect(c.clientPort).toBe(0)
    expect(c.ensemble!.peerPort).toBe(0)
  })

  it('keeps the ensemble id and parses dial addresses, IPv6 included', () => {
    const c = resolveConfig(
      member(1, {
        ensembleId: 'prod-eu',
        dialAddresses: { '2': '127.0.0.1:40001', 3: '[::1]:40002' },
      }),
    )
    expect(c.ensemble!.ensembleId).toBe('prod-eu')
    expect(c.ensemble!.dialAddresses.get(2)).toEqual({ host: '127.0.0.1', port: 40001 })
    expect(c.ensemble!.dialAddresses.get(3)).toEqual({ host: '::1', port: 40002 })
  })

  it('requires the secret file and this server in the list', () => {
    refused({ id: 1, dataDir: '/d', members: MEMBERS }, "missing setting 'secretFile'")
    refused(member(4), "this server's id 4 is not in 'members' (1, 2, 3)")
    refused(
      { id: 2, dataDir: '/d', members: [{ id: 1, host: 'a', clientPort: 1, peerPort: 2 }] },
      "id 2 is not in 'members'",
    )
  })

  it('refuses a bad member list, naming the entry', () => {
    refused(member(1, { members: [] }), "'members' must be a non-empty list")
    refused(member(1, { members: 'a,b' }), "'members' must be a non-empty list")
    refused(member(1, { members: [...MEMBERS, 5] }), "'members[3]' must be an object")
    refused(
      member(1, { members: [...MEMBERS, { id: 1, host: 'x', clientPort: 9, peerPort: 10 }] }),
      'id 1 appears twice',
    )
    refused(
      member(1, { members: [...MEMBERS, { id: 256, host: 'x', clientPort: 9, peerPort: 10 }] }),
      "'members[3].id' must be an integer in [1, 255]",
    )
    refused(
      member(1, { members: [...MEMBERS, { id: 4, host: '', clientPort: 9, peerPort: 10 }] }),
      "'members[3].host'",
    )
    refused(
      member(1, { members: [...MEMBERS, { id: 4, host: 'x', peerPort: 10 }] }),
      "missing setting 'members[3].clientPort'",
    )
    refused(
      member(1, { members: [...MEMBERS, { id: 4, host: 'x', clientPort: 9, peerPort: 0 }] }),
      "'members[3].peerPort' must be an integer in [1, 65535]",
    )
    refused(
      member(1, {
        members: [...MEMBERS, { id: 4, host: 'x', clientPort: 9, peerPort: 10, port: 1 }],
      }),
      "unknown setting 'members[3].port'",
    )
  })

  it('refuses two members advertising the same address, and equal client and peer ports', () => {
    refused(
      member(1, {
        members: [...MEMBERS, { id: 4, host: '10.0.0.1', clientPort: 2381, peerPort: 9 }],
      }),
      "member 4's clientPort 10.0.0.1:2381 is already member 1's peerPort",
    )
    refused(member(1, { peerPort: 2281 }), "'peerPort' and 'clientPort' are both 2281")
  })

  it('refuses bad dial addresses and ensemble ids', () => {
    refused(
      member(1, { dialAddresses: { 9: 'a:1' } }),
      "'dialAddresses.9': '9' is not the id of a member",
    )
    refused(member(1, { dialAddresses: { two: 'a:1' } }), "'dialAddresses.two'")
    refused(member(1, { dialAddresses: { 2: 'a' } }), "'dialAddresses.2' must be 'host:port'")
    refused(member(1, { dialAddresses: { 2: 'a:70000' } }), "'dialAddresses.2' must be 'host:port'")
    refused(member(1, { dialAddresses: ['a:1'] }), "'dialAddresses' must be an object")
    refused(member(1, { ensembleId: 5 }), "'ensembleId'")
  })
})

describe('resolveConfig: refusals', () => {
  it('refuses unknown keys, listing the known ones', () => {
    refused({ dataDir: '/d', member: [] }, "unknown setting 'member'")
    refused({ dataDir: '/d', member: [] }, 'members')
  })

  it('refuses bad tunables', () => {
    refused(
      { dataDir: '/d', leaderTimeoutTicks: 1 },
      "'leaderTimeoutTicks' must be an integer in [2,",
    )
    refused({ dataDir: '/d', initTimeoutTicks: 'soon' }, "'initTimeoutTicks'")
    refused({ dataDir: '/d', diffLimitTxns: 0 }, "'diffLimitTxns'")
    refused(
      { dataDir: '/d', leaderTimeoutTicks: 20, initTimeoutTicks: 10 },
      'initTimeoutTicks (10) must be at least leaderTimeoutTicks (20)',
    )
  })

  it('still refuses what it refused before', () => {
    refused({}, "missing setting 'dataDir'")
    refused({ dataDir: '/d', logLevel: 'loud' }, "'logLevel'")
    refused({ dataDir: '/d', id: 0 }, "'id'")
    refused({ dataDir: '/d', host: 'a b' }, "'host'")
    refused({ dataDir: '/d', minSessionTimeoutMs: 100 }, 'at least two ticks')
  })
})
