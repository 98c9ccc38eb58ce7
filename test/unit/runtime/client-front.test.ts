/*
 * Goal: the bounds a member puts on one client (issue 9) hold in ClientFront: output
 * backpressure in bytes (soft mark stops computing reads and reading the socket, hard
 * mark and the stall deadline close with 1008), reads counting toward the outstanding
 * limit, the session-creation rate (THROTTLED), watches per session (QUOTA_EXCEEDED),
 * the setWatches cap, replies that would not fit a frame, and close reasons that never
 * echo the client's bytes. Method: a real ClientFront, tree, session table and watch
 * registry behind a fake socket whose client reads or does not, driven frame by frame.
 */
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  CloseCode,
  ErrorCode,
  OPEN_ACL_UNSAFE,
  PROTOCOL_VERSION,
  SET_WATCHES_PATHS_MAX,
  decodeServerMessage,
  encodeClientMessage,
  encodeMessage,
  type Request,
  type ServerMessage,
  type Txn,
} from '../../../protocol/index.js'
import type { ForwardPayload } from '../../../server/member/index.js'
import type { ClientSocket } from '../../../server/net/client-listener.js'
import { ClientFront, type ClientLimits } from '../../../server/runtime/client-front.js'
import { MemberMetrics } from '../../../server/runtime/metrics.js'
import { DEFAULT_CONFIG } from '../../../server/runtime/config.js'
import { SessionTable } from '../../../server/sessions/index.js'
import { DataTree } from '../../../server/tree/index.js'
import { ChangeWindow, WatchRegistry } from '../../../server/watches/index.js'
import { SYSTEM_CLOCK } from '../../../server/runtime/clock.js'

const MiB = 1024 * 1024
const PASSWORD = new Uint8Array(16).fill(7)

/** FakeSocket records what the front sends; while `reading` is false, sent bytes stay buffered. */
class FakeSocket implements ClientSocket {
  readonly remoteAddress = '127.0.0.1'
  readonly sent: ServerMessage[] = []
  sentBytes = 0
  buffered = 0
  reading = true
  paused = false
  /** sessionIdForTest is the session this socket resumed (set by `session`). */
  sessionIdForTest = 0n
  closed: { code: number; reason: string } | undefined
  private drained: { bytes: number; callback: () => void } | undefined
  constructor(readonly id: number) {}
  send(frame: Uint8Array): void {
    if (this.closed !== undefined) return
    const decoded = decodeServerMessage(frame)
    if (!decoded.ok) throw new Error(`front sent a bad frame: ${decoded.error.message}`)
    this.sent.push(decoded.message)
    this.sentBytes += frame.length
    if (!this.reading) this.buffered += frame.length
  }
  close(code: number, reason: string): void {
    this.closed ??= { code, reason }
  }
  pause(): void {
    this.paused = true
  }
  resume(): void {
    this.paused = false
  }
  bufferedBytes(): number {
    return this.buffered
  }
  onDrained(bytes: number, callback: () => void): void {
    this.drained = { bytes, callback }
  }
  /** drain is the client reading everything queued for it. */
  drain(): void {
    this.reading = true
    this.buffered = 0
    const drained = this.drained
    this.drained = undefined
    if (drained !== undefined) drained.callback()
  }
  replies(): Extract<ServerMessage, { type: 'reply' }>[] {
    return this.sent.filter(
      (m): m is Extract<ServerMessage, { type: 'reply' }> => m.type === 'reply',
    )
  }
}

interface Harness {
  front: ClientFront
  tree: DataTree
  watches: WatchRegistry
  window: ChangeWindow
  forwarded: ForwardPayload[]
  clock: { nowMs: number }
  open(sessionId?: bigint): FakeSocket
  request(socket: FakeSocket, xid: number, request: Request): void
  apply(txn: Omit<Txn, 'zxid' | 'timeMs'>): void
}

let zxid = 0n
let socketIds = 0

function harness(overrides: Partial<ClientLimits> = {}): Harness {
  const tree = new DataTree()
  const sessions = new SessionTable({ tickMs: 100, minTimeoutMs: 200, maxTimeoutMs: 10_000 })
  const watches = new WatchRegistry()
  const window = new ChangeWindow({ changesMax: 100_000, bytesMax: 64 * MiB }, 0n)
  const forwarded: ForwardPayload[] = []
  const clock = { nowMs: 1_000_000 }
  let nextSession = 0x100n
  const limits: ClientLimits = { ...DEFAULT_CONFIG, frameBytesMax: MiB + 64 * 1024, ...overrides }
  const front = new ClientFront(
    {
      id: 1,
      superDigest: '',
      tree,
      sessions,
      watches,
      window,
      logger: pino({ level: 'silent' }),
      serving: () => true,
      forward: (_sessionId, _xid, payload) => {
        forwarded.push(payload)
        return true
      },
      readIndex: () => false,
      touch: () => undefined,
      newSessionId: () => nextSession++,
      newPassword: () => PASSWORD,
      clock: { ...SYSTEM_CLOCK, nowMs: () => clock.nowMs },
      metrics: new MemberMetrics(
        () => {
          throw new Error('no status in this harness')
        },
        () => '',
      ),
    },
    limits,
  )
  const apply = (partial: Omit<Txn, 'zxid' | 'timeMs'>) => {
    const txn: Txn = { ...partial, zxid: ++zxid, timeMs: 0 }
    sessions.apply(txn)
    const applied = tree.apply(txn)
    window.record(txn.zxid, applied.changes)
    front.onApplied(txn, applied)
  }
  const frame = (socket: FakeSocket, message: Parameters<typeof encodeClientMessage>[0]) =>
    front.onFrame(socket, encodeClientMessage(message))
  return {
    front,
    tree,
    watches,
    window,
    forwarded,
    clock,
    apply,
    open(sessionId = 0n) {
      const socket = new FakeSocket(++socketIds)
      front.onOpen(socket)
      frame(socket, {
        type: 'connect',
        protocolVersion: PROTOCOL_VERSION,
        sessionId,
        password: PASSWORD,
        lastZxidSeen: 0n,
        timeoutMs: 5000,
        readOnly: false,
      })
      return socket
    },
    request: (socket, xid, request) => frame(socket, { type: 'request', xid, request }),
  }
}

/** session opens a socket with a live session (resumed, so no createSession round trip is needed). */
function session(h: Harness): FakeSocket {
  const id = BigInt(1000 + socketIds)
  h.apply({
    sessionId: id,
    xid: 0,
    op: { type: 'createSession', sessionId: id, timeoutMs: 5000, password: PASSWORD },
  })
  const socket = h.open(id)
  socket.sessionIdForTest = id
  expect(socket.sent[0]?.type).toBe('connected')
  return socket
}

function createNode(h: Harness, path: string, data: Uint8Array): void {
  h.apply({
    sessionId: 0n,
    xid: 0,
    op: {
      type: 'create',
      path,
      data,
      acl: [...OPEN_ACL_UNSAFE],
      ephemeralOwner: 0n,
      container: false,
      ttlMs: 0,
      parentCversion: h.tree.stat('/')!.cversion + 1,
    },
  })
}

describe('ClientFront output backpressure', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  const limits = {
    connectionBufferedBytesSoft: 2 * MiB,
    connectionBufferedBytesMax: 4 * MiB,
    maxOutstandingRequests: 16,
    connectionStalledMaxMs: 5000,
  }

  it('stops computing reads past the soft mark, stops reading at the outstanding limit, and resumes when the client drains', () => {
    const client = notReading(40)
    // Two 1 MiB replies reach the soft mark; every later get waits unanswered in the FIFO.
    expect(client.replies().length).toBe(2)
    expect(client.buffered).toBeLessThan(limits.connectionBufferedBytesSoft + MiB + 64 * 1024)
    expect(client.paused).toBe(true)
    expect(client.closed).toBeUndefined()
    client.drain()
    vi.runAllTimers() // the pump yields every 2 MiB of replies
    expect(client.replies().map((r) => r.xid)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
    expect(client.paused).toBe(false)
  })

  it('holds a write sent behind waiting reads, so those reads never see it (per-session FIFO)', () => {
    const client = notReading(4)
    h.request(client, 5, { op: 'set', path: '/big', data: new Uint8Array([1]), version: -1 })
    expect(h.forwarded.filter((p) => p.kind === 'write').length).toBe(0)
    client.drain()
    vi.runAllTimers()
    const writes = h.forwarded.filter((p) => p.kind === 'write')
    expect(writes.length).toBe(1)
    const gets = client.replies().filter((r) => r.xid <= 4)
    expect(gets.length).toBe(4)
    for (const get of gets) expect((get.result as { data: Uint8Array }).data.length).toBe(MiB)
    // Once applied, the held write is answered in its turn.
    h.apply({
      sessionId: client.sessionIdForTest,
      xid: 5,
      op: { type: 'set', path: '/big', data: new Uint8Array([1]), version: 1 },
    })
    expect(client.replies().map((r) => [r.xid, r.err])).toContainEqual([5, 0])
  })

  it('yields the event loop after a few MiB of replies, even to a client that reads', () => {
    const h = harness(limits)
    createNode(h, '/big', new Uint8Array(MiB))
    const client = session(h)
    // Six gets wait behind a write; when it is applied they all become ready at once.
    h.request(client, 1, { op: 'create', path: '/w', data: new Uint8Array(0), mode: 'persistent' })
    for (let xid = 2; xid <= 7; xid++)
      h.request(client, xid, { op: 'get', path: '/big', watch: false })
    h.apply({
      sessionId: client.sessionIdForTest,
      xid: 1,
      op: {
        type: 'create',
        path: '/w',
        data: new Uint8Array(0),
        acl: [...OPEN_ACL_UNSAFE],
        ephemeralOwner: 0n,
        container: false,
        ttlMs: 0,
        parentCversion: h.tree.stat('/')!.cversion + 1,
      },
    })
    expect(client.replies().map((r) => r.xid)).toEqual([1, 2, 3])
    vi.runAllTimers()
    expect(client.replies().map((r) => r.xid)).toEqual([1, 2, 3, 4, 5, 6, 7])
  })

  it('counts reads waiting in the FIFO toward maxOutstandingRequests', () => {
    const h = harness(limits)
    const client = session(h)
    h.request(client, 1, { op: 'create', path: '/w', data: new Uint8Array(0), mode: 'persistent' })
    for (let xid = 2; xid < limits.maxOutstandingRequests; xid++)
      h.request(client, xid, { op: 'exists', path: '/', watch: false })
    expect(client.paused).toBe(false) // one write and 14 reads: under the limit of 16
    h.request(client, 100, { op: 'exists', path: '/', watch: false })
    expect(client.paused).toBe(true) // the reads queued behind the write count
    expect(client.replies().length).toBe(0)
    h.apply({
      sessionId: client.sessionIdForTest,
      xid: 1,
      op: {
        type: 'create',
        path: '/w',
        data: new Uint8Array(0),
        acl: [...OPEN_ACL_UNSAFE],
        ephemeralOwner: 0n,
        container: false,
        ttlMs: 0,
        parentCversion: h.tree.stat('/')!.cversion + 1,
      },
    })
    expect(client.replies().length).toBe(limits.maxOutstandingRequests)
    expect(client.paused).toBe(false)
  })

  it('stops reading a connection with connectionWriteBytesInFlightMax of writes not yet applied, and resumes at half', () => {
    const h = harness({ ...limits, connectionWriteBytesInFlightMax: 2 * MiB })
    const client = session(h)
    const data = new Uint8Array(MiB)
    const create = (xid: number) =>
      h.request(client, xid, { op: 'create', path: `/n${xid}`, data, mode: 'persistent' })
    const applyCreate = (xid: number) =>
      h.apply({
        sessionId: client.sessionIdForTest,
        xid,
        op: {
          type: 'create',
          path: `/n${xid}`,
          data,
          acl: [...OPEN_ACL_UNSAFE],
          ephemeralOwner: 0n,
          container: false,
          ttlMs: 0,
          parentCversion: h.tree.stat('/')!.cversion + 1,
        },
      })
    create(1)
    expect(client.paused).toBe(false) // one write of ~1 MiB in flight
    create(2)
    expect(client.paused).toBe(true) // two: at the bound, however few requests that is
    applyCreate(1)
    expect(client.paused).toBe(true) // ~1 MiB still in flight: not under half the bound yet
    applyCreate(2)
    expect(client.paused).toBe(false)
    expect(client.replies().map((r) => [r.xid, r.err])).toEqual([
      [1, 0],
      [2, 0],
    ])
    // A write refused on arrival (its xid already in flight) is not counted as in flight.
    create(3)
    create(3)
    expect(client.paused).toBe(false)
  })

  /** notReading is a session whose client stopped reading after asking for `gets` 1 MiB nodes. */
  let h: Harness
  const notReading = (gets: number) => {
    h = harness(limits)
    createNode(h, '/big', new Uint8Array(MiB))
    const client = session(h)
    client.reading = false
    for (let xid = 1; xid <= gets; xid++)
      h.request(client, xid, { op: 'get', path: '/big', watch: false })
    return client
  }

  it('closes a client that stays over the soft mark for connectionStalledMaxMs with 1008 and a reason', () => {
    const client = notReading(5)
    vi.advanceTimersByTime(limits.connectionStalledMaxMs - 1)
    expect(client.closed).toBeUndefined()
    vi.advanceTimersByTime(2)
    expect(client.closed?.code).toBe(CloseCode.CLIENT_NOT_READING)
    expect(client.closed?.reason).toMatch(
      /output buffer over 2097152 bytes for 5000 ms: the client is not reading/,
    )
  })

  it('does not close a client that drains before the stall deadline', () => {
    const client = notReading(5)
    vi.advanceTimersByTime(limits.connectionStalledMaxMs - 100)
    client.drain()
    vi.runAllTimers()
    vi.advanceTimersByTime(limits.connectionStalledMaxMs * 2)
    expect(client.closed).toBeUndefined()
    expect(client.replies().length).toBe(5)
  })

  it('closes a client past the hard mark (watch events are not held back) with 1008 naming the bound', () => {
    const h = harness({
      ...limits,
      connectionBufferedBytesSoft: 64 * 1024,
      connectionBufferedBytesMax: 256 * 1024,
    })
    const client = session(h)
    h.request(client, 1, { op: 'addWatch', path: '/', mode: 'persistentRecursive' })
    client.reading = false
    const name = 'n'.repeat(1000)
    for (let i = 0; i < 400 && client.closed === undefined; i++)
      createNode(h, `/${name}${i}`, new Uint8Array(0))
    expect(client.closed?.code).toBe(CloseCode.CLIENT_NOT_READING)
    expect(client.closed?.reason).toBe('output buffer over 262144 bytes: the client is not reading')
    expect(client.buffered).toBeLessThan(256 * 1024 + 4096)
  })
})

describe('ClientFront session ownership', () => {
  it('answers a write the leader refused as SESSION_MOVED, then closes the connection (4003) so the client reconnects and claims the session again', () => {
    const h = harness()
    const client = session(h)
    h.request(client, 1, { op: 'set', path: '/', data: new Uint8Array(0), version: -1 })
    // The leader prepared it as an error txn: a stale claim from a member the client left reached it last.
    h.apply({
      sessionId: client.sessionIdForTest,
      xid: 1,
      op: { type: 'error', code: ErrorCode.SESSION_MOVED, reason: 'session moved to server 3' },
    })
    expect(client.replies().map((r) => [r.xid, r.err])).toEqual([[1, ErrorCode.SESSION_MOVED]])
    expect(client.closed?.code).toBe(CloseCode.SESSION_MOVED)
  })
})

describe('ClientFront limits', () => {
  it('throttles session creation at maxSessionCreatesPerSecond with a retryable THROTTLED refusal, refilling over time', () => {
    const h = harness({ maxSessionCreatesPerSecond: 2 })
    const first = h.open()
    const second = h.open()
    const third = h.open()
    expect(h.forwarded.filter((p) => p.kind === 'createSession').length).toBe(2)
    expect(first.closed).toBeUndefined()
    expect(second.closed).toBeUndefined()
    const refused = third.sent[0]
    expect(refused).toMatchObject({ type: 'connectRefused', code: ErrorCode.THROTTLED })
    expect((refused as { message: string }).message).toMatch(
      /at most 2 per second \(maxSessionCreatesPerSecond\)/,
    )
    expect(third.closed?.code).toBe(CloseCode.SESSION_ENDED)
    h.clock.nowMs += 500 // one token back
    expect(h.open().closed).toBeUndefined()
    expect(h.open().sent[0]).toMatchObject({ type: 'connectRefused', code: ErrorCode.THROTTLED })
    // Resuming a session is not a creation: it is never throttled.
    expect(session(h).closed).toBeUndefined()
  })

  it('refuses watches past maxWatchesPerSession with QUOTA_EXCEEDED and registers nothing more', () => {
    const h = harness({ maxWatchesPerSession: 3 })
    const client = session(h)
    h.request(client, 1, { op: 'exists', path: '/a', watch: true })
    h.request(client, 2, { op: 'get', path: '/', watch: true })
    h.request(client, 3, { op: 'addWatch', path: '/x', mode: 'persistent' })
    h.request(client, 4, { op: 'exists', path: '/b', watch: true })
    h.request(client, 5, { op: 'children', path: '/', watch: true })
    h.request(client, 6, { op: 'addWatch', path: '/y', mode: 'persistentRecursive' })
    h.request(client, 7, { op: 'exists', path: '/c', watch: false })
    const errs = client.replies().map((r) => r.err)
    expect(errs).toEqual([
      0,
      0,
      0,
      ErrorCode.QUOTA_EXCEEDED,
      ErrorCode.QUOTA_EXCEEDED,
      ErrorCode.QUOTA_EXCEEDED,
      0,
    ])
    expect(client.replies()[3]?.message).toMatch(/limit of 3 \(maxWatchesPerSession\)/)
    expect(h.watches.countFor(client.id)).toBe(3)
    // setWatches is refused whole when it would pass the cap.
    h.request(client, 8, {
      op: 'setWatches',
      relativeZxid: 0n,
      data: [],
      exist: ['/p', '/q'],
      child: [],
    })
    expect(client.replies()[7]?.err).toBe(ErrorCode.QUOTA_EXCEEDED)
    expect(h.watches.countFor(client.id)).toBe(3)
  })

  it('refuses a setWatches of more than SET_WATCHES_PATHS_MAX paths with BAD_ARGUMENTS and registers none of it', () => {
    const h = harness()
    const client = session(h)
    const paths = Array.from({ length: SET_WATCHES_PATHS_MAX + 1 }, (_, i) => `/w${i}`)
    // Over the cap in total, each list under it: the front counts all three lists.
    h.request(client, 1, {
      op: 'setWatches',
      relativeZxid: 0n,
      data: paths.slice(0, 1001),
      exist: paths.slice(1001),
      child: [],
    })
    expect(client.replies()[0]).toMatchObject({ err: ErrorCode.BAD_ARGUMENTS })
    expect(client.replies()[0]?.message).toMatch(/2001 paths, over the limit of 2000/)
    // One list over the cap is refused by the decoder, before its paths are checked.
    h.request(client, 3, {
      op: 'setWatches',
      relativeZxid: 0n,
      data: [],
      exist: paths,
      child: [],
    })
    expect(client.replies()[1]).toMatchObject({ xid: 3, err: ErrorCode.BAD_ARGUMENTS })
    expect(h.watches.countFor(client.id)).toBe(0)
    h.request(client, 2, {
      op: 'setWatches',
      relativeZxid: 0n,
      data: [],
      exist: paths.slice(1),
      child: [],
    })
    expect(client.replies()[2]).toMatchObject({ xid: 2, err: 0 })
    expect(h.watches.countFor(client.id)).toBe(SET_WATCHES_PATHS_MAX)
  })

  it('answers a children listing that would not fit a frame with MARSHALLING_ERROR instead of the frame', () => {
    const h = harness({ frameBytesMax: 64 * 1024 })
    for (let i = 0; i < 40; i++) createNode(h, `/${'c'.repeat(2000)}${i}`, new Uint8Array(0))
    const client = session(h)
    h.request(client, 1, { op: 'children', path: '/', watch: false })
    h.request(client, 2, { op: 'childCount', path: '/' })
    const [listing, count] = client.replies()
    expect(listing).toMatchObject({ xid: 1, err: ErrorCode.MARSHALLING_ERROR })
    expect(listing?.message).toMatch(/over the frame limit of 65536/)
    expect(count).toMatchObject({ xid: 2, err: 0, result: { count: 41 } }) // 40 + the reserved /zookeeper
    expect(client.sentBytes).toBeLessThan(64 * 1024)
  })

  it('closes on an unreadable frame with a reason that names the failure, not the bytes sent', () => {
    const h = harness()
    const client = session(h)
    h.front.onFrame(client, encodeMessage({ type: 'EVIL-<script>-\u0007', xid: 'x' }))
    expect(client.closed?.code).toBe(CloseCode.PROTOCOL_ERROR)
    expect(client.closed?.reason).toBe('malformed frame (MARSHALLING_ERROR)')
    const other = session(h)
    h.front.onFrame(other, new Uint8Array([0xc7, 0x03, 0x78, 1, 2, 3])) // a msgpack RegExp extension
    expect(other.closed?.reason).toBe('malformed frame (MARSHALLING_ERROR)')
  })
})

describe('ClientFront watch replay (addWatch with fromZxid)', () => {
  /** setData applies a set of an existing node and returns its zxid. */
  function setData(h: Harness, path: string): bigint {
    const stat = h.tree.stat(path)!
    h.apply({
      sessionId: 0n,
      xid: 0,
      op: { type: 'set', path, data: new Uint8Array([1]), version: stat.version + 1 },
    })
    return h.tree.appliedZxid
  }
  const shape = (m: ServerMessage) =>
    m.type === 'event'
      ? `event ${m.event} ${m.path} ${m.zxid - base}.${m.index}`
      : m.type === 'reply'
        ? `reply ${m.xid} ${m.err} ${m.zxid - base}${m.result !== undefined && 'compacted' in m.result ? ' compacted' : ''}`
        : m.type
  let base = 0n

  it('sends the changes after the position in order, then the reply, then live events, each once', () => {
    const h = harness()
    createNode(h, '/r', new Uint8Array(0))
    createNode(h, '/r/a', new Uint8Array(0))
    createNode(h, '/r/b', new Uint8Array(0))
    base = h.tree.appliedZxid
    const client = session(h)
    const from = h.tree.appliedZxid
    setData(h, '/r/a')
    setData(h, '/r/b')
    createNode(h, '/other', new Uint8Array(0))
    h.request(client, 1, {
      op: 'addWatch',
      path: '/r',
      mode: 'persistentRecursive',
      fromZxid: from,
    })
    setData(h, '/r/a')
    expect(client.sent.slice(1).map(shape)).toEqual([
      'event dataChanged /r/a 2.0',
      'event dataChanged /r/b 3.0',
      'reply 1 0 4',
      'event dataChanged /r/a 5.0',
    ])
  })

  it('answers compacted for a position older than the window and goes live from the reply', () => {
    const h = harness()
    createNode(h, '/p', new Uint8Array(0))
    const from = h.tree.appliedZxid
    setData(h, '/p')
    h.window.restart(h.tree.appliedZxid) // as after a SNAP
    base = 0n
    const client = session(h)
    h.request(client, 1, { op: 'addWatch', path: '/p', mode: 'persistent', fromZxid: from })
    const reply = client.replies()[0]!
    expect(reply).toMatchObject({ err: 0, result: { compacted: true } })
    expect((reply.result as { oldestZxid: bigint }).oldestZxid).toBe(h.window.oldestZxid)
    expect(client.sent.filter((m) => m.type === 'event')).toEqual([])
    setData(h, '/p')
    expect(client.sent.at(-1)).toMatchObject({ type: 'event', event: 'dataChanged', path: '/p' })
  })

  it('answers ZXID_AHEAD for a position beyond what it applied, and registers nothing', () => {
    const h = harness()
    const client = session(h)
    h.request(client, 1, {
      op: 'addWatch',
      path: '/',
      mode: 'persistentRecursive',
      fromZxid: h.tree.appliedZxid + 5n,
    })
    expect(client.replies()[0]).toMatchObject({ err: ErrorCode.ZXID_AHEAD })
    expect(h.watches.countFor(client.id)).toBe(0)
  })

  it('yields the event loop between requests that scan the whole window, even ones that replay nothing', () => {
    vi.useFakeTimers()
    try {
      const h = harness()
      const client = session(h)
      const from = h.tree.appliedZxid
      // A full window (100,000 changes) of a path no watch below asks about.
      const noise = Array.from({ length: 1000 }, () => ({
        type: 'dataChanged' as const,
        path: '/noise',
      }))
      for (let i = 1; i <= 100; i++) h.window.record(from + BigInt(i), noise)
      expect(h.window.changesAfter(from)).toBe(100_000)
      // One socket read can hold many such requests: each walks the window to find nothing.
      for (let xid = 1; xid <= 6; xid++)
        h.request(
          client,
          xid,
          xid % 2 === 0
            ? { op: 'setWatches', relativeZxid: from, data: ['/quiet'], exist: [], child: [] }
            : { op: 'addWatch', path: '/quiet', mode: 'persistent', fromZxid: from },
        )
      // Two window scans per turn; the rest wait, in order, for the next turns.
      expect(client.replies().map((r) => r.xid)).toEqual([1, 2])
      vi.runAllTimers()
      expect(client.replies().map((r) => [r.xid, r.err])).toEqual(
        [1, 2, 3, 4, 5, 6].map((xid) => [xid, 0]),
      )
    } finally {
      vi.useRealTimers()
    }
  })

  it('answers compacted rather than queue a replay past the connection output bound', () => {
    const h = harness({
      connectionBufferedBytesSoft: 64 * 1024,
      connectionBufferedBytesMax: 2 * MiB,
    })
    const big = '/' + 'b'.repeat(300)
    createNode(h, big, new Uint8Array(0))
    const from = h.tree.appliedZxid
    // 2000 events of about 1 KB: over the (2 MiB - 64 KiB) / 2 a replay may queue.
    for (let i = 0; i < 2000; i++) setData(h, big)
    expect(h.window.covers(from)).toBe(true)
    const client = session(h)
    h.request(client, 1, { op: 'addWatch', path: big, mode: 'persistent', fromZxid: from })
    expect(client.replies()[0]).toMatchObject({ err: 0, result: { compacted: true } })
    expect(client.sent.filter((m) => m.type === 'event')).toEqual([])
    expect(client.closed).toBeUndefined()
  })
})
