/**
 * Client: the public face of the SDK. Every call validates its arguments, maps paths
 * through the chroot, goes through the SessionEngine in issue order, and honours its
 * AbortSignal and deadline. Connection handling lives in session.ts; this class only
 * shapes requests and results.
 */
import {
  isSequentialMode,
  pathProblem,
  type Acl,
  type ChildrenRequest,
  type CreateRequest,
  type EventMessage,
  type GetRequest,
  type MultiOp,
  type MultiResult,
  type NodeMode,
  type Request,
  type ResultOf,
  type SessionId,
  type SetRequest,
  type Stat,
} from '../protocol/index.js'
import { runCall, type CallOptions } from './call.js'
import type { ClientInternals } from './clock.js'
import { Chroot, toBytes, type Data } from './data.js'
import {
  AbortedError,
  BadArgumentsError,
  ClientClosedError,
  OperationTimeoutError,
  type ConclaveError,
} from './errors.js'
import { clientSettings, positiveMs, type ConnectOptions } from './options.js'
import { SessionEngine, type ConnectionState } from './session.js'
import { openWatchStream, type WatchEvent, type WatchStreamHooks } from './watch-stream.js'
import {
  ClientWatchRegistry,
  wholeTxn,
  type CompactedNotice,
  type OneShotKind,
} from './watch-registry.js'
import type { Logger } from './connection.js'

/**
 * Watcher is a one-shot watch callback: called once, with the change, or with an event
 * of type `sessionLost` if the session was lost before the watch fired.
 */
export type Watcher = (event: WatchEvent) => void

/** CreateOptions are the options of `create`. */
export interface CreateOptions extends CallOptions {
  /** mode is the node's mode; default 'persistent'. */
  mode?: NodeMode
  /** ttlMs makes a persistent node expire after this long without changes (persistent modes only). */
  ttlMs?: number
  /** makeParents creates missing ancestors as persistent nodes. */
  makeParents?: boolean
  acl?: Acl[]
}

/** Client is a session with a Conclave ensemble; create one with `connect()`. */
export class Client {
  private readonly engine: SessionEngine
  private readonly watches = new ClientWatchRegistry()
  private readonly chroot: Chroot
  private readonly requestTimeoutMs: number
  private readonly connectTimeoutMs: number
  /** hasAuth: connect() waits for the server to accept the credentials given to it. */
  private readonly hasAuth: boolean
  private readonly logger: Logger
  private readonly listeners = new Map<(state: ConnectionState) => void, () => void>()

  /**
   * constructor checks the options (BadArgumentsError) but does not connect; use
   * `connect()`. `internals` is for the SDK's own tests only (a hand-driven clock).
   */
  constructor(options: ConnectOptions, internals: ClientInternals = {}) {
    const settings = clientSettings(options, internals)
    this.chroot = new Chroot(settings.chroot)
    this.requestTimeoutMs = settings.requestTimeoutMs
    this.connectTimeoutMs = settings.connectTimeoutMs
    this.hasAuth = settings.auth.length > 0
    this.logger = settings.logger
    this.engine = new SessionEngine(
      { ...settings, userPath: (path) => this.userPath(path) },
      this.watches,
    )
  }

  /** state is the connection state. */
  get state(): ConnectionState {
    return this.engine.state
  }
  /** sessionId is the current session's id (0n when there is none: before the first connect, or after a loss). */
  get sessionId(): SessionId {
    return this.engine.sessionId
  }
  /** sessionTimeoutMs is the timeout the server granted. */
  get sessionTimeoutMs(): number {
    return this.engine.negotiatedTimeoutMs
  }
  /** lastZxid is the highest zxid this client has seen in a reply, event or pong. */
  get lastZxid(): bigint {
    return this.engine.lastZxid
  }
  /** serverId is the id of the server of the current (or last) connection. */
  get serverId(): number {
    return this.engine.serverId
  }
  /** serverUrl is the URL of the server of the current (or last) connection, as in `servers` ('' before the first). */
  get serverUrl(): string {
    return this.engine.serverUrl
  }

  /** on subscribes to state changes ('connected', 'suspended', 'lost', 'closed'). */
  on(event: 'state', listener: (state: ConnectionState) => void): this {
    if (event === 'state' && !this.listeners.has(listener))
      this.listeners.set(listener, this.engine.onState(listener))
    return this
  }

  /** off unsubscribes a state listener. */
  off(event: 'state', listener: (state: ConnectionState) => void): this {
    if (event !== 'state') return this
    this.listeners.get(listener)?.()
    this.listeners.delete(listener)
    return this
  }

  /** states is an async iterable of state changes from now on, ending after 'closed'. */
  states(): AsyncIterableIterator<ConnectionState> {
    const queue: ConnectionState[] = this.engine.state === 'closed' ? ['closed'] : []
    let wake: (() => void) | undefined
    let ended = false
    const off = this.engine.onState((state) => {
      queue.push(state)
      wake?.()
    })
    const finish = (): IteratorResult<ConnectionState> => {
      ended = true
      off()
      return { value: undefined, done: true }
    }
    return {
      next: async () => {
        for (;;) {
          if (ended) return { value: undefined, done: true }
          const state = queue.shift()
          if (state === 'closed') off()
          if (state !== undefined) {
            if (state === 'closed') ended = true
            return { value: state, done: false }
          }
          await new Promise<void>((resolve) => (wake = resolve))
        }
      },
      return: async () => finish(),
      [Symbol.asyncIterator]() {
        return this
      },
    }
  }

  /**
   * start begins connecting and resolves once connected and, with `auth` credentials,
   * once the server accepted them (AuthFailedError otherwise); `connect()` calls it. On
   * failure the client is closed.
   */
  async start(options: { connectTimeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    await this.connectOnce(options)
    if (!this.hasAuth) return
    // The credentials go first on the connection, so a read behind them is answered after
    // them: if they were refused, the client has closed with the reason by then.
    await this.call({ op: 'exists', path: '/', watch: false }, {}).catch((err: unknown) => {
      throw this.engine.failure ?? err
    })
  }

  private async connectOnce(
    options: { connectTimeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    const timeoutMs =
      positiveMs('connectTimeoutMs', options.connectTimeoutMs) ?? this.connectTimeoutMs
    const signal = options.signal
    if (signal?.aborted === true) {
      await this.close()
      throw new AbortedError('connect aborted')
    }
    this.engine.start()
    if (this.engine.state === 'connected') return
    await new Promise<void>((resolve, reject) => {
      const fail = (error: ConclaveError) => {
        cleanup()
        this.close().then(() => reject(error), reject)
      }
      const clock = this.engine.clock
      const timer = clock.setTimeout(
        () =>
          fail(new OperationTimeoutError(`no server accepted a session within ${timeoutMs} ms`)),
        timeoutMs,
      )
      const onAbort = () => fail(new AbortedError('connect aborted'))
      signal?.addEventListener('abort', onAbort, { once: true })
      const off = this.engine.onState((state) => {
        if (state === 'connected') {
          cleanup()
          resolve()
        } else if (state === 'closed') {
          cleanup()
          reject(
            this.engine.failure ??
              new ClientClosedError('the client was closed before it connected'),
          )
        }
      })
      const cleanup = () => {
        clock.clearTimeout(timer)
        off()
        signal?.removeEventListener('abort', onAbort)
      }
    })
  }

  // ---------------------------------------------------------------- operations

  /** create creates a node and resolves to its path (with the sequence suffix for sequential modes). */
  async create(path: string, data: Data = '', options: CreateOptions = {}): Promise<string> {
    const mode = options.mode ?? 'persistent'
    const request: CreateRequest = {
      op: 'create',
      path: this.serverPath(path, isSequentialMode(mode)),
      data: toBytes(data),
      mode,
      ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
      ...(options.acl === undefined ? {} : { acl: options.acl }),
      ...(options.makeParents === undefined ? {} : { makeParents: options.makeParents }),
    }
    const result = await this.call(request, options)
    return this.userPath(result.path)
  }

  /** get reads data and Stat; `watch` leaves a one-shot data watch; `linearizable` has the server confirm it is current first. */
  async get(
    path: string,
    options: CallOptions & { watch?: Watcher; linearizable?: boolean } = {},
  ): Promise<{ data: Uint8Array; stat: Stat }> {
    const serverPath = this.serverPath(path)
    const request: GetRequest = {
      op: 'get',
      path: serverPath,
      watch: options.watch !== undefined,
      ...(options.linearizable === true ? { linearizable: true } : {}),
    }
    const result = await this.call(request, options, () =>
      this.registerOneShot('data', serverPath, options.watch),
    )
    return { data: result.data, stat: result.stat }
  }

  /** exists returns the Stat or null; `watch` fires once on create, delete or data change. */
  async exists(
    path: string,
    options: CallOptions & { watch?: Watcher } = {},
  ): Promise<Stat | null> {
    const serverPath = this.serverPath(path)
    const result = await this.call(
      { op: 'exists', path: serverPath, watch: options.watch !== undefined },
      options,
      (reply) => {
        this.registerOneShot(reply.stat === null ? 'exist' : 'data', serverPath, options.watch)
      },
    )
    return result.stat ?? null
  }

  /** set replaces data when the version matches (-1 or absent: any) and resolves to the new Stat. */
  async set(
    path: string,
    data: Data,
    options: CallOptions & { version?: number } = {},
  ): Promise<Stat> {
    const request: SetRequest = {
      op: 'set',
      path: this.serverPath(path),
      data: toBytes(data),
      version: options.version ?? -1,
    }
    return (await this.call(request, options)).stat
  }

  /** delete removes a childless node when the version matches (-1 or absent: any). */
  async delete(path: string, options: CallOptions & { version?: number } = {}): Promise<void> {
    await this.call(
      { op: 'delete', path: this.serverPath(path), version: options.version ?? -1 },
      options,
    )
  }

  /** children lists child names, sorted; `watch` fires once on a child create or delete, or the node's delete. */
  async children(path: string, options: CallOptions & { watch?: Watcher } = {}): Promise<string[]> {
    return (await this.listChildren(path, options, false)).children
  }

  /** childrenWithStat lists child names, sorted, with the parent's Stat. */
  async childrenWithStat(
    path: string,
    options: CallOptions & { watch?: Watcher } = {},
  ): Promise<{ children: string[]; stat: Stat }> {
    const result = await this.listChildren(path, options, true)
    return { children: result.children, stat: result.stat! }
  }

  /** multi applies every op or none under one zxid; on failure it rejects with the failing op's error carrying `results`. */
  async multi(ops: MultiOp[], options: CallOptions = {}): Promise<MultiResult[]> {
    if (!Array.isArray(ops)) throw new BadArgumentsError('multi takes an array of ops')
    const mapped = ops.map((o) => ({
      ...o,
      path: this.serverPath(o.path, o.op === 'create' && isSequentialMode(o.mode)),
    }))
    const result = await this.call({ op: 'multi', ops: mapped }, options)
    return result.results.map((r) =>
      r.path === undefined ? r : { ...r, path: this.userPath(r.path) },
    )
  }

  /** sync resolves once the connected server has applied everything committed before it. */
  async sync(path = '/', options: CallOptions = {}): Promise<void> {
    await this.call({ op: 'sync', path: this.serverPath(path) }, options)
  }

  /** getEphemerals lists this session's ephemeral nodes whose paths start with `prefix`. */
  async getEphemerals(prefix = '/', options: CallOptions = {}): Promise<string[]> {
    const result = await this.call(
      { op: 'getEphemerals', prefix: this.serverPath(prefix) },
      options,
    )
    // With a chroot, the server prefix '/app' also matches '/apple/...'; fromServer drops those.
    return result.paths.map((p) => this.chroot.fromServer(p)).filter((p): p is string => p !== null)
  }

  /** childCount counts all descendants of a node. */
  async childCount(path: string, options: CallOptions = {}): Promise<number> {
    return (await this.call({ op: 'childCount', path: this.serverPath(path) }, options)).count
  }

  /**
   * setAcl replaces a node's ACL when `version` (default -1: any) is its ACL version
   * (`stat.aversion`), else BadVersionError; needs ADMIN on the node (NoAuthError).
   * `auth` entries stand for this session's authenticated identities.
   */
  async setAcl(
    path: string,
    acl: readonly Acl[],
    options: CallOptions & { version?: number } = {},
  ): Promise<Stat> {
    const request = {
      op: 'setAcl' as const,
      path: this.serverPath(path),
      acl: acl.map((entry) => ({ ...entry })),
      version: options.version ?? -1,
    }
    return (await this.call(request, options)).stat
  }

  /**
   * addAuth adds an identity to this session's connections: scheme `digest` with
   * `user:password`. It is sent again, first, after every reconnect. A wrong password
   * is not an error (it yields an identity no ACL names); malformed credentials or a
   * scheme that cannot be added reject with AuthFailedError and close the client, as
   * ZooKeeper does.
   */
  async addAuth(scheme: string, credentials: string, options: CallOptions = {}): Promise<void> {
    await this.call({ op: 'auth', scheme, credentials }, options)
  }

  /** getAcl returns a node's ACL and Stat. */
  async getAcl(path: string, options: CallOptions = {}): Promise<{ acl: Acl[]; stat: Stat }> {
    const result = await this.call({ op: 'getAcl', path: this.serverPath(path) }, options)
    return { acl: result.acl, stat: result.stat }
  }

  /**
   * watch streams the changes of a node (`recursive`: of its whole subtree, without
   * childrenChanged) until the loop ends or `signal` aborts. The server watch is asked
   * for when `watch()` is called, ahead of any later call of this client, so "watch,
   * read, then loop" misses no change made after the read; events queue until the loop
   * pulls them. With `fromZxid` — the zxid of an event this or an earlier session or
   * process saw — the stream starts after that txn instead: the member replays every
   * change since, so a reader can persist its position and resume. Across reconnects and
   * failovers the stream resumes from the last change it delivered, each change exactly
   * once, in zxid order; when a member can no longer replay from there it yields a
   * `compacted` event and goes on. A second loop over the same iterable opens a new
   * watch. The iterator throws SessionExpiredError if the session is lost, and ends
   * normally when the client closes.
   */
  watch(
    path: string,
    options: { recursive?: boolean; fromZxid?: bigint; signal?: AbortSignal } = {},
  ): AsyncIterable<WatchEvent> {
    const serverPath = this.serverPath(path)
    const recursive = options.recursive === true
    const mode = recursive ? 'persistentRecursive' : 'persistent'
    const fromZxid = options.fromZxid
    if (fromZxid !== undefined && (typeof fromZxid !== 'bigint' || fromZxid < 0n))
      throw new BadArgumentsError(`fromZxid must be a non-negative bigint, got ${String(fromZxid)}`)
    const hooks: WatchStreamHooks = {
      register: (sink) => {
        // Without fromZxid the stream starts now: past every event the client has had.
        const from = wholeTxn(fromZxid ?? this.engine.lastZxid)
        // One server watch serves every stream of a path; a stream that starts further
        // back than the others asks for its own replay (the others skip what they have).
        const first = this.watches.addSink(
          serverPath,
          recursive,
          sink,
          from,
          fromZxid === undefined ? this.engine.liveConnection : undefined,
        )
        if (first || fromZxid !== undefined)
          this.engine.registerStream({ path: serverPath, recursive, from }, fromZxid !== undefined)
      },
      unregister: async (sink) => {
        if (!this.watches.removeSink(serverPath, recursive, sink) || this.engine.closed) return
        // Best effort: if this fails the server keeps a watch whose events the registry ignores.
        await this.call({ op: 'removeWatches', path: serverPath, kind: mode }, {}).catch(() => {})
      },
      toEvent: (event) => this.toWatchEvent(event),
    }
    // Registered now, not when a loop starts: a read made between watch() and the loop is
    // then ordered after the registration on the wire, and no change falls in between.
    let first: AsyncIterator<WatchEvent> | undefined = openWatchStream(hooks, options.signal)
    return {
      [Symbol.asyncIterator]: () => {
        const stream = first ?? openWatchStream(hooks, options.signal)
        first = undefined
        return stream
      },
    }
  }

  /** close ends the session (its ephemerals go at once) and the connection; pending calls reject with ClientClosedError. Idempotent. */
  async close(): Promise<void> {
    await this.engine.close()
    // Listeners heard 'closed'; nothing follows it.
    for (const off of this.listeners.values()) off()
    this.listeners.clear()
  }

  /** Symbol.asyncDispose closes the client, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  // ---------------------------------------------------------------- plumbing

  private listChildren(
    path: string,
    options: CallOptions & { watch?: Watcher },
    withStat: boolean,
  ): Promise<ResultOf<'children'>> {
    const serverPath = this.serverPath(path)
    const request: ChildrenRequest = {
      op: 'children',
      path: serverPath,
      watch: options.watch !== undefined,
      ...(withStat ? { withStat: true } : {}),
    }
    return this.call(request, options, () =>
      this.registerOneShot('child', serverPath, options.watch),
    )
  }

  /** serverPath validates a user path (BadArgumentsError) and maps it into the chroot. */
  private serverPath(path: string, sequential = false): string {
    const problem = pathProblem(path, sequential)
    if (problem !== null)
      throw new BadArgumentsError(`invalid path ${JSON.stringify(path)}: ${problem}`, {
        path: String(path),
      })
    return this.chroot.toServer(path)
  }

  private userPath(serverPath: string): string {
    return this.chroot.fromServer(serverPath) ?? serverPath
  }

  private toWatchEvent(event: EventMessage | CompactedNotice): WatchEvent | null {
    const path = this.chroot.fromServer(event.path)
    if (path === null) return null
    return event.type === 'compacted'
      ? { type: 'compacted', path, zxid: event.zxid, oldestZxid: event.oldestZxid }
      : { type: event.event, path, zxid: event.zxid }
  }

  private registerOneShot(
    kind: OneShotKind,
    serverPath: string,
    watcher: Watcher | undefined,
  ): void {
    if (watcher === undefined) return
    this.watches.addOneShot(kind, serverPath, (event) => {
      const mapped =
        event === null
          ? { type: 'sessionLost' as const, path: this.userPath(serverPath), zxid: this.lastZxid }
          : this.toWatchEvent(event)
      if (mapped === null) return
      try {
        watcher(mapped)
      } catch (err) {
        this.logger.error('watch callback threw', err)
      }
    })
  }

  /** call runs one request with the call's deadline and signal; its result is typed by the request's op. */
  private call<R extends Request>(
    request: R,
    options: CallOptions,
    onSuccess?: (result: ResultOf<R['op']>) => void,
  ): Promise<ResultOf<R['op']>> {
    const timeoutMs = positiveMs('timeoutMs', options.timeoutMs) ?? this.requestTimeoutMs
    return runCall(this.engine, request, timeoutMs, options.signal, onSuccess)
  }
}

/** connect opens a session with one of `options.servers` and resolves once connected. */
export async function connect(options: ConnectOptions): Promise<Client> {
  const client = new Client(options)
  await client.start(options.signal === undefined ? {} : { signal: options.signal })
  return client
}
