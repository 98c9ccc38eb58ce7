/**
 * EnsembleInvariants: the safety properties the simulator checks across all servers,
 * on every applied txn and after every step (issue 3, reliability-testing.md §3):
 *
 * - `one-leader-per-epoch`: at most one server is ever an established leader of an epoch;
 * - `log-order`: each server's log (in memory and on disk) has strictly increasing zxids;
 * - `committed-prefix`: all servers apply one history — the same txn at each zxid and
 *   the same successor after each zxid — and committed log entries agree with it;
 * - `acked-write-lost`: every write acknowledged to a client is in the committed
 *   history of every leader of a later epoch established afterwards (and, at the
 *   end, applied everywhere);
 * - `digest`: servers that applied the same zxid hold trees with equal digests;
 * - `epochs`: currentEpoch <= acceptedEpoch, in memory and on disk;
 * - `ephemeral-outlives-session`: once a session's closeSession is applied, no
 *   ephemeral it owned remains and none is created for it;
 * - `core-invariant`: the core's own `checkInvariants` and `checkEnsembleInvariants`.
 *
 * The committed history is learned as servers apply it: a map from each applied zxid
 * to a fingerprint of its txn, and from each zxid to the next one applied after it.
 * A server that restarts or installs a snapshot resumes from the snapshot's zxid,
 * which must be one of those zxids with the same digest.
 */
import {
  epochOf,
  formatZxid,
  type ServerId,
  type SessionId,
  type Txn,
  type Zxid,
} from '../../protocol/index.js'
import {
  checkEnsembleInvariants,
  checkInvariants,
  type PeerStatus,
} from '../../server/core/index.js'
import type { ServerObserver, SimServer } from './sim-server.js'

/** InvariantName names each property the simulator checks. */
export type InvariantName =
  | 'one-leader-per-epoch'
  | 'log-order'
  | 'committed-prefix'
  | 'acked-write-lost'
  | 'digest'
  | 'epochs'
  | 'ephemeral-outlives-session'
  | 'core-invariant'
  | 'liveness'
  | 'linearizability'
  | 'session-guarantees'
  | 'client-protocol'
  | 'exception'

/** InvariantViolation is thrown when a property fails; `invariant` says which. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation'
  constructor(
    readonly invariant: InvariantName,
    message: string,
  ) {
    super(`${invariant}: ${message}`)
  }
}

const z = formatZxid

/** fingerprint summarizes a txn well enough to tell two different txns at one zxid apart. */
export function fingerprint(txn: Txn): string {
  const op = txn.op
  let detail = ''
  if (op.type === 'create' || op.type === 'delete' || op.type === 'set' || op.type === 'setAcl')
    detail = op.path
  else if (op.type === 'multi') detail = op.ops.map((o) => `${o.type}${o.path}`).join(',')
  else if (op.type === 'closeSession') detail = `${op.sessionId}:${op.deletePaths.join(',')}`
  else if (op.type === 'createSession') detail = String(op.sessionId)
  else if (op.type === 'error') detail = String(op.code)
  return `${txn.sessionId}/${txn.xid}/${op.type}/${detail}`
}

function ephemeralOwnersCreated(txn: Txn): SessionId[] {
  const op = txn.op
  const creates = op.type === 'create' ? [op] : op.type === 'multi' ? op.ops : []
  const owners: SessionId[] = []
  for (const c of creates)
    if (c.type === 'create' && c.ephemeralOwner !== 0n) owners.push(c.ephemeralOwner)
  return owners
}

/** EnsembleInvariants observes every server and checks the properties above. */
export class EnsembleInvariants implements ServerObserver {
  private readonly fingerprints = new Map<Zxid, string>()
  private readonly nextOf = new Map<Zxid, Zxid>()
  private readonly prevOf = new Map<Zxid, Zxid>()
  private readonly digests = new Map<Zxid, bigint>([[0n, 0n]])
  private readonly leaders = new Map<number, ServerId>()
  private readonly checkedLeaders = new Set<string>()
  private readonly acked = new Set<Zxid>()
  private readonly closedSessions = new Map<SessionId, Zxid>()
  /** Committed log entries already compared with the applied history. */
  private readonly verified = new WeakSet<Txn>()
  /** Applied txns by the request that produced them (`sessionId:xid`), for settling unknown outcomes. */
  private readonly byRequest = new Map<string, Txn>()
  /** maxAckedZxid is the newest zxid acknowledged to any client. */
  maxAckedZxid: Zxid = 0n
  /** establishments counts leaders seen established, for the figures. */
  establishments = 0

  /** The constructor records the digest of an empty tree, the state every server starts from. */
  constructor(emptyTreeDigest: bigint) {
    this.digests.set(0n, emptyTreeDigest)
  }

  /** acknowledged records a write answered to a client from its committed txn. */
  acknowledged(zxid: Zxid): void {
    this.acked.add(zxid)
    if (zxid > this.maxAckedZxid) this.maxAckedZxid = zxid
  }

  /** appliedTxnOf returns the txn some server applied for request (sessionId, xid), if any. */
  appliedTxnOf(sessionId: SessionId, xid: number): Txn | undefined {
    return this.byRequest.get(`${sessionId}:${xid}`)
  }

  /** ackedCount is how many distinct txns were acknowledged to clients. */
  get ackedCount(): number {
    return this.acked.size
  }

  applied(server: SimServer, previousZxid: Zxid, txn: Txn): void {
    const zxid = txn.zxid
    const print = fingerprint(txn)
    const known = this.fingerprints.get(zxid)
    if (known !== undefined && known !== print) {
      throw new InvariantViolation(
        'committed-prefix',
        `server ${server.id} applied ${z(zxid)} as ${print}, another server as ${known}`,
      )
    }
    const next = this.nextOf.get(previousZxid)
    if (next !== undefined && next !== zxid) {
      throw new InvariantViolation(
        'committed-prefix',
        `server ${server.id} applied ${z(zxid)} after ${z(previousZxid)}, another server applied ${z(next)} there`,
      )
    }
    const prev = this.prevOf.get(zxid)
    if (prev !== undefined && prev !== previousZxid) {
      throw new InvariantViolation(
        'committed-prefix',
        `server ${server.id} applied ${z(zxid)} after ${z(previousZxid)}, another server after ${z(prev)}`,
      )
    }
    if (!this.fingerprints.has(zxid) && txn.xid > 0)
      this.byRequest.set(`${txn.sessionId}:${txn.xid}`, txn)
    this.fingerprints.set(zxid, print)
    this.nextOf.set(previousZxid, zxid)
    this.prevOf.set(zxid, previousZxid)
    this.checkDigest(server, 'apply')
    for (const owner of ephemeralOwnersCreated(txn)) {
      const closedAt = this.closedSessions.get(owner)
      if (closedAt !== undefined && closedAt < zxid) {
        throw new InvariantViolation(
          'ephemeral-outlives-session',
          `${z(zxid)} creates an ephemeral for session ${owner.toString(16)}, closed at ${z(closedAt)}`,
        )
      }
    }
    if (txn.op.type === 'closeSession') {
      const sessionId = txn.op.sessionId
      if (!this.closedSessions.has(sessionId)) this.closedSessions.set(sessionId, zxid)
      const left = server.tree.ephemeralsOf(sessionId)
      if (left.length > 0)
        throw new InvariantViolation(
          'ephemeral-outlives-session',
          `server ${server.id}: ${left.join(', ')} survive the close of session ${sessionId.toString(16)} at ${z(zxid)}`,
        )
      if (server.sessions.has(sessionId))
        throw new InvariantViolation(
          'ephemeral-outlives-session',
          `server ${server.id}: session ${sessionId.toString(16)} still live after its close`,
        )
    }
  }

  replaced(server: SimServer, how: 'snap' | 'restart'): void {
    const zxid = server.tree.appliedZxid
    if (zxid !== 0n && !this.fingerprints.has(zxid)) {
      throw new InvariantViolation(
        'committed-prefix',
        `server ${server.id} ${how} state at ${z(zxid)}, which no server applied`,
      )
    }
    this.checkDigest(server, how)
    this.checkEphemerals(server)
  }

  private checkDigest(server: SimServer, when: string): void {
    const zxid = server.tree.appliedZxid
    const digest = server.tree.digest()
    const known = this.digests.get(zxid)
    if (known === undefined) this.digests.set(zxid, digest)
    else if (known !== digest) {
      throw new InvariantViolation(
        'digest',
        `server ${server.id} (${when}) has digest ${digest.toString(16)} at ${z(zxid)}, another server ${known.toString(16)}`,
      )
    }
  }

  private checkEphemerals(server: SimServer): void {
    const applied = server.tree.appliedZxid
    for (const owner of server.tree.ephemeralOwners()) {
      const closedAt = this.closedSessions.get(owner)
      if (closedAt !== undefined && closedAt <= applied) {
        throw new InvariantViolation(
          'ephemeral-outlives-session',
          `server ${server.id} at ${z(applied)} holds ephemerals of session ${owner.toString(16)}, closed at ${z(closedAt)}`,
        )
      }
    }
  }

  /** checkStep checks every up server and the ensemble after a step. */
  checkStep(servers: readonly SimServer[]): void {
    const statuses: PeerStatus[] = []
    for (const server of servers) {
      const durable = server.disk.durableEpochs()
      if (durable.current > durable.accepted)
        throw new InvariantViolation(
          'epochs',
          `server ${server.id} disk holds currentEpoch ${durable.current} > acceptedEpoch ${durable.accepted}`,
        )
      checkIncreasing(server.id, 'disk log', server.disk.durableLogZxids())
      if (!server.up) continue
      const peer = server.peer
      wrapCore(() => checkInvariants(peer))
      const status = peer.status()
      statuses.push(status)
      if (status.currentEpoch > status.acceptedEpoch)
        throw new InvariantViolation(
          'epochs',
          `server ${server.id}: currentEpoch ${status.currentEpoch} > acceptedEpoch ${status.acceptedEpoch}`,
        )
      const log = peer.logTxns()
      checkIncreasing(
        server.id,
        'log',
        log.map((t) => t.zxid),
      )
      this.checkCommittedLog(server.id, status, log)
      if (status.role === 'leading' && status.established && status.epoch !== undefined)
        this.checkLeader(server.id, status, log)
      this.checkEphemerals(server)
    }
    wrapCore(() => checkEnsembleInvariants(statuses))
  }

  private checkCommittedLog(id: ServerId, status: PeerStatus, log: readonly Txn[]): void {
    for (const txn of log) {
      if (txn.zxid > status.lastCommittedZxid) break
      // Txn objects are shared by every server that received the same message, so
      // each is compared once; a different txn at a known zxid is a new object.
      if (this.verified.has(txn)) continue
      const known = this.fingerprints.get(txn.zxid)
      if (known === undefined) continue
      if (known !== fingerprint(txn)) {
        throw new InvariantViolation(
          'committed-prefix',
          `server ${id} committed ${z(txn.zxid)} as ${fingerprint(txn)}, applied elsewhere as ${known}`,
        )
      }
      this.verified.add(txn)
    }
  }

  /**
   * noteLeader records that server `id` is an established leader of `epoch`; the
   * simulation calls it the moment a server becomes one, so a leadership that starts
   * and ends within one step is still seen.
   */
  noteLeader(id: ServerId, epoch: number): void {
    const other = this.leaders.get(epoch)
    if (other !== undefined && other !== id)
      throw new InvariantViolation(
        'one-leader-per-epoch',
        `servers ${other} and ${id} were both established leaders of epoch ${epoch}`,
      )
    this.leaders.set(epoch, id)
  }

  /** checkLeader: one established leader per epoch, and a new leader's history holds every acknowledged write. */
  private checkLeader(id: ServerId, status: PeerStatus, log: readonly Txn[]): void {
    const epoch = status.epoch as number
    this.noteLeader(id, epoch)
    const key = `${id}/${epoch}`
    if (this.checkedLeaders.has(key)) return
    this.checkedLeaders.add(key)
    this.establishments += 1
    const inLog = new Map(log.map((t) => [t.zxid, t]))
    for (const acked of this.acked) {
      // "Later" is by epoch: a leader of an older epoch can still complete its
      // establishment after a newer epoch committed (it was paused mid-synchronization);
      // such a stale leader is harmless because nobody of the newer epoch follows it.
      if (epochOf(acked) >= epoch) continue
      if (acked > status.lastCommittedZxid) {
        throw new InvariantViolation(
          'acked-write-lost',
          `leader ${id} of epoch ${epoch} committed only up to ${z(status.lastCommittedZxid)}, but ${z(acked)} was acknowledged`,
        )
      }
      if (acked <= status.logBaseZxid) continue // in its snapshot, which the digest checks vouch for
      const txn = inLog.get(acked)
      if (txn === undefined || fingerprint(txn) !== this.fingerprints.get(acked)) {
        throw new InvariantViolation(
          'acked-write-lost',
          `leader ${id} of epoch ${epoch} lacks acknowledged ${z(acked)} (${txn === undefined ? 'absent' : fingerprint(txn)})`,
        )
      }
    }
  }

  /** checkConverged (end of run) checks every server applied every acknowledged write. */
  checkConverged(servers: readonly SimServer[]): void {
    for (const server of servers) {
      if (server.tree.appliedZxid < this.maxAckedZxid) {
        throw new InvariantViolation(
          'acked-write-lost',
          `server ${server.id} applied only up to ${z(server.tree.appliedZxid)}, but ${z(this.maxAckedZxid)} was acknowledged`,
        )
      }
    }
  }
}

function checkIncreasing(id: ServerId, what: string, zxids: readonly Zxid[]): void {
  for (let i = 1; i < zxids.length; i++) {
    if ((zxids[i] as Zxid) <= (zxids[i - 1] as Zxid))
      throw new InvariantViolation(
        'log-order',
        `server ${id} ${what}: ${z(zxids[i] as Zxid)} after ${z(zxids[i - 1] as Zxid)}`,
      )
  }
}

function wrapCore(check: () => void): void {
  try {
    check()
  } catch (error) {
    if (error instanceof Error && error.name === 'AssertionError')
      throw new InvariantViolation('core-invariant', error.message)
    throw error
  }
}
