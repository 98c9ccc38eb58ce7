/**
 * Chunked SNAP transfer: how a whole tree crosses a peer link without stalling either
 * member's event loop (a 100,000-znode tree built, encoded and checked in one go blocks
 * for seconds, longer than the leader timeout).
 *
 * The core sees one SNAP message with an opaque snapshot. On the leader, the runtime
 * intercepts it: the snapshot's data is a live view of the tree (`LiveSnapshot`), which
 * the sender walks a chunk at a time, sending `snapChunk` messages and yielding to the
 * event loop (and waiting for the link to drain) between chunks; then it sends the SNAP
 * itself, whose data now only names the transfer, its record counts and
 * `fuzzyThroughZxid`. Messages the core sends that peer meanwhile are held back and sent
 * after the SNAP, so the link still carries the core's messages in order — except
 * heartbeats, which go at once so the follower does not time out its leader.
 *
 * Like the storage snapshots, the walk is fuzzy: txns keep being applied while it
 * runs, so a record may already reflect txns after the snapshot's zxid, up to the
 * applied zxid when the walk ended (`fuzzyThroughZxid`). The follower applies commits
 * up to that zxid in replay mode; txns are state-setting, so the result is exact.
 *
 * The same pacing applies to a streamed DIFF/TRUNC/SNAP's SYNCPART messages: once the link's
 * backlog passes LINK_BACKLOG_BYTES_MAX, the next parts (and what follows them) wait
 * for it to drain instead of overflowing the link's send queue.
 *
 * On the follower, `SnapAssembler` checks each chunk as it arrives and loads it into a
 * tree under construction, and, when the SNAP arrives, hands the core a SNAP whose data
 * holds the whole checked snapshot and the built tree, or drops
 * a SNAP that does not match what was received (the leader then times the follower out
 * and syncs it again).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { Logger } from 'pino'
import { isRecord } from '../../protocol/schema.js'
import type { PeerMessage, ServerId, SnapMessage, Zxid } from '../../protocol/index.js'
import { batchesWithin, sessionRecordBytesBound, znodeBytesBound } from '../../protocol/index.js'
import type { SessionRecord, SnapshotNode } from '../storage/snapshot-content.js'
import { checkSessionRecord, checkTreeRecord } from '../storage/snapshot-content.js'
import { PeerLinksError } from '../net/peer-errors.js'
import { DataTreeLoader, type DataTree } from '../tree/index.js'

/** RECORDS_PER_CHUNK bounds the records of one snapChunk message (so the follower's work per chunk too). */
export const RECORDS_PER_CHUNK = 2000

/** SNAPSHOT_NODE_OTHER_FIELDS counts a snapshot record's fields besides path, data and acl (znode.ts's SnapshotNode). */
const SNAPSHOT_NODE_OTHER_FIELDS = 11

/** LINK_BACKLOG_BYTES_MAX: the sender waits while more than this is queued on the link. */
const LINK_BACKLOG_BYTES_MAX = 8 * 1024 * 1024

/** LiveSnapshot is the leader's snapshotSource data: a view walked lazily by the sender. */
export class LiveSnapshot {
  constructor(
    readonly tree: DataTree,
    readonly sessions: SessionRecord[],
  ) {}
}

/** SnapChunkMessage carries part of a SNAP's snapshot; never seen by the core. */
export interface SnapChunkMessage {
  type: 'snapChunk'
  transfer: number
  index: number
  nodes: unknown[]
  sessions: unknown[]
}

/** ChunkedSnapData is a SNAP's snapshot data on the wire: which transfer holds its records. */
interface ChunkedSnapData {
  transfer: number
  chunks: number
  nodes: number
  sessions: number
  fuzzyThroughZxid: Zxid
}

/** AssembledSnapData is a SNAP's snapshot data as the follower's runtime hands it to the core and installs it. */
export interface AssembledSnapData {
  sessions: SessionRecord[]
  fuzzyThroughZxid: Zxid
  /** tree is built chunk by chunk as the records arrived, as of the snapshot's zxid; its snapshotEntries() are the records. */
  tree: DataTree
}

/** SnapLink is what the sender needs from the peer links. */
export interface SnapLink {
  send(to: ServerId, message: unknown): boolean
  isUp(to: ServerId): boolean
  pendingBytes(to: ServerId): number
}

/**
 * SnapSender sends every peer message of its member: directly, or, for a SNAP whose
 * data is a LiveSnapshot, as a chunked transfer, holding back later messages to the
 * same peer until it is done.
 */
export class SnapSender {
  private readonly held = new Map<ServerId, unknown[]>()
  private nextTransfer = 1
  private closed = false

  /**
   * The constructor takes the links, the logger, and the byte budget of one chunk's
   * records (measured by their upper bounds): a chunk closes at it or at RECORDS_PER_CHUNK.
   */
  constructor(
    private readonly link: SnapLink,
    private readonly logger: Logger,
    private readonly chunkBytesMax: number,
  ) {}

  /** transfersRunning is how many chunked SNAPs (or paced streamed syncs) are being sent. */
  get transfersRunning(): number {
    return this.held.size
  }

  /** send sends one of the core's messages to `to`, in order with the ones before it. */
  send(to: ServerId, message: PeerMessage): void {
    const queue = this.held.get(to)
    // Heartbeats may overtake a running transfer: they change nothing on a follower that
    // is still syncing except that it keeps hearing its leader — held back, they would let
    // it time out in the middle of a long SNAP.
    if (queue !== undefined && message.type !== 'ping') {
      queue.push(message)
      return
    }
    if (message.type === 'snap' && message.snapshot.data instanceof LiveSnapshot) {
      this.held.set(to, [])
      void this.transfer(to, message, message.snapshot.data)
      return
    }
    if (message.type === 'syncPart' && this.link.pendingBytes(to) > LINK_BACKLOG_BYTES_MAX) {
      // A streamed DIFF may hold up to diffLimitTxns txns: queued at once, it would pass
      // the link's send-queue bound and get the link closed. Pace it like SNAP chunks.
      this.held.set(to, [message])
      void this.drain(to)
      return
    }
    this.sendNow(to, message)
  }

  /** drain waits for the link to `to` to work off its backlog, then sends what was held, in order. */
  private async drain(to: ServerId): Promise<void> {
    while (
      !this.closed &&
      this.link.isUp(to) &&
      this.link.pendingBytes(to) > LINK_BACKLOG_BYTES_MAX
    )
      await delay(2)
    const held = this.held.get(to) ?? []
    this.held.delete(to)
    if (this.closed || !this.link.isUp(to)) {
      // The link went down: what was held would have been dropped with it; the core recovers.
      this.logger.info(
        { peer: to, held: held.length },
        'streamed sync abandoned: the link went down',
      )
      return
    }
    // Sent again through send(): the next part waits again if the backlog has grown past the bound.
    for (const message of held) this.send(to, message as PeerMessage)
  }

  /**
   * sendNow hands one message to the link. Every message is built within the peer
   * message budget, so one too large for a frame is a bug: it is logged and dropped
   * (the follower notices the gap and resyncs) rather than taking the member down.
   */
  private sendNow(to: ServerId, message: unknown): boolean {
    try {
      return this.link.send(to, message)
    } catch (err) {
      if (!(err instanceof PeerLinksError) || err.code !== 'MESSAGE_TOO_LARGE') throw err
      this.logger.error(
        { peer: to, type: (message as { type?: unknown }).type, err },
        'BUG: a peer message outgrew the frame limit; dropped',
      )
      return false
    }
  }

  /** close abandons running transfers. */
  close(): void {
    this.closed = true
    this.held.clear()
  }

  private async transfer(to: ServerId, snap: SnapMessage, live: LiveSnapshot): Promise<void> {
    const transfer = this.nextTransfer++
    const started = Date.now()
    let chunks = 0
    let nodes = 0
    const ok = await (async () => {
      const sendChunk = async (
        nodeRecords: unknown[],
        sessionRecords: unknown[],
      ): Promise<boolean> => {
        while (
          !this.closed &&
          this.link.isUp(to) &&
          this.link.pendingBytes(to) > LINK_BACKLOG_BYTES_MAX
        )
          await delay(2)
        if (this.closed || !this.link.isUp(to)) return false
        const chunk: SnapChunkMessage = {
          type: 'snapChunk',
          transfer,
          index: chunks++,
          nodes: nodeRecords,
          sessions: sessionRecords,
        }
        if (!this.sendNow(to, chunk)) return false
        await yieldToEventLoop()
        return true
      }
      const limits = { bytesMax: this.chunkBytesMax, countMax: RECORDS_PER_CHUNK }
      for (const batch of batchesWithin(live.sessions, sessionRecordBytesBound, limits)) {
        if (!(await sendChunk([], batch))) return false
      }
      // Lazy: the tree is walked a chunk at a time, between yields to the event loop.
      for (const batch of batchesWithin(
        live.tree.snapshotEntries(),
        snapshotNodeBytesBound,
        limits,
      )) {
        nodes += batch.length
        if (!(await sendChunk(batch, []))) return false
      }
      return true
    })()
    const held = this.held.get(to) ?? []
    this.held.delete(to)
    if (!ok) {
      // The link went down: what was held would have been dropped with it; the core recovers.
      this.logger.info(
        { peer: to, transfer, chunks },
        'SNAP transfer abandoned: the link went down',
      )
      return
    }
    const data: ChunkedSnapData = {
      transfer,
      chunks,
      nodes,
      sessions: live.sessions.length,
      fuzzyThroughZxid: live.tree.appliedZxid,
    }
    this.sendNow(to, { ...snap, snapshot: { zxid: snap.snapshot.zxid, data } })
    this.logger.info(
      {
        peer: to,
        transfer,
        chunks,
        znodes: nodes,
        sessions: live.sessions.length,
        ms: Date.now() - started,
      },
      'SNAP sent',
    )
    for (const message of held) this.send(to, message as PeerMessage)
  }
}

/** Assembly is one transfer being received. */
interface Assembly {
  transfer: number
  nextIndex: number
  /** nodes counts the znode records loaded so far. */
  nodes: number
  sessions: SessionRecord[]
  /** loader builds the tree as chunks arrive, so no single step builds a whole tree. */
  loader: DataTreeLoader
  problem: string | undefined
}

/** SnapAssembler receives chunked SNAPs on a follower, checking records as they arrive. */
export class SnapAssembler {
  private readonly assemblies = new Map<ServerId, Assembly>()

  /**
   * onChunk takes a snapChunk message (already known to have type 'snapChunk'). A chunk
   * with index 0 starts a new transfer from that peer; anything out of order marks the
   * transfer broken, and its SNAP will be dropped.
   */
  onChunk(from: ServerId, value: Record<string, unknown>): void {
    const { transfer, index, nodes, sessions } = value
    if (
      !Number.isSafeInteger(transfer) ||
      !Number.isSafeInteger(index) ||
      !Array.isArray(nodes) ||
      !Array.isArray(sessions)
    ) {
      const current = this.assemblies.get(from)
      if (current !== undefined) current.problem = 'a malformed chunk'
      return
    }
    let assembly = this.assemblies.get(from)
    if (index === 0) {
      assembly = {
        transfer: transfer as number,
        nextIndex: 0,
        nodes: 0,
        sessions: [],
        loader: new DataTreeLoader(),
        problem: undefined,
      }
      this.assemblies.set(from, assembly)
    }
    if (assembly === undefined) return
    if (assembly.problem !== undefined) return
    if (assembly.transfer !== transfer || assembly.nextIndex !== index) {
      assembly.problem = `chunk ${String(index)} of transfer ${String(transfer)} out of order`
      return
    }
    assembly.nextIndex++
    const checkedNodes: SnapshotNode[] = []
    for (const record of nodes) {
      const checked = checkTreeRecord(record)
      if (typeof checked === 'string') return void (assembly.problem = `znode record: ${checked}`)
      checkedNodes.push(checked)
    }
    try {
      assembly.loader.add(checkedNodes)
    } catch (err) {
      return void (assembly.problem = `znode records: ${err instanceof Error ? err.message : String(err)}`)
    }
    assembly.nodes += checkedNodes.length
    for (const record of sessions) {
      const checked = checkSessionRecord(record)
      if (typeof checked === 'string') return void (assembly.problem = `session record: ${checked}`)
      assembly.sessions.push(checked)
    }
  }

  /**
   * complete turns a SNAP from `from` into one the core can install, with the assembled
   * records as its data, or returns a string saying why it must be dropped.
   */
  complete(from: ServerId, snap: SnapMessage): SnapMessage | string {
    const assembly = this.assemblies.get(from)
    this.assemblies.delete(from)
    const data = snap.snapshot.data
    if (!isRecord(data)) return 'its snapshot data is not a map'
    const { transfer, chunks, nodes, sessions, fuzzyThroughZxid } = data
    if (typeof fuzzyThroughZxid !== 'bigint') return 'its snapshot data has no fuzzyThroughZxid'
    if (assembly === undefined || assembly.transfer !== transfer)
      return `transfer ${String(transfer)} was not received`
    if (assembly.problem !== undefined) return assembly.problem
    if (
      assembly.nextIndex !== chunks ||
      assembly.nodes !== nodes ||
      assembly.sessions.length !== sessions
    ) {
      return `received ${assembly.nextIndex} chunks, ${assembly.nodes} znodes, ${assembly.sessions.length} sessions; the SNAP says ${String(chunks)}, ${String(nodes)}, ${String(sessions)}`
    }
    let tree: DataTree
    try {
      tree = assembly.loader.finish(snap.snapshot.zxid)
    } catch (err) {
      return `znode records: ${err instanceof Error ? err.message : String(err)}`
    }
    const assembled: AssembledSnapData = { sessions: assembly.sessions, fuzzyThroughZxid, tree }
    return { ...snap, snapshot: { zxid: snap.snapshot.zxid, data: assembled } }
  }

  /** forget drops a partly received transfer (the link to that peer went down). */
  forget(from: ServerId): void {
    this.assemblies.delete(from)
  }
}

/** snapshotNodeBytesBound is an upper bound on a snapshot record's encoding. */
export function snapshotNodeBytesBound(node: SnapshotNode): number {
  return znodeBytesBound(node, SNAPSHOT_NODE_OTHER_FIELDS)
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
