/**
 * One definition of a valid txn (issue 9): whatever request preparation accepts must
 * survive every codec a txn goes through afterwards. A property test drives random
 * client requests at and beyond every limit — path length (multi-byte UTF-8 included),
 * data size, multi op count, makeParents depth, ephemerals per session by count and by
 * path bytes, sequential names, ACL lists — through the real path of a write: the client
 * frame limit and codec, the leader's TxnBuilder with the limits of a real config, the
 * tree. Each request is either refused with an error reply, or its txn (and every error
 * txn, which is logged too) passes the txn shape check, encodes as a log record and as a
 * proposal within the peer budget and decodes back unchanged, is appended to FileStorage
 * on the in-memory disk, and after a restart is recovered and replayed to the same tree
 * digest. Every session is closed at the end: its closeSession txn must pass the same
 * checks. Nothing is acknowledged and then refused.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  ErrorCode,
  MULTI_OPS_MAX,
  PATH_BYTES_MAX,
  decodeClientMessage,
  decodeMessage,
  decodePeerMessage,
  encodeClientMessage,
  encodeMessage,
  makeZxid,
  txnBytesBound,
  utf8Bytes,
  type Acl,
  type MultiOp,
  type NodeMode,
  type Request,
  type SessionId,
  type Txn,
} from '../../protocol/index.js'
import { checkTxn } from '../../protocol/txn-shape.js'
import { TxnBuilder, type TxnHeader, type WriteRequest } from '../../server/requests/index.js'
import {
  frameBytesMaxFor,
  peerFrameBytesMaxFor,
  peerMessageBudgetBytesFor,
  resolveConfig,
  txnBuilderOptionsFor,
  type ServerConfig,
} from '../../server/runtime/config.js'
import { SessionTable } from '../../server/sessions/index.js'
import { FileStorage } from '../../server/storage/file-storage.js'
import { MemoryStorageFs } from '../../server/storage/memory-fs.js'
import { encodeRecord, readRecord } from '../../server/storage/record.js'
import { restoreStandalone, snapshotRequestOf } from '../../server/storage/restore.js'
import { DataTree } from '../../server/tree/index.js'

const SESSION_OPTIONS = { tickMs: 100, minTimeoutMs: 200, maxTimeoutMs: 60_000 }
const MODES: NodeMode[] = [
  'persistent',
  'persistent-sequential',
  'ephemeral',
  'ephemeral-sequential',
  'container',
]

// ------------------------------------------------------------------ generated requests

/** A character of 1 to 4 UTF-8 bytes, or a quote (JSON-escaped twice as long in reasons). */
const unit = fc.constantFrom('a', 'é', '€', '😀', '"')
/** Path byte lengths around the limit and well inside it. */
const pathBytes = fc.oneof(
  fc.integer({ min: 3, max: 40 }),
  fc.constantFrom(
    1000,
    3900,
    PATH_BYTES_MAX - 11,
    PATH_BYTES_MAX - 10,
    PATH_BYTES_MAX - 1,
    PATH_BYTES_MAX,
    PATH_BYTES_MAX + 1,
    PATH_BYTES_MAX + 3,
  ),
)
/** Data sizes relative to the config's limit. */
const dataKind = fc.constantFrom('empty', 'small', 'atMax', 'overMax')
type DataKind = 'empty' | 'small' | 'atMax' | 'overMax'
const aclKind = fc.constantFrom(
  'default',
  'one',
  'max',
  'tooMany',
  'scheme64',
  'scheme65',
  'id1024',
  'id1025',
  'empty',
  'auth',
)
type AclKind =
  | 'default'
  | 'one'
  | 'max'
  | 'tooMany'
  | 'scheme64'
  | 'scheme65'
  | 'id1024'
  | 'id1025'
  | 'empty'
  | 'auth'
const mode = fc.constantFrom(...MODES)
const session = fc.integer({ min: 0, max: 2 })

const action = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('create' as const),
      parent: fc.constantFrom('/', '/p', '/p/q'),
      bytes: pathBytes,
      unit,
      mode,
      data: dataKind,
      acl: aclKind,
      ttl: fc.boolean(),
      session,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('deep' as const),
      depth: fc.constantFrom(
        2,
        500,
        MULTI_OPS_MAX - 2,
        MULTI_OPS_MAX - 1,
        MULTI_OPS_MAX,
        MULTI_OPS_MAX + 1,
        1500,
        2047,
      ),
      segment: fc.constantFrom(1, 2, 4),
      mode,
      data: dataKind,
      session,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('multi' as const),
      count: fc.constantFrom(1, 2, 10, MULTI_OPS_MAX - 1, MULTI_OPS_MAX, MULTI_OPS_MAX + 1),
      bytes: fc.constantFrom(10, 300, 2000),
      ephemeral: fc.boolean(),
      data: dataKind,
      session,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('flood' as const),
      bytes: fc.constantFrom(8, 1000, 3900, PATH_BYTES_MAX - 10),
      unit,
      sequential: fc.boolean(),
      inMulti: fc.boolean(),
      session,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      pick: fc.nat(),
      data: dataKind,
      session,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat(), session }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('close' as const), session }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('apply' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const) }) },
)
type Action = typeof action extends fc.Arbitrary<infer A> ? A : never
type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never

const scenario = fc.record({
  maxDataBytes: fc.constantFrom(1024, 64 * 1024, 1024 * 1024),
  maxEphemeralsPerSession: fc.constantFrom(1, 5, 40),
  /** How many prepared txns stay unapplied (pipelining against the pending state). */
  lag: fc.integer({ min: 0, max: 4 }),
  actions: fc.array(action, { minLength: 1, maxLength: 14 }),
})

/** EVERY_LIMIT and AT_DEFAULT_LIMITS are run every time, besides the random ones: together they reach each txn limit. */
const EVERY_LIMIT: Scenario = {
  maxDataBytes: 1024,
  maxEphemeralsPerSession: 40,
  lag: 2,
  actions: [
    {
      kind: 'flood',
      bytes: PATH_BYTES_MAX - 10,
      unit: 'é',
      sequential: false,
      inMulti: false,
      session: 0,
    },
    { kind: 'flood', bytes: 8, unit: '😀', sequential: true, inMulti: true, session: 1 },
    {
      kind: 'deep',
      depth: MULTI_OPS_MAX + 1,
      segment: 1,
      mode: 'persistent',
      data: 'empty',
      session: 2,
    },
    { kind: 'deep', depth: 500, segment: 4, mode: 'ephemeral', data: 'small', session: 2 },
    {
      kind: 'create',
      parent: '/p',
      bytes: PATH_BYTES_MAX,
      unit: '"',
      mode: 'persistent-sequential',
      data: 'atMax',
      acl: 'max',
      ttl: true,
      session: 2,
    },
  ],
}

const AT_DEFAULT_LIMITS: Scenario = {
  maxDataBytes: 1024 * 1024,
  maxEphemeralsPerSession: 5,
  lag: 1,
  actions: [
    // The attack of issue 9: 1,000 missing ancestors of one-letter names, a 1.35 MB txn within the byte limit.
    {
      kind: 'deep',
      depth: MULTI_OPS_MAX + 1,
      segment: 1,
      mode: 'persistent',
      data: 'empty',
      session: 0,
    },
    {
      kind: 'deep',
      depth: MULTI_OPS_MAX,
      segment: 2,
      mode: 'ephemeral-sequential',
      data: 'atMax',
      session: 0,
    },
    {
      kind: 'deep',
      depth: MULTI_OPS_MAX,
      segment: 2,
      mode: 'persistent',
      data: 'small',
      session: 1,
    },
    { kind: 'multi', count: MULTI_OPS_MAX, bytes: 300, ephemeral: true, data: 'atMax', session: 2 },
  ],
}

/** nameOf is a name of exactly `bytes` UTF-8 bytes (at least 1), mostly `unit` characters. */
function nameOf(bytes: number, unitChar: string): string {
  const wanted = Math.max(1, bytes)
  const body = unitChar.repeat(Math.floor(wanted / utf8Bytes(unitChar)))
  return body + 'x'.repeat(wanted - utf8Bytes(body))
}

/** pathUnder is a path of `bytes` UTF-8 bytes in total below `parent`, its last name made unique by `tag`. */
function pathUnder(parent: string, bytes: number, unitChar: string, tag: string): string {
  const prefix = (parent === '/' ? '' : parent) + '/' + tag
  return prefix + nameOf(bytes - utf8Bytes(prefix), unitChar)
}

function dataOf(kind: DataKind, config: ServerConfig): Uint8Array {
  const size = {
    empty: 0,
    small: 17,
    atMax: config.maxDataBytes,
    overMax: config.maxDataBytes + 1,
  }[kind]
  return new Uint8Array(size).fill(7)
}

function aclOf(kind: AclKind): Acl[] | undefined {
  const entry = (scheme: string, id: string): Acl => ({ perms: 31, scheme, id })
  switch (kind) {
    case 'default':
      return undefined
    case 'one':
      return [entry('world', 'anyone')]
    case 'max':
      return Array.from({ length: 64 }, (_, i) => entry('digest', `user${i}:${'h'.repeat(1000)}`))
    case 'tooMany':
      return Array.from({ length: 65 }, (_, i) => entry('digest', `user${i}`))
    case 'scheme64':
      return [entry('s'.repeat(64), 'id')]
    case 'scheme65':
      return [entry('s'.repeat(65), 'id')]
    case 'id1024':
      return [entry('ip', 'é'.repeat(1024))]
    case 'id1025':
      return [entry('ip', 'i'.repeat(1025))]
    case 'empty':
      return []
    case 'auth':
      return [entry('auth', '')]
  }
}

// ------------------------------------------------------------------ the system under test

/** LIMIT_WORDINGS tell which limit refused a request, from its reason. */
const LIMIT_WORDINGS: [string, string][] = [
  ['makeParents depth', 'makeParents would create'],
  ['txn bytes', 'makes a txn of up to'],
  ['ephemerals by count', '(maxEphemeralsPerSession'],
  ['ephemerals by bytes', 'would make its close txn'],
]

/** Leader is one leader's write path over a FileStorage: prepare, check, log, apply. */
class Leader {
  readonly tree = new DataTree()
  readonly sessions = new SessionTable(SESSION_OPTIONS)
  readonly builder: TxnBuilder
  readonly fs = new MemoryStorageFs()
  readonly logged: Txn[] = []
  readonly sessionIds: SessionId[] = []
  private readonly queued: Txn[] = []
  /** Txns checked but not yet appended: one append per action, as a leader batches its log writes. */
  private unwritten: Txn[] = []
  private counter = 0
  private nextSession = 0x100n
  private nextXid = 1
  storage!: FileStorage
  /** Per request: refused before preparation (frame or codec), refused by the builder, or accepted. */
  readonly outcomes = { frameRefused: 0, codecRefused: 0, txnRefused: 0, accepted: 0 }
  readonly codes = new Map<number, number>()
  /** Which of the txn limits refused a request (by the reason's wording). */
  readonly limitsHit = new Set<string>()

  constructor(
    readonly config: ServerConfig,
    private readonly lag: number,
  ) {
    this.builder = new TxnBuilder(this.tree, txnBuilderOptionsFor(config))
  }

  async open(): Promise<void> {
    this.storage = (await FileStorage.open('/data', { fs: this.fs, createIfMissing: true })).storage
    for (let i = 0; i < 3; i++) this.sessionIds.push(await this.openSession())
  }

  private header(sessionId: SessionId, xid = 0): TxnHeader {
    return { zxid: makeZxid(1, ++this.counter), timeMs: 1_000_000 + this.counter, sessionId, xid }
  }

  private async openSession(): Promise<SessionId> {
    const sessionId = this.nextSession++
    const password = new Uint8Array(16).fill(Number(sessionId % 256n))
    this.log(
      this.builder.prepareCreateSession(this.header(sessionId), {
        sessionId,
        timeoutMs: 4000,
        password,
      }),
    )
    return sessionId
  }

  /** close ends a session (its closeSession must be as valid as any txn) and opens a new one in its slot. */
  async close(slot: number): Promise<void> {
    this.log(
      this.builder.prepareCloseSession(this.header(this.sessionIds[slot]!), this.sessionIds[slot]!),
    )
    this.sessionIds[slot] = await this.openSession()
  }

  /**
   * request sends one client request the way a client frame arrives: over the frame
   * limit or failing the codec, it is refused before the builder; otherwise the builder
   * prepares it and the txn is logged. Returns the txn (undefined when refused earlier).
   */
  async request(request: Request, slot: number): Promise<Txn | undefined> {
    const xid = this.nextXid++
    const frame = encodeClientMessage({ type: 'request', xid, request })
    if (frame.length > frameBytesMaxFor(this.config)) {
      this.outcomes.frameRefused++
      return undefined
    }
    const decoded = decodeClientMessage(frame)
    if (!decoded.ok) {
      expect(decoded.xid).toBe(xid) // answered with an error reply, not a dropped connection
      this.outcomes.codecRefused++
      return undefined
    }
    expect(decoded.message.type).toBe('request')
    const write = (decoded.message as { request: WriteRequest }).request
    const txn = this.builder.prepare(write, this.header(this.sessionIds[slot]!, xid))
    if (txn.op.type === 'error') {
      this.outcomes.txnRefused++
      this.codes.set(txn.op.code, (this.codes.get(txn.op.code) ?? 0) + 1)
      expect(txn.op.code).not.toBe(ErrorCode.OK)
      expect(txn.op.reason ?? '').not.toBe('')
      const reason = txn.op.reason ?? ''
      for (const [limit, wording] of LIMIT_WORDINGS)
        if (reason.includes(wording)) this.limitsHit.add(limit)
    } else this.outcomes.accepted++
    this.log(txn)
    return txn
  }

  /** log checks a txn against every codec it meets, appends it and applies what the lag allows. */
  private log(txn: Txn): void {
    expectValid(txn, this.config)
    this.unwritten.push(txn)
    this.logged.push(txn)
    this.queued.push(txn)
    this.applyDown(this.lag)
  }

  /** flush appends the txns logged since the last flush. */
  async flush(): Promise<void> {
    const txns = this.unwritten
    this.unwritten = []
    if (txns.length > 0) await this.storage.append(txns)
  }

  /** applyDown applies queued txns in order until at most `keep` are left. */
  applyDown(keep: number): void {
    while (this.queued.length > keep) {
      const txn = this.queued.shift()!
      this.tree.apply(txn)
      this.sessions.apply(txn)
      this.builder.onApplied(txn.zxid)
    }
  }

  async snapshot(): Promise<void> {
    await this.flush()
    this.applyDown(0)
    await this.storage.snapshot(snapshotRequestOf(this.tree, this.sessions))
  }

  /** existing lists some nodes of the tree below /p (to set and delete). */
  existing(): string[] {
    return (this.tree.children('/p') ?? []).map((name) => `/p/${name}`)
  }
}

/**
 * expectValid: the shape check, the bound and the txn limit, the log record and a
 * proposal round trip. Txns are compared by their encodings (deep equality of MB-sized
 * data would dominate the run).
 */
function expectValid(txn: Txn, config: ServerConfig): void {
  const encoded = encodeMessage(txn)
  const sameTxn = (other: unknown) => Buffer.from(encodeMessage(other)).equals(encoded)
  const checked = checkTxn(txn)
  expect(typeof checked === 'string' ? checked : 'ok').toBe('ok')
  expect(sameTxn(checked)).toBe(true)
  const bound = txnBytesBound(txn)
  expect(encoded.length).toBeLessThanOrEqual(bound)
  expect(bound).toBeLessThanOrEqual(txnBuilderOptionsFor(config).txnBytesMax)
  const record = readRecord(encodeRecord(txn), 0)
  expect(record.kind).toBe('ok')
  expect(record.kind === 'ok' && sameTxn(record.txn)).toBe(true)
  const proposal = encodeMessage({ type: 'proposal', epoch: 1, txns: [txn] })
  expect(proposal.length).toBeLessThanOrEqual(peerMessageBudgetBytesFor(config))
  expect(proposal.length).toBeLessThanOrEqual(peerFrameBytesMaxFor(config))
  const unpacked = decodeMessage(proposal)
  const message = unpacked.ok ? decodePeerMessage(unpacked.value) : unpacked.error
  expect(message).toMatchObject({ type: 'proposal', epoch: 1 })
  expect(sameTxn((message as { txns: Txn[] }).txns[0])).toBe(true)
}

async function play(leader: Leader, a: Action, step: number): Promise<void> {
  const config = leader.config
  const tag = `s${step}-`
  switch (a.kind) {
    case 'create': {
      const sequential = a.mode.endsWith('sequential')
      const path =
        pathUnder(a.parent, a.bytes, a.unit, tag) + (sequential && a.bytes % 2 === 0 ? '/' : '')
      const ttlMs = a.ttl && a.mode.startsWith('persistent') ? 60_000 : undefined
      await leader.request(
        {
          op: 'create',
          path,
          data: dataOf(a.data, config),
          mode: a.mode,
          ...(ttlMs === undefined ? {} : { ttlMs }),
          ...aclField(aclOf(a.acl)),
        },
        a.session,
      )
      return
    }
    case 'deep': {
      const segment = 'd'.repeat(a.segment)
      const path =
        `/${tag}` +
        Array.from({ length: a.depth - 1 }, () => segment)
          .map((s) => '/' + s)
          .join('')
      await leader.request(
        { op: 'create', path, data: dataOf(a.data, config), mode: a.mode, makeParents: true },
        a.session,
      )
      return
    }
    case 'multi': {
      const ops: MultiOp[] = Array.from({ length: a.count }, (_, i) => ({
        op: 'create',
        path: pathUnder('/p', a.bytes, 'a', `${tag}${i}-`),
        data: i === 0 ? dataOf(a.data, config) : new Uint8Array(0),
        mode: a.ephemeral && i % 2 === 0 ? 'ephemeral' : 'persistent',
      }))
      await leader.request({ op: 'multi', ops }, a.session)
      return
    }
    case 'flood': {
      // One session creates ephemerals until refused: by count, or by its close txn's bytes.
      const count = config.maxEphemeralsPerSession + 2
      for (let i = 0; i < count; i++) {
        const path = pathUnder('/p/q', a.bytes, a.unit, `${tag}${i}-`) + (a.sequential ? '/' : '')
        const create: MultiOp = {
          op: 'create',
          path,
          data: new Uint8Array(0),
          mode: a.sequential ? 'ephemeral-sequential' : 'ephemeral',
        }
        const txn = await leader.request(
          a.inMulti
            ? { op: 'multi', ops: [create, { op: 'check', path: '/p', version: -1 }] }
            : create,
          a.session,
        )
        if (txn?.op.type === 'error' && txn.op.code === ErrorCode.QUOTA_EXCEEDED) return
      }
      return
    }
    case 'set': {
      const nodes = leader.existing()
      if (nodes.length === 0) return
      await leader.request(
        {
          op: 'set',
          path: nodes[a.pick % nodes.length]!,
          data: dataOf(a.data, config),
          version: -1,
        },
        a.session,
      )
      return
    }
    case 'delete': {
      const nodes = leader.existing()
      if (nodes.length === 0) return
      await leader.request(
        { op: 'delete', path: nodes[a.pick % nodes.length]!, version: -1 },
        a.session,
      )
      return
    }
    case 'close':
      await leader.close(a.session)
      return
    case 'apply':
      leader.applyDown(0)
      return
    case 'snapshot':
      await leader.snapshot()
      return
  }
}

function aclField(acl: Acl[] | undefined): { acl?: Acl[] } {
  return acl === undefined ? {} : { acl }
}

describe('one definition of a valid txn', () => {
  it(
    'property: every request at or beyond a limit is refused with an error, or logged, replicated, recovered and replayed',
    { timeout: 600_000 },
    async () => {
      const totals = { frameRefused: 0, codecRefused: 0, txnRefused: 0, accepted: 0 }
      const codes = new Map<number, number>()
      const limitsHit = new Set<string>()
      await fc.assert(
        fc.asyncProperty(scenario, async (s) => {
          const config = resolveConfig({
            dataDir: '/data',
            maxDataBytes: s.maxDataBytes,
            maxEphemeralsPerSession: s.maxEphemeralsPerSession,
          })
          const leader = new Leader(config, s.lag)
          await leader.open()
          await leader.request(
            { op: 'create', path: '/p', data: new Uint8Array(0), mode: 'persistent' },
            0,
          )
          await leader.request(
            { op: 'create', path: '/p/q', data: new Uint8Array(0), mode: 'persistent' },
            0,
          )
          for (const [step, a] of s.actions.entries()) {
            await play(leader, a, step)
            await leader.flush()
          }
          // Every session's close, whatever it owns, is a valid txn.
          for (let slot = 0; slot < 3; slot++) await leader.close(slot)
          await leader.flush()
          leader.applyDown(0)
          await leader.storage.close()

          const { storage, recovered } = await FileStorage.open('/data', { fs: leader.fs })
          await storage.close()
          const replayedFrom = recovered.snapshot?.zxid ?? 0n
          expect(recovered.txns.map((t) => t.zxid)).toEqual(
            leader.logged.filter((t) => t.zxid > replayedFrom).map((t) => t.zxid),
          )
          const restored = restoreStandalone(recovered, SESSION_OPTIONS)
          expect(restored.tree.digest()).toBe(leader.tree.digest())
          expect(restored.tree.nodeCount).toBe(leader.tree.nodeCount)
          expect(restored.sessions.all().map((x) => x.id)).toEqual(
            leader.sessions.all().map((x) => x.id),
          )

          for (const [key, n] of Object.entries(leader.outcomes))
            totals[key as keyof typeof totals] += n
          for (const [code, n] of leader.codes) codes.set(code, (codes.get(code) ?? 0) + n)
          for (const limit of leader.limitsHit) limitsHit.add(limit)
        }),
        {
          numRuns: Number(process.env.TXN_VALIDITY_RUNS ?? 60),
          examples: [[EVERY_LIMIT], [AT_DEFAULT_LIMITS]],
        },
      )
      // The generator reaches every kind of outcome, the limits' refusals included.
      expect(totals.accepted).toBeGreaterThan(0)
      expect(totals.frameRefused).toBeGreaterThan(0)
      expect(totals.codecRefused).toBeGreaterThan(0)
      expect(codes.get(ErrorCode.QUOTA_EXCEEDED) ?? 0).toBeGreaterThan(0)
      expect(codes.get(ErrorCode.BAD_ARGUMENTS) ?? 0).toBeGreaterThan(0)
      expect([...limitsHit].sort()).toEqual(LIMIT_WORDINGS.map(([limit]) => limit).sort())
    },
  )
})
