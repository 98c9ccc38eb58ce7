/**
 * Each ensemble invariant the simulator checks really fails when its property is
 * broken. The method: feed EnsembleInvariants hand-made server states — real
 * DataTrees and SessionTables that apply real txns, and, for the checks that read
 * the core, stand-in peers whose status passes the core's own checks — in which
 * exactly one property is broken, and expect the violation to name it. A clean
 * counterpart of each case passes, so the check is not simply always failing.
 */
import { describe, expect, test } from 'vitest'
import {
  makeZxid,
  type ServerId,
  type SessionId,
  type Txn,
  type TxnOp,
  type Zxid,
} from '../../protocol/index.js'
import type { PeerStatus } from '../../server/core/index.js'
import { SessionTable } from '../../server/sessions/index.js'
import { DataTree } from '../../server/tree/index.js'
import { EnsembleInvariants, type InvariantName } from './invariants.js'
import type { SimServer } from './sim-server.js'

const z = makeZxid
const bytes = (s: string) => new TextEncoder().encode(s)

interface FakeServer {
  id: ServerId
  tree: DataTree
  sessions: SessionTable
  up: boolean
  disk: { durableEpochs(): { accepted: number; current: number }; durableLogZxids(): Zxid[] }
  peer: { status(): PeerStatus; logTxns(): Txn[] }
}

function server(id: ServerId): FakeServer {
  return {
    id,
    tree: new DataTree(),
    sessions: new SessionTable({ tickMs: 100, minTimeoutMs: 200, maxTimeoutMs: 60_000 }),
    up: false,
    disk: { durableEpochs: () => ({ accepted: 0, current: 0 }), durableLogZxids: () => [] },
    peer: { status: () => ({}) as PeerStatus, logTxns: () => [] },
  }
}

const create = (path: string, data = 'x', owner: SessionId = 0n): TxnOp => ({
  type: 'create',
  path,
  data: bytes(data),
  acl: [],
  ephemeralOwner: owner,
  container: false,
  ttlMs: 0,
  parentCversion: 1,
})

function txn(zxid: Zxid, op: TxnOp, sessionId: SessionId = 0n, xid = 0): Txn {
  return { zxid, timeMs: 0, sessionId, xid, op }
}

/** apply applies a txn to a fake server the way SimServer does and tells the invariants. */
function apply(inv: EnsembleInvariants, s: FakeServer, t: Txn): void {
  const previous = s.tree.appliedZxid
  s.tree.apply(t)
  s.sessions.apply(t)
  inv.applied(s as unknown as SimServer, previous, t)
}

function violationOf(run: () => void): InvariantName | undefined {
  try {
    run()
    return undefined
  } catch (error) {
    return (error as { invariant?: InvariantName }).invariant ?? 'exception'
  }
}

/** leaderStatus is a status of an established leader of `epoch` that passes the core's own checks. */
function leaderStatus(id: ServerId, epoch: number, log: Txn[]): PeerStatus {
  const last = log.at(-1)?.zxid ?? 0n
  return {
    id,
    role: 'leading',
    phase: 'broadcast',
    round: 1,
    leaderId: id,
    epoch,
    established: true,
    acceptedEpoch: epoch,
    currentEpoch: epoch,
    durableAcceptedEpoch: epoch,
    durableCurrentEpoch: epoch,
    lastLoggedZxid: last,
    durableZxid: last,
    lastCommittedZxid: last,
    appliedZxid: last,
    logBaseZxid: 0n,
    logLength: log.length,
    tick: 1,
    vote: undefined,
    followerStep: undefined,
    initialHistoryZxid: last,
    followers: [],
    drops: {},
    lastTransition: 'leading',
  }
}

function asLeader(s: FakeServer, epoch: number, log: Txn[]): FakeServer {
  s.up = true
  s.peer = { status: () => leaderStatus(s.id, epoch, log), logTxns: () => [...log] }
  return s
}

const servers = (...list: FakeServer[]) => list as unknown as SimServer[]

describe('EnsembleInvariants', () => {
  test('committed-prefix: two servers apply different txns at one zxid, or different successors', () => {
    const inv = new EnsembleInvariants(new DataTree().digest())
    const [a, b] = [server(1), server(2)]
    apply(inv, a, txn(z(1, 1), create('/a')))
    expect(violationOf(() => apply(inv, b, txn(z(1, 1), create('/b'))))).toBe('committed-prefix')

    const inv2 = new EnsembleInvariants(new DataTree().digest())
    const [c, d] = [server(1), server(2)]
    for (const s of [c, d]) apply(inv2, s, txn(z(1, 1), create('/a')))
    apply(inv2, c, txn(z(1, 2), create('/b')))
    expect(violationOf(() => apply(inv2, d, txn(z(2, 1), create('/c'))))).toBe('committed-prefix')
  })

  test('digest: equal txns but different trees at the same zxid', () => {
    const inv = new EnsembleInvariants(new DataTree().digest())
    const [a, b] = [server(1), server(2)]
    apply(inv, a, txn(z(1, 1), create('/a', 'one')))
    // Same fingerprint (same path, request and type), different data: only the digest tells.
    expect(violationOf(() => apply(inv, b, txn(z(1, 1), create('/a', 'two'))))).toBe('digest')
    const c = server(3)
    expect(violationOf(() => apply(inv, c, txn(z(1, 1), create('/a', 'one'))))).toBeUndefined()
  })

  test('ephemeral-outlives-session: an ephemeral created after its session closed, or still held after the close', () => {
    const session = 0x100n
    const open: TxnOp = {
      type: 'createSession',
      sessionId: session,
      timeoutMs: 1000,
      password: bytes('pw'),
    }
    const close: TxnOp = { type: 'closeSession', sessionId: session, deletePaths: ['/e1'] }
    const inv = new EnsembleInvariants(new DataTree().digest())
    const a = server(1)
    apply(inv, a, txn(z(1, 1), open))
    apply(inv, a, txn(z(1, 2), create('/e1', 'x', session)))
    const before = DataTree.fromSnapshot(a.tree.snapshotEntries(), z(1, 3)) // still holds /e1
    apply(inv, a, txn(z(1, 3), close))
    expect(violationOf(() => apply(inv, a, txn(z(1, 4), create('/e2', 'x', session))))).toBe(
      'ephemeral-outlives-session',
    )

    // A server whose tree, at or past the close, still holds the session's ephemeral.
    const inv2 = new EnsembleInvariants(new DataTree().digest())
    const b = server(1)
    for (const [i, op] of [open, create('/e1', 'x', session), close].entries())
      apply(inv2, b, txn(z(1, i + 1), op))
    expect(violationOf(() => inv2.checkStep(servers(asLeader(b, 1, []))))).toBeUndefined()
    const c = asLeader(server(2), 2, [])
    c.tree = before
    expect(violationOf(() => inv2.checkStep(servers(c)))).toBe('ephemeral-outlives-session')
  })

  test('a restart or SNAP at a zxid no server applied breaks the committed prefix', () => {
    const inv = new EnsembleInvariants(new DataTree().digest())
    const a = server(1)
    a.tree = DataTree.fromSnapshot(new DataTree().snapshotEntries(), z(3, 7))
    expect(violationOf(() => inv.replaced(a as unknown as SimServer, 'snap'))).toBe(
      'committed-prefix',
    )
    expect(
      violationOf(() => inv.replaced(server(2) as unknown as SimServer, 'restart')),
    ).toBeUndefined()
  })

  test('one-leader-per-epoch: two established leaders of one epoch, even at different steps', () => {
    const inv = new EnsembleInvariants(new DataTree().digest())
    expect(violationOf(() => inv.checkStep(servers(asLeader(server(1), 1, []))))).toBeUndefined()
    expect(violationOf(() => inv.checkStep(servers(asLeader(server(2), 2, []))))).toBeUndefined()
    expect(violationOf(() => inv.checkStep(servers(asLeader(server(3), 1, []))))).toBe(
      'one-leader-per-epoch',
    )
  })

  test('acked-write-lost: a leader of a later epoch without an acknowledged write', () => {
    const inv = new EnsembleInvariants(new DataTree().digest())
    const w = txn(z(1, 1), create('/a'), 5n, 1)
    apply(inv, server(9), w)
    inv.acknowledged(w.zxid)
    // A stale leader of the write's own epoch or older is not judged; one of a later epoch is.
    expect(violationOf(() => inv.checkStep(servers(asLeader(server(1), 1, []))))).toBeUndefined()
    expect(violationOf(() => inv.checkStep(servers(asLeader(server(2), 2, [w]))))).toBeUndefined()
    expect(violationOf(() => inv.checkStep(servers(asLeader(server(3), 3, []))))).toBe(
      'acked-write-lost',
    )
    const other = txn(z(1, 2), create('/other'), 6n, 1) // holds a later txn but not the acknowledged one
    expect(violationOf(() => inv.checkStep(servers(asLeader(server(4), 4, [other]))))).toBe(
      'acked-write-lost',
    )
  })

  test('epochs and log-order on disk', () => {
    const inv = new EnsembleInvariants(new DataTree().digest())
    const a = server(1)
    a.disk = { durableEpochs: () => ({ accepted: 1, current: 2 }), durableLogZxids: () => [] }
    expect(violationOf(() => inv.checkStep(servers(a)))).toBe('epochs')
    const b = server(2)
    b.disk = {
      durableEpochs: () => ({ accepted: 1, current: 1 }),
      durableLogZxids: () => [z(1, 2), z(1, 1)],
    }
    expect(violationOf(() => inv.checkStep(servers(b)))).toBe('log-order')
  })

  test('checkConverged: a server that never applied an acknowledged write', () => {
    const inv = new EnsembleInvariants(new DataTree().digest())
    const [a, b] = [server(1), server(2)]
    apply(inv, a, txn(z(1, 1), create('/a')))
    inv.acknowledged(z(1, 1))
    expect(violationOf(() => inv.checkConverged(servers(a)))).toBeUndefined()
    expect(violationOf(() => inv.checkConverged(servers(a, b)))).toBe('acked-write-lost')
  })
})
