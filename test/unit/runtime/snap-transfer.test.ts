/**
 * Chunked SNAP transfer between a SnapSender and a SnapAssembler over a fake link: the
 * follower's core gets exactly the leader's tree, messages sent meanwhile arrive after
 * the SNAP and in order, and a transfer that was cut or tampered with is refused.
 */
import pino from 'pino'
import { describe, expect, test } from 'vitest'
import { makeZxid, type PeerMessage, type SnapMessage, type Txn } from '../../../protocol/index.js'
import { ARRAY_HEADER_BYTES_MAX, encodePeerMessage } from '../../../server/net/peer-frames.js'
import {
  peerFrameBytesMaxFor,
  peerMessageBudgetBytesFor,
  resolveConfig,
} from '../../../server/runtime/config.js'
import {
  LiveSnapshot,
  RECORDS_PER_CHUNK,
  SnapAssembler,
  SnapSender,
  snapshotNodeBytesBound,
  type AssembledSnapData,
  type SnapChunkMessage,
} from '../../../server/runtime/snap-transfer.js'
import { DataTree, type SnapshotNode } from '../../../server/tree/index.js'
import { waitFor } from '../../helpers/wait.js'

const logger = pino({ level: 'silent' })
const serverDefaults = resolveConfig({ dataDir: '/d' })
/** BUDGET_BYTES is the default peer message budget (4.25 MiB); FRAME_BYTES_MAX the default peer frame limit. */
const BUDGET_BYTES = peerMessageBudgetBytesFor(serverDefaults)
const FRAME_BYTES_MAX = peerFrameBytesMaxFor(serverDefaults)

/** FakeLink records what was sent, and can be taken down. */
class FakeLink {
  sent: unknown[] = []
  up = true
  send(_to: number, message: unknown): boolean {
    if (!this.up) return false
    // Messages cross a real link encoded: copy so later tree changes cannot leak in.
    this.sent.push(structuredClone(message))
    return true
  }
  isUp(): boolean {
    return this.up
  }
  /** pending is the backlog the link reports. */
  pending = 0
  pendingBytes(): number {
    return this.pending
  }
}

let counter = 0
const next = (): Txn['zxid'] => makeZxid(1, ++counter)
const create = (path: string, parentCversion: number): Txn => ({
  zxid: next(),
  timeMs: 0,
  sessionId: 0n,
  xid: 0,
  op: {
    type: 'create',
    path,
    data: new TextEncoder().encode(path),
    acl: [{ perms: 31, scheme: 'world', id: 'anyone' }],
    ephemeralOwner: 0n,
    container: false,
    ttlMs: 0,
    parentCversion,
  },
})

function treeWith(count: number): DataTree {
  const tree = new DataTree()
  tree.apply(create('/d', 1))
  for (let i = 0; i < count; i++) tree.apply(create(`/d/n${i}`, i + 1))
  return tree
}

function snapOf(tree: DataTree): SnapMessage {
  return {
    type: 'snap',
    epoch: 2,
    snapshot: { zxid: tree.appliedZxid, data: new LiveSnapshot(tree, []) },
    txns: [],
    committedZxid: tree.appliedZxid,
  }
}

const ping = (seq: number): PeerMessage => ({
  type: 'ping',
  epoch: 2,
  seq,
  committedZxid: 0n,
  lastZxid: 0n,
  established: true,
})

/** deliver feeds what the link carried to an assembler, as the follower's runtime does. */
function deliver(
  sent: unknown[],
  assembler: SnapAssembler,
): { snap: SnapMessage | string | undefined; others: unknown[] } {
  let snap: SnapMessage | string | undefined
  const others: unknown[] = []
  for (const message of sent) {
    const m = message as { type: string }
    if (m.type === 'snapChunk') assembler.onChunk(3, message as Record<string, unknown>)
    else if (m.type === 'snap') snap = assembler.complete(3, message as SnapMessage)
    else others.push(message)
  }
  return { snap, others }
}

describe('chunked SNAP', () => {
  test('the follower receives the whole tree in chunks; messages sent meanwhile follow the SNAP in order, heartbeats go at once', async () => {
    const tree = treeWith(RECORDS_PER_CHUNK * 2 + 17)
    const link = new FakeLink()
    const sender = new SnapSender(link, logger, BUDGET_BYTES)
    const newLeader: PeerMessage = { type: 'newLeader', epoch: 2 }
    const commit: PeerMessage = { type: 'commit', epoch: 2, zxid: makeZxid(2, 1) }
    sender.send(1, snapOf(tree))
    sender.send(1, newLeader)
    sender.send(1, ping(1))
    sender.send(1, commit)
    await waitFor(() => sender.transfersRunning === 0, { timeoutMs: 5000, what: 'transfer done' })
    const types = link.sent.map((m) => (m as { type: string }).type)
    expect(types.filter((t) => t === 'snapChunk').length).toBe(3)
    // The heartbeat went at once; everything else follows the SNAP in order.
    expect(types.indexOf('ping')).toBeLessThan(types.indexOf('snap'))
    expect(types.slice(-3)).toEqual(['snap', 'newLeader', 'commit'])
    const { snap } = deliver(link.sent, new SnapAssembler())
    if (snap === undefined || typeof snap === 'string')
      throw new Error(`SNAP refused: ${String(snap)}`)
    const data = snap.snapshot.data as AssembledSnapData
    // The tree the follower built chunk by chunk is the leader's, record for record.
    expect(data.tree.nodeCount).toBe(tree.nodeCount)
    expect(data.tree.digest()).toBe(tree.digest())
    const byPath = (t: DataTree) =>
      [...t.snapshotEntries()].sort((x, y) => (x.path < y.path ? -1 : 1))
    expect(byPath(data.tree)).toEqual(byPath(tree))
    expect(data.tree.appliedZxid).toBe(tree.appliedZxid)
  })

  test('a tree changed during the walk (fuzzy) ends equal after the follower replays txns up to fuzzyThroughZxid', async () => {
    const tree = treeWith(RECORDS_PER_CHUNK * 3)
    const snap = snapOf(tree)
    const link = new FakeLink()
    const later: Txn[] = []
    const original = link.send.bind(link)
    link.send = (to, message) => {
      const sent = original(to, message)
      // After each chunk, the leader applies more txns: deletes, sets, creates.
      if ((message as { type: string }).type === 'snapChunk') {
        const i = (message as { index: number }).index
        const txns: Txn[] = [
          {
            zxid: next(),
            timeMs: 0,
            sessionId: 0n,
            xid: 0,
            op: { type: 'delete', path: `/d/n${i * 7}` },
          },
          {
            zxid: next(),
            timeMs: 0,
            sessionId: 0n,
            xid: 0,
            op: {
              type: 'set',
              path: `/d/n${RECORDS_PER_CHUNK * 3 - 1 - i}`,
              data: new Uint8Array([i]),
              version: 1,
            },
          },
          create(`/d/late${i}`, 0),
        ]
        for (const txn of txns) {
          if (txn.op.type === 'create') txn.op.parentCversion = tree.stat('/d')!.cversion + 1
          tree.apply(txn)
          later.push(txn)
        }
      }
      return sent
    }
    const sender = new SnapSender(link, logger, BUDGET_BYTES)
    sender.send(1, snap)
    await waitFor(() => sender.transfersRunning === 0, { timeoutMs: 5000, what: 'transfer done' })
    const { snap: received } = deliver(link.sent, new SnapAssembler())
    if (received === undefined || typeof received === 'string')
      throw new Error(`SNAP refused: ${String(received)}`)
    const data = received.snapshot.data as AssembledSnapData
    expect(data.fuzzyThroughZxid).toBe(tree.appliedZxid)
    const copy = data.tree
    expect(copy.digest()).not.toBe(tree.digest())
    for (const txn of later) copy.apply(txn, { replay: txn.zxid <= data.fuzzyThroughZxid })
    expect(copy.digest()).toBe(tree.digest())
  })

  test('chunks of records of ~1 MB each close at the byte budget, fit a peer frame encoded, and carry the whole tree in order', async () => {
    const tree = new DataTree()
    tree.apply(create('/d', 1))
    for (let i = 0; i < 24; i++) {
      const txn = create(`/d/big${String(i).padStart(2, '0')}`, 2 * i + 2)
      if (txn.op.type === 'create') txn.op.data = new Uint8Array(1_000_000).fill(i)
      tree.apply(txn)
      tree.apply(create(`/d/small${String(i).padStart(2, '0')}`, 2 * i + 3))
    }
    const link = new FakeLink()
    const sender = new SnapSender(link, logger, BUDGET_BYTES)
    sender.send(1, snapOf(tree))
    await waitFor(() => sender.transfersRunning === 0, { timeoutMs: 10_000, what: 'transfer done' })
    const chunks = link.sent.filter(
      (m) => (m as { type: string }).type === 'snapChunk',
    ) as SnapChunkMessage[]
    // 4 records of ~1 MB fit in 4.25 MiB: at least six chunks, not one of 24 MB.
    expect(chunks.length).toBeGreaterThanOrEqual(6)
    for (const chunk of chunks) {
      const records = chunk.nodes as SnapshotNode[]
      for (const record of records)
        expect(snapshotNodeBytesBound(record)).toBeGreaterThanOrEqual(
          encodePeerMessage(record).length,
        )
      expect(records.reduce((n, r) => n + snapshotNodeBytesBound(r), 0)).toBeLessThanOrEqual(
        BUDGET_BYTES,
      )
      const encoded = encodePeerMessage(chunk).length
      expect(encoded).toBeLessThanOrEqual(BUDGET_BYTES + 256)
      expect(encoded + ARRAY_HEADER_BYTES_MAX).toBeLessThanOrEqual(FRAME_BYTES_MAX)
    }
    expect(chunks.flatMap((c) => (c.nodes as SnapshotNode[]).map((n) => n.path))).toEqual(
      [...tree.snapshotEntries()].map((n) => n.path),
    )
    const { snap } = deliver(link.sent, new SnapAssembler())
    if (snap === undefined || typeof snap === 'string')
      throw new Error(`SNAP refused: ${String(snap)}`)
    expect((snap.snapshot.data as AssembledSnapData).tree.digest()).toBe(tree.digest())
  })

  test("a streamed sync's parts wait while the link's backlog is long, then go in order with what followed them", async () => {
    const link = new FakeLink()
    const sender = new SnapSender(link, logger, BUDGET_BYTES)
    const part = (n: number): PeerMessage => ({
      type: 'syncPart',
      epoch: 2,
      afterZxid: makeZxid(1, n),
      txns: [{ ...create(`/p${n}`, n), zxid: makeZxid(1, n + 1) }],
    })
    link.pending = 9 * 1024 * 1024
    for (const message of [
      part(1),
      part(2),
      { type: 'newLeader', epoch: 2 } as PeerMessage,
      ping(1),
      part(3),
    ])
      sender.send(1, message)
    // Only the heartbeat may overtake: the parts must not pile up on a link that is not draining.
    expect(link.sent.map((m) => (m as { type: string }).type)).toEqual(['ping'])
    expect(sender.transfersRunning).toBe(1)
    link.pending = 0
    await waitFor(() => sender.transfersRunning === 0, { timeoutMs: 5000, what: 'parts sent' })
    expect(link.sent.map((m) => (m as { type: string }).type)).toEqual([
      'ping',
      'syncPart',
      'syncPart',
      'newLeader',
      'syncPart',
    ])
    expect(
      link.sent
        .filter((m) => (m as { type: string }).type === 'syncPart')
        .map((m) => (m as { afterZxid: bigint }).afterZxid),
    ).toEqual([1, 2, 3].map((n) => makeZxid(1, n)))

    // A link that goes down while parts wait drops them, as it would have dropped them queued.
    link.pending = 9 * 1024 * 1024
    sender.send(1, part(4))
    link.up = false
    await waitFor(() => sender.transfersRunning === 0, { timeoutMs: 5000, what: 'parts dropped' })
    expect(link.sent).toHaveLength(5)
  })

  test('a transfer missing a chunk, or with a bad record, is refused', async () => {
    const link = new FakeLink()
    const sender = new SnapSender(link, logger, BUDGET_BYTES)
    sender.send(1, snapOf(treeWith(RECORDS_PER_CHUNK + 5)))
    await waitFor(() => sender.transfersRunning === 0, { timeoutMs: 5000, what: 'transfer done' })
    const missing = link.sent.filter(
      (m, i) => !(i === 0 && (m as { type: string }).type === 'snapChunk'),
    )
    expect(typeof deliver(missing, new SnapAssembler()).snap).toBe('string')
    const tampered = structuredClone(link.sent) as {
      type: string
      nodes?: Record<string, unknown>[]
    }[]
    tampered[1]!.nodes![0]!.version = 'x'
    expect(deliver(tampered, new SnapAssembler()).snap).toMatch(/znode record/)
    const skipped = link.sent.filter(
      (m) => (m as { type: string }).type !== 'snapChunk' || (m as { index: number }).index !== 1,
    )
    expect(deliver(skipped, new SnapAssembler()).snap).toMatch(/received 1 chunks/)
  })

  test('a transfer whose link goes down is abandoned and sends no SNAP', async () => {
    const link = new FakeLink()
    const sender = new SnapSender(link, logger, BUDGET_BYTES)
    sender.send(1, snapOf(treeWith(RECORDS_PER_CHUNK * 3)))
    link.up = false
    await waitFor(() => sender.transfersRunning === 0, {
      timeoutMs: 5000,
      what: 'transfer abandoned',
    })
    expect(link.sent.some((m) => (m as { type: string }).type === 'snap')).toBe(false)
    link.up = true
    sender.send(1, ping(7))
    expect((link.sent.at(-1) as { type: string }).type).toBe('ping')
  })
})
