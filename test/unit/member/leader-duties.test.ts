/**
 * LeaderDuties driven directly, with a stand-in for the core: what a leader proposes
 * for forwarded requests — session ownership (SESSION_MOVED), malformed payloads from
 * the network, requests of closed sessions — and that reaping and expiry happen only
 * while the duties are active.
 */
import { describe, expect, test } from 'vitest'
import {
  ErrorCode,
  OPEN_ACL_UNSAFE,
  makeZxid,
  txnBytesBound,
  type ForwardedRequest,
  type Txn,
} from '../../../protocol/index.js'
import type { Peer } from '../../../server/core/index.js'
import { LeaderDuties, type ForwardPayload } from '../../../server/member/index.js'
import { TxnBuilder } from '../../../server/requests/index.js'
import { DEFAULT_CONFIG, txnBuilderOptionsFor } from '../../../server/runtime/config.js'
import { SessionTable } from '../../../server/sessions/index.js'
import { DataTree } from '../../../server/tree/index.js'

const te = new TextEncoder()

/**
 * FakePeer stands in for an established leader's core: it hands out consecutive zxids
 * and "commits" each proposal at once, so the test sees exactly what the duties propose.
 */
class FakePeer {
  private counter = 0
  constructor(private readonly onPropose: (txn: Txn) => void) {}
  canPropose(): boolean {
    return true
  }
  nextZxid(): bigint {
    return makeZxid(1, this.counter + 1)
  }
  propose(txn: Txn): void {
    this.counter++
    this.onPropose(txn)
  }
}

/** Member is a minimal in-memory runtime around the duties: proposals are applied at once. */
class Member {
  tree = new DataTree()
  sessions = new SessionTable({ tickMs: 100, minTimeoutMs: 200, maxTimeoutMs: 10_000 })
  builder = new TxnBuilder(this.tree, txnBuilderOptionsFor(DEFAULT_CONFIG))
  ticks = 0
  nowMs = 1_000_000
  committed: Txn[] = []
  readonly peer = new FakePeer((txn) => this.apply(txn))
  readonly duties = new LeaderDuties({
    peer: this.peer as unknown as Peer,
    sessions: this.sessions,
    builder: this.builder,
    tree: this.tree,
    nowMs: () => this.nowMs,
    localTick: () => this.ticks,
    trace: () => {},
  })

  private apply(txn: Txn): void {
    this.tree.apply(txn)
    this.sessions.apply(txn)
    this.builder.onApplied(txn.zxid)
    this.duties.onApplied(txn)
    this.committed.push(txn)
  }

  tick(n = 1): void {
    for (let i = 0; i < n; i++) {
      this.ticks++
      this.duties.onTick()
    }
  }

  forward(origin: number, sessionId: bigint, xid: number, payload: unknown): Txn | undefined {
    const before = this.committed.length
    const request: ForwardedRequest = { origin, sessionId, xid, payload }
    this.duties.onRequests([request])
    return this.committed.slice(before).find((t) => t.sessionId === sessionId && t.xid === xid)
  }
}

function established(): Member {
  const m = new Member()
  m.duties.start()
  return m
}

const SESSION = 0x01_0000_0000_0001n
const open = (m: Member, origin = 2) =>
  m.forward(origin, SESSION, 0, {
    kind: 'createSession',
    timeoutMs: 2000,
    password: new Uint8Array(16),
  } satisfies ForwardPayload)
const create = (path: string): ForwardPayload => ({
  kind: 'write',
  identities: [],
  request: { op: 'create', path, data: te.encode('x'), mode: 'persistent' },
})

describe('LeaderDuties', () => {
  test('a write through the member that owns the session is prepared; one through a member it left fails with SESSION_MOVED', () => {
    const m = established()
    expect(open(m)?.op.type).toBe('createSession')
    expect(m.forward(2, SESSION, 1, create('/a'))?.op.type).toBe('create')
    // The client resumes on member 3, which claims the session (no txn).
    const before = m.committed.length
    m.forward(3, SESSION, 0, { kind: 'claimSession' } satisfies ForwardPayload)
    expect(m.committed.length).toBe(before)
    // A write still in flight through member 2 must not act.
    const moved = m.forward(2, SESSION, 2, create('/b'))
    expect(moved?.op).toMatchObject({ type: 'error', code: ErrorCode.SESSION_MOVED })
    expect(m.tree.stat('/b')).toBeNull()
    expect(m.forward(3, SESSION, 3, create('/c'))?.op.type).toBe('create')
  })

  test('a malformed forwarded payload becomes an error txn, never an exception', () => {
    const m = established()
    open(m)
    const bad: unknown[] = [
      null,
      7,
      { kind: 'nope' },
      { kind: 'write', request: { op: 'create', path: 'no-slash' } },
      { kind: 'write', request: { op: 'get', path: '/', watch: false } },
      { kind: 'createSession', timeoutMs: -1, password: new Uint8Array(1) },
    ]
    bad.forEach((payload, i) => {
      const txn = m.forward(2, SESSION, 10 + i, payload)
      expect(txn?.op.type).toBe('error')
    })
    expect(m.forward(2, SESSION, 99, create('/ok'))?.op.type).toBe('create')
  })

  test('requests of a session that is closed get SESSION_EXPIRED, and a reused session id is refused', () => {
    const m = established()
    open(m)
    expect(open(m)?.op).toMatchObject({ type: 'error', code: ErrorCode.BAD_ARGUMENTS })
    expect(m.forward(2, SESSION, 1, { kind: 'closeSession' })?.op.type).toBe('closeSession')
    expect(m.forward(2, SESSION, 2, create('/late'))?.op).toMatchObject({
      type: 'error',
      code: ErrorCode.SESSION_EXPIRED,
    })
  })

  test('silent sessions expire by a closeSession txn; empty containers are reaped; nothing happens once the duties stop', () => {
    const m = established()
    open(m)
    m.forward(2, SESSION, 1, {
      kind: 'write',
      request: { op: 'create', path: '/box', data: new Uint8Array(), mode: 'container' },
    })
    m.forward(2, SESSION, 2, create('/box/item'))
    m.forward(2, SESSION, 3, {
      kind: 'write',
      request: { op: 'delete', path: '/box/item', version: -1 },
    })
    m.duties.stop()
    m.duties.reap(m.nowMs)
    m.tick(60)
    expect(m.tree.stat('/box')).not.toBeNull()
    expect(m.sessions.has(SESSION)).toBe(true)
    m.duties.start()
    m.duties.reap(m.nowMs)
    expect(m.tree.stat('/box')).toBeNull()
    m.tick(60)
    expect(m.sessions.has(SESSION)).toBe(false)
    expect(m.committed.some((t) => t.op.type === 'closeSession' && t.xid === 0)).toBe(true)
  })

  test.each(['the client closes', 'the session expires'])(
    'a session owning more ephemerals than its close can carry (an older limit) is trimmed by deletes first when %s; every txn fits the txn limit',
    (how) => {
      const m = established()
      open(m)
      // 700 ephemerals of ~3.9 KB paths, logged before this limit existed: ~2.7 MB of paths for a 2.2 MB txn limit.
      m.forward(2, SESSION, 1, create('/old'))
      for (let i = 0; i < 700; i++) {
        const path = `/old/${String(i).padStart(4, '0')}-${'n'.repeat(3900)}`
        const op = {
          type: 'create' as const,
          path,
          data: new Uint8Array(0),
          acl: [...OPEN_ACL_UNSAFE],
          ephemeralOwner: SESSION,
          container: false,
          ttlMs: 0,
          parentCversion: i + 1,
        }
        m.peer.propose({ zxid: m.peer.nextZxid(), timeMs: m.nowMs, sessionId: SESSION, xid: 0, op })
      }
      const before = m.committed.length
      if (how === 'the client closes') m.forward(2, SESSION, 2, { kind: 'closeSession' })
      else m.tick(100)
      const txns = m.committed.slice(before)
      const limit = txnBuilderOptionsFor(DEFAULT_CONFIG).txnBytesMax
      expect(txns.map((t) => t.op.type)).toEqual(['multi', 'closeSession'])
      for (const t of txns) expect(txnBytesBound(t)).toBeLessThanOrEqual(limit)
      expect(txns[1]!.op).toMatchObject({ type: 'closeSession', sessionId: SESSION })
      expect(txns[1]!.xid).toBe(how === 'the client closes' ? 2 : 0)
      expect(m.tree.ephemeralsOf(SESSION)).toEqual([])
      expect(m.tree.children('/old')).toEqual([])
    },
  )
})
