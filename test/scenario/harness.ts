/**
 * A tiny hand-driven ensemble for scenario tests: real core Peers carried out by the
 * shipped ReadyExecutor (server/runtime/ready-executor.ts), a message queue the test
 * delivers, drops, cuts or holds, and a model disk per server whose persistence the
 * test can complete or lose in a crash. Every message crosses the
 * real wire format (msgpack, then decodePeerMessage), and every peer's invariants
 * are checked after each step. Nothing here is random unless the test asks for it:
 * the election jitter comes from a seeded generator.
 */
import {
  decodeMessage,
  decodePeerMessage,
  encodeMessage,
  ProtocolError,
} from '../../protocol/index.js'
import type {
  ForwardedRequest,
  PeerMessage,
  ServerId,
  SessionId,
  Txn,
  TxnOp,
  Zxid,
} from '../../protocol/index.js'
import { Peer, checkEnsembleInvariants, checkInvariants } from '../../server/core/index.js'
import type {
  PeerConfig,
  PersistentState,
  PersistWork,
  ReadResult,
  Ready,
} from '../../server/core/index.js'
import { ReadyExecutor } from '../../server/runtime/ready-executor.js'
import { mulberry32 } from '../helpers/mulberry32.js'

export { mulberry32 }

/** Disk is what survives a crash: epochs, the latest snapshot (the applied txns), and the log after it. */
export interface Disk {
  acceptedEpoch: number
  currentEpoch: number
  snapshot: { zxid: Zxid; applied: Txn[] } | undefined
  log: Txn[]
}

/** Node is one server: its peer (undefined while down), its disk, and its "tree" (the txns applied, in order). */
export interface Node {
  readonly id: ServerId
  peer: Peer | undefined
  disk: Disk
  applied: Txn[]
  appliedZxid: Zxid
  /** executor carries out the peer's Readys (replaced at each boot). */
  executor: ReadyExecutor | undefined
  /** inFlight is the Ready waiting for its persistence, if any. */
  readonly inFlight: Ready | undefined
  /** pendingPersist is the persistence the executor waits for, and how to say it is durable. */
  pendingPersist: { work: PersistWork; done: () => void } | undefined
  /** holdPersist: take Readys and send `send`, but do not persist until completePersist (or a crash loses it). */
  holdPersist: boolean
  readsReady: ReadResult[]
  readsFailed: unknown[]
  requests: ForwardedRequest[]
  sessionsTouched: SessionId[]
  establishedCount: number
  leaderLostCount: number
  /** syncModes records the sync message kinds this server received since it last booted, in order. */
  syncModes: string[]
  /** transitions records every role change's reason (the core's lastTransition), in order, across reboots. */
  transitions: string[]
}

/** InFlightMessage is a message on the wire. */
export interface InFlightMessage {
  readonly from: ServerId
  readonly to: ServerId
  readonly message: PeerMessage
}

/** ClusterOptions tune the harness; `config` is merged into every peer's config. */
export interface ClusterOptions {
  config?: Partial<Omit<PeerConfig, 'id' | 'members' | 'random' | 'snapshotSource'>>
  seed?: number
}

/** Cluster drives N peers by hand. */
export class Cluster {
  readonly ids: readonly ServerId[]
  readonly nodes = new Map<ServerId, Node>()
  queue: InFlightMessage[] = []
  held: InFlightMessage[] = []
  /** acked maps each write's xid to its zxid once the server holding its client applied it (the client got its answer). */
  readonly acked = new Map<number, Zxid>()
  /** onDeliver, when set, sees every message delivered, with its wire encoding. */
  onDeliver: ((m: InFlightMessage, encoded: Uint8Array) => void) | undefined
  private readonly cuts = new Set<string>()
  private dropRules: ((m: InFlightMessage) => boolean)[] = []
  private holdRules: ((m: InFlightMessage) => boolean)[] = []
  private readonly options: ClusterOptions
  private nextXid = 1

  constructor(ids: readonly ServerId[], options: ClusterOptions = {}) {
    this.ids = ids
    this.options = options
    for (const id of ids) {
      const node: Node = {
        id,
        peer: undefined,
        disk: { acceptedEpoch: 0, currentEpoch: 0, snapshot: undefined, log: [] },
        applied: [],
        appliedZxid: 0n,
        executor: undefined,
        get inFlight() {
          return this.executor?.inFlight
        },
        pendingPersist: undefined,
        holdPersist: false,
        readsReady: [],
        readsFailed: [],
        requests: [],
        sessionsTouched: [],
        establishedCount: 0,
        leaderLostCount: 0,
        syncModes: [],
        transitions: [],
      }
      this.nodes.set(id, node)
      this.boot(node)
    }
  }

  node(id: ServerId): Node {
    const node = this.nodes.get(id)
    if (node === undefined) throw new Error(`no node ${id}`)
    return node
  }

  peer(id: ServerId): Peer {
    const peer = this.node(id).peer
    if (peer === undefined) throw new Error(`node ${id} is down`)
    return peer
  }

  up(): Node[] {
    return [...this.nodes.values()].filter((n) => n.peer !== undefined)
  }

  // ------------------------------------------------------------------ network control

  /** cut blocks both directions between a and b; messages already queued between them are dropped on delivery. */
  cut(a: ServerId, b: ServerId): void {
    this.cuts.add(`${a}>${b}`)
    this.cuts.add(`${b}>${a}`)
  }

  /** cutOneWay blocks messages from a to b only. */
  cutOneWay(from: ServerId, to: ServerId): void {
    this.cuts.add(`${from}>${to}`)
  }

  /** isolate cuts `id` from everyone. */
  isolate(id: ServerId): void {
    for (const other of this.ids) if (other !== id) this.cut(id, other)
  }

  /** partition splits the ensemble into groups that cannot talk to each other. */
  partition(...groups: ServerId[][]): void {
    for (const g of groups)
      for (const h of groups)
        if (g !== h) for (const a of g) for (const b of h) this.cutOneWay(a, b)
  }

  healAll(): void {
    this.cuts.clear()
  }

  /** dropWhere drops every message matching the rule until `clearRules`. */
  dropWhere(rule: (m: InFlightMessage) => boolean): void {
    this.dropRules.push(rule)
  }

  /** holdWhere parks matching messages in `held` until `releaseHeld`. */
  holdWhere(rule: (m: InFlightMessage) => boolean): void {
    this.holdRules.push(rule)
  }

  clearRules(): void {
    this.dropRules = []
    this.holdRules = []
  }

  releaseHeld(filter: (m: InFlightMessage) => boolean = () => true): void {
    const release = this.held.filter(filter)
    this.held = this.held.filter((m) => !filter(m))
    this.queue.push(...release)
  }

  /** deliverAll delivers queued messages in order until the queue is empty (new ones included). */
  deliverAll(limit = 100_000): void {
    for (let i = 0; i < limit && this.queue.length > 0; i++) this.deliverNext()
    if (this.queue.length > 0) throw new Error('deliverAll: message storm')
  }

  /** deliverNext delivers (or drops, or holds) the oldest queued message. */
  deliverNext(): void {
    this.deliverAt(0)
  }

  /** deliverAt delivers (or drops, or holds) the queued message at `index`, out of order. */
  deliverAt(index: number): void {
    const m = this.queue.splice(index, 1)[0]
    if (m === undefined) return
    if (this.cuts.has(`${m.from}>${m.to}`) || this.dropRules.some((rule) => rule(m))) return
    if (this.holdRules.some((rule) => rule(m))) {
      this.held.push(m)
      return
    }
    const node = this.node(m.to)
    if (node.peer === undefined) return
    const encoded = encodeMessage(m.message)
    this.onDeliver?.(m, encoded)
    const wire = decodePeerMessage(unwrap(decodeMessage(encoded)))
    if (wire instanceof ProtocolError)
      throw new Error(`message does not survive the wire: ${wire.message}`)
    if (wire.type === 'diff' || wire.type === 'trunc' || wire.type === 'snap')
      node.syncModes.push(wire.type)
    node.peer.receive(m.from, wire)
    this.check(node)
  }

  // ------------------------------------------------------------------ stepping

  /** tick ticks the given servers (all that are up by default) once. */
  tick(ids: readonly ServerId[] = this.up().map((n) => n.id)): void {
    for (const id of ids) {
      const node = this.node(id)
      if (node.peer === undefined) continue
      node.peer.tick()
      this.check(node)
    }
  }

  /** processReady has `id`'s executor carry out its Readys (persistence held if `holdPersist`); false if it had none to take. */
  processReady(id: ServerId): boolean {
    const node = this.node(id)
    const peer = node.peer
    if (peer === undefined || node.inFlight !== undefined || !peer.hasReady()) return false
    node.executor?.pump()
    this.check(node)
    return true
  }

  /** completePersist makes the in-flight Ready's persistence durable; the executor then sends what waited on it, applies and advances. */
  completePersist(id: ServerId): void {
    const node = this.node(id)
    const pending = node.pendingPersist
    if (pending === undefined || node.peer === undefined) return
    node.pendingPersist = undefined
    writeDisk(node.disk, pending.work)
    pending.done()
    this.check(node)
  }

  /** stabilize processes Readys and delivers messages until nothing moves (no ticks). */
  stabilize(limit = 10_000): void {
    for (let i = 0; i < limit; i++) {
      let moved = false
      for (const node of this.up()) if (this.processReady(node.id)) moved = true
      if (this.queue.length > 0) {
        this.deliverAll()
        moved = true
      }
      if (!moved) return
    }
    throw new Error(
      `stabilize: did not settle; ${this.describe()}; queue: ${this.queue
        .slice(0, 12)
        .map(
          (m) =>
            `${m.from}>${m.to}:${m.message.type}${m.message.type === 'vote' ? `(${m.message.state},r${m.message.round},l${m.message.leader})` : ''}`,
        )
        .join(' ')}`,
    )
  }

  /** run ticks every server that is up `ticks` times, stabilizing after each tick. */
  run(ticks: number): void {
    for (let i = 0; i < ticks; i++) {
      this.tick()
      this.stabilize()
    }
  }

  /** runUntil ticks and stabilizes until `done()` holds; throws after `maxTicks`. */
  runUntil(done: () => boolean, maxTicks = 500): number {
    this.stabilize()
    for (let i = 0; i < maxTicks; i++) {
      if (done()) return i
      this.tick()
      this.stabilize()
    }
    if (done()) return maxTicks
    throw new Error(`runUntil: not done after ${maxTicks} ticks; ${this.describe()}`)
  }

  /**
   * runUntilHeld runs the ensemble, completing server `id`'s persistence as usual, until
   * it has a Ready in flight for which `hold()` is true; that one is left unwritten
   * (`holdPersist` stays on). Returns false if that does not happen within `maxTicks`.
   */
  runUntilHeld(id: ServerId, hold: (node: Node) => boolean, maxTicks = 200): boolean {
    const node = this.node(id)
    node.holdPersist = true
    for (let tick = 0; tick < maxTicks; tick++) {
      this.tick()
      for (let round = 0; round < 10_000; round++) {
        let moved = false
        for (const n of this.up()) if (this.processReady(n.id)) moved = true
        if (node.inFlight !== undefined) {
          if (hold(node)) return true
          this.completePersist(id)
          moved = true
        }
        if (this.queue.length > 0) {
          this.deliverAll()
          moved = true
        }
        if (!moved) break
      }
    }
    return false
  }

  // ------------------------------------------------------------------ crashes

  /**
   * crash stops a server; a Ready whose persistence was not completed is lost —
   * all of it, or all but the first `keepOps` of its ordered disk operations
   * (a snapshot install with all its txns, or the truncation and each txn append;
   * then the epoch write), as a real disk may keep.
   */
  crash(id: ServerId, keepOps = 0): void {
    const node = this.node(id)
    if (node.pendingPersist !== undefined && keepOps > 0)
      writeDisk(node.disk, node.pendingPersist.work, keepOps)
    node.executor?.stop()
    node.executor = undefined
    node.pendingPersist = undefined
    node.peer = undefined
  }

  /** crashWithUnsentProposals has `leader` log `count` proposals that reach nobody, then crash (an uncommitted tail). */
  crashWithUnsentProposals(leader: ServerId, count: number): void {
    this.dropWhere((m) => m.from === leader && isType(m, 'proposal'))
    for (let i = 0; i < count; i++) this.write(leader)
    this.stabilize()
    this.crash(leader)
    this.clearRules()
  }

  /** restart boots a server from its disk: the tree from the snapshot only, the log handed to the core. */
  restart(id: ServerId): void {
    const node = this.node(id)
    if (node.peer !== undefined) throw new Error(`node ${id} is up`)
    this.boot(node)
  }

  /** snapshotNow models the runtime's periodic snapshot: the applied tree goes to disk and older log records are purged. */
  snapshotNow(id: ServerId): void {
    const node = this.node(id)
    const zxid = node.appliedZxid
    node.disk.snapshot = { zxid, applied: [...node.applied] }
    node.disk.log = node.disk.log.filter((t) => t.zxid > zxid)
  }

  // ------------------------------------------------------------------ clients

  /** leaderId returns the single established leader among servers that are up, if exactly one. */
  leaderId(): ServerId | undefined {
    const leaders = this.up().filter((n) => n.peer?.role === 'leading' && n.peer.established)
    return leaders.length === 1 ? leaders[0]?.id : undefined
  }

  /** establishedLeader waits for and returns the single established leader. */
  requireLeader(): ServerId {
    const id = this.leaderId()
    if (id === undefined) throw new Error(`no single established leader: ${this.describe()}`)
    return id
  }

  /** write proposes one txn (`op`, a no-op by default) at `leader` as its own client's write; returns the txn's xid. */
  write(
    leader: ServerId = this.requireLeader(),
    op: TxnOp = { type: 'error', code: 0 },
  ): { xid: number; zxid: Zxid } {
    const peer = this.peer(leader)
    const xid = this.nextXid++
    const zxid = peer.nextZxid()
    peer.propose({ zxid, timeMs: 0, sessionId: BigInt(leader), xid, op })
    return { xid, zxid }
  }

  /** allServing tells whether every server that is up serves under one leader, in that leader's epoch. */
  allServing(): boolean {
    const leader = this.leaderId()
    if (leader === undefined) return false
    const epoch = this.peer(leader).status().epoch
    return this.up().every(
      (n) =>
        n.peer?.established === true &&
        n.peer.leaderId === leader &&
        n.peer.status().epoch === epoch,
    )
  }

  /** appliedZxids lists a server's applied txn zxids. */
  appliedZxids(id: ServerId): Zxid[] {
    return this.node(id).applied.map((t) => t.zxid)
  }

  describe(): string {
    return [...this.nodes.values()]
      .map((n) => {
        const s = n.peer?.status()
        if (s === undefined) return `${n.id}:down`
        return `${n.id}:${s.role}/${s.phase} leader=${String(s.leaderId)} epoch=${s.acceptedEpoch}/${s.currentEpoch} logged=${s.lastLoggedZxid} committed=${s.lastCommittedZxid} (${s.lastTransition})`
      })
      .join('; ')
  }

  private boot(node: Node): void {
    const restored: PersistentState = {
      acceptedEpoch: node.disk.acceptedEpoch,
      currentEpoch: node.disk.currentEpoch,
      snapshotZxid: node.disk.snapshot?.zxid ?? 0n,
      log: [...node.disk.log],
    }
    node.applied = [...(node.disk.snapshot?.applied ?? [])]
    node.syncModes = []
    node.appliedZxid = node.disk.snapshot?.zxid ?? 0n
    node.peer = new Peer(
      {
        ...this.options.config,
        id: node.id,
        members: this.ids,
        random: mulberry32((this.options.seed ?? 1) * 1000 + node.id),
        snapshotSource: () => ({
          zxid: node.appliedZxid,
          data: node.applied.map((t) => ({ ...t })),
        }),
      },
      restored,
    )
    node.executor = this.executorFor(node, node.peer)
    this.check(node)
  }

  /** executorFor wires the shipped ReadyExecutor to the model: the queue, the model disk, the applied list. */
  private executorFor(node: Node, peer: Peer): ReadyExecutor {
    return new ReadyExecutor(
      peer,
      {
        send: (e) => this.queue.push({ from: node.id, to: e.to, message: e.message }),
        persist: (work, done) => {
          node.pendingPersist = { work, done: () => done() }
          if (!node.holdPersist) this.completePersist(node.id)
        },
        installSnapshot: (snapshot) => {
          node.applied = [...(snapshot.data as Txn[])]
          node.appliedZxid = snapshot.zxid
        },
        apply: (txn) => this.apply(node, txn),
        afterApply: (ready) => this.afterApply(node, ready),
        nextTurn: (fn) => fn(),
        persistFailed: (error) => {
          throw error
        },
        fatal: (error) => {
          throw error
        },
      },
      { applyChunkTxns: Number.MAX_SAFE_INTEGER },
    )
  }

  private apply(node: Node, txn: Txn): void {
    if (txn.zxid <= node.appliedZxid)
      throw new Error(`node ${node.id} asked to apply ${txn.zxid} after ${node.appliedZxid}`)
    node.applied.push(txn)
    node.appliedZxid = txn.zxid
    if (txn.sessionId === BigInt(node.id) && txn.xid > 0) this.acked.set(txn.xid, txn.zxid)
  }

  private afterApply(node: Node, ready: Ready): void {
    node.readsReady.push(...ready.readsReady)
    node.readsFailed.push(...ready.readsFailed)
    node.requests.push(...ready.requests)
    node.sessionsTouched.push(...ready.sessionsTouched)
    if (ready.becameEstablished) node.establishedCount += 1
    if (ready.leaderLost) node.leaderLostCount += 1
  }

  private check(node: Node): void {
    if (node.peer !== undefined) {
      checkInvariants(node.peer)
      const transition = node.peer.status().lastTransition
      if (transition !== node.transitions.at(-1)) node.transitions.push(transition)
    }
    checkEnsembleInvariants(this.up().map((n) => (n.peer as Peer).status()))
  }
}

function unwrap(
  result: { ok: true; value: unknown } | { ok: false; error: ProtocolError },
): unknown {
  if (!result.ok) throw result.error
  return result.value
}

/**
 * writeDisk carries out a Ready's persistence work on the model disk, in the contract's order
 * (the first `opsMax` operations only). A snapshot and every txn of its Ready are ONE
 * operation, as the storage makes them durable atomically: the log becomes exactly
 * those txns. Otherwise the truncation and each append are one operation each; the
 * epoch write comes last.
 */
export function writeDisk(disk: Disk, work: PersistWork, opsMax = Number.POSITIVE_INFINITY): void {
  const { snapshot, truncateAfter, txns, epochs } = work
  let ops = 0
  if (snapshot !== undefined) {
    if (ops++ >= opsMax) return
    let last = snapshot.zxid
    for (const txn of txns) {
      if (txn.zxid <= last) throw new Error(`disk install: txn ${txn.zxid} after ${last}`)
      last = txn.zxid
    }
    disk.snapshot = { zxid: snapshot.zxid, applied: [...(snapshot.data as Txn[])] }
    disk.log = [...txns]
  } else {
    if (truncateAfter !== undefined) {
      if (ops++ >= opsMax) return
      disk.log = disk.log.filter((t) => t.zxid <= truncateAfter)
    }
    for (const txn of txns) {
      if (ops++ >= opsMax) return
      const last = disk.log[disk.log.length - 1]?.zxid ?? disk.snapshot?.zxid ?? 0n
      if (txn.zxid <= last) throw new Error(`disk append ${txn.zxid} after ${last}`)
      disk.log.push(txn)
    }
  }
  if (epochs !== undefined) {
    if (ops >= opsMax) return
    disk.acceptedEpoch = epochs.accepted
    disk.currentEpoch = epochs.current
  }
}

/** isType narrows an in-flight message by type, for drop and hold rules. */
export function isType(m: InFlightMessage, ...types: PeerMessage['type'][]): boolean {
  return types.includes(m.message.type)
}
