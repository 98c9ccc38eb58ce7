/*
 * Goal: the small building blocks under the client hold their contracts: the chroot
 * maps paths both ways without leaking outside paths, backoff stays within its bounds
 * and grows, shuffling permutes, the xid table matches replies FIFO, and options are
 * checked. Method: fast-check properties over generated paths and rounds, plus direct
 * cases for the xid table and options.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isValidPath } from '../../../protocol/index.js'
import { backoffDelayMs, shuffled } from '../../../client/connection.js'
import { Chroot, toBytes } from '../../../client/data.js'
import { ConnectionLossError } from '../../../client/errors.js'
import { clientSettings } from '../../../client/options.js'
import { PendingTable, isWrite } from '../../../client/pending.js'

const segment = fc.stringMatching(/^[a-z0-9_-]{1,6}$/)
const userPath = fc.array(segment, { maxLength: 4 }).map((parts) => '/' + parts.join('/'))

describe('Chroot', () => {
  it('maps a path in and back out unchanged, and the chroot node is /', () => {
    fc.assert(
      fc.property(
        userPath.filter((p) => p !== '/'),
        userPath,
        (prefix, path) => {
          const chroot = new Chroot(prefix)
          const server = chroot.toServer(path)
          expect(isValidPath(server)).toBe(true)
          expect(server.startsWith(prefix)).toBe(true)
          expect(chroot.fromServer(server)).toBe(path)
        },
      ),
    )
    expect(new Chroot('/app').toServer('/')).toBe('/app')
  })

  it('returns null for server paths outside the chroot, including siblings sharing its prefix', () => {
    const chroot = new Chroot('/app')
    expect(chroot.fromServer('/apple')).toBeNull()
    expect(chroot.fromServer('/')).toBeNull()
    expect(chroot.fromServer('/other/app')).toBeNull()
    expect(new Chroot('').fromServer('/x')).toBe('/x')
  })

  it('encodes strings as UTF-8 and passes bytes through', () => {
    expect(toBytes('é')).toEqual(new Uint8Array([0xc3, 0xa9]))
    const bytes = new Uint8Array([1])
    expect(toBytes(bytes)).toBe(bytes)
  })
})

describe('backoff and shuffle', () => {
  it('keeps every delay within [ceiling/2, ceiling], with a ceiling that grows to the cap', () => {
    fc.assert(
      fc.property(
        fc.nat(40),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (rounds, r) => {
          const delayMs = backoffDelayMs(rounds, 1000, () => r)
          const ceilingMs = Math.min(1000, 25 * 2 ** Math.max(rounds - 1, 0))
          expect(delayMs).toBeGreaterThanOrEqual(ceilingMs / 2)
          expect(delayMs).toBeLessThanOrEqual(ceilingMs)
        },
      ),
    )
    expect(backoffDelayMs(3, 1000, () => 1)).toBeGreaterThan(backoffDelayMs(1, 1000, () => 1))
    expect(backoffDelayMs(30, 1000, () => 0.999)).toBeLessThanOrEqual(1000)
  })

  it('shuffles into a permutation', () => {
    fc.assert(
      fc.property(fc.array(fc.string()), (items) => {
        expect([...shuffled(items)].sort()).toEqual([...items].sort())
      }),
    )
  })
})

describe('PendingTable', () => {
  const noop = () => {}

  it('matches replies to the oldest call in flight only', () => {
    const table = new PendingTable()
    const a = table.create({ op: 'sync', path: '/' }, noop, noop)
    const b = table.create({ op: 'sync', path: '/' }, noop, noop)
    table.markSent(a)
    table.markSent(b)
    expect(table.matchReply(b.xid)).toEqual({ kind: 'unexpected', expectedXid: a.xid })
    expect(table.matchReply(a.xid)).toEqual({ kind: 'call', call: a })
    expect(table.matchReply(b.xid)).toEqual({ kind: 'call', call: b })
    expect(table.matchReply(b.xid)).toEqual({ kind: 'unexpected', expectedXid: undefined })
  })

  it('drops abandoned unsent calls and silences abandoned sent ones', () => {
    const table = new PendingTable()
    const rejected: string[] = []
    const unsent = table.create({ op: 'sync', path: '/' }, noop, () => rejected.push('unsent'))
    const sent = table.create(
      { op: 'set', path: '/a', data: new Uint8Array(), version: -1 },
      noop,
      () => rejected.push('sent'),
    )
    const live = table.create({ op: 'get', path: '/a', watch: false }, noop, () =>
      rejected.push('live'),
    )
    table.queue(unsent)
    table.markSent(sent)
    table.markSent(live)
    table.abandon(unsent)
    table.abandon(sent)
    expect(table.takeUnsent()).toEqual([])
    table.failInFlight(() => new ConnectionLossError('gone'))
    expect(rejected).toEqual(['live'])
  })

  it('gives increasing xids and knows writes from reads', () => {
    const table = new PendingTable()
    const xids = Array.from(
      { length: 5 },
      () => table.create({ op: 'sync', path: '/' }, noop, noop).xid,
    )
    expect(xids).toEqual([1, 2, 3, 4, 5])
    expect(isWrite({ op: 'multi', ops: [] })).toBe(true)
    expect(isWrite({ op: 'get', path: '/', watch: false })).toBe(false)
  })
})

describe('clientSettings', () => {
  it('fills defaults from the session timeout and bounds one attempt per server', () => {
    const settings = clientSettings({
      servers: ['ws://a:1', 'wss://b:2', 'ws://c:3', 'ws://d:4'],
      sessionTimeoutMs: 8000,
    })
    expect(settings).toMatchObject({
      sessionTimeoutMs: 8000,
      connectTimeoutMs: 8000,
      requestTimeoutMs: 8000,
      chroot: '',
      handshakeTimeoutMs: 2000,
    })
    expect(clientSettings({ servers: ['ws://a:1'], chroot: '/' }).chroot).toBe('')
  })
})
