/**
 * Client: the public face of the SDK. Every call validates its arguments, maps paths
 * through the chroot, goes through the SessionEngine in order, and honours its
 * AbortSignal and timeout.
 */
import {
  pathProblem,
  type Acl,
  type EventMessage,
  type MultiOp,
  type MultiResult,
  type NodeMode,
  type Request,
  type SessionId,
  type Stat,
  type WatchEventType,
} from '../protocol/index.js'
import { AbortedError, BadArgumentsError, ClientClosedError, OperationTimeoutError, type ConclaveError } from './errors.js'
import { Chroot, toBytes, type Data } from './data.js'
import { SessionEngine, type ConnectionState, type Logger } from './session.js'
import { ClientWatchRegistry, type WatchSink } from './watch-registry.js'

/** WatchEvent is a change notification: what happened, to which node (chroot stripped), at which zxid. */
export interface WatchEvent {
  type: WatchEventType
  path: string
  zxid: bigint
}

/** ConnectOptions configure a client. */
export interface ConnectOptions {
  /** servers are WebSocket URLs of ensemble members, tried in random order. */
  servers: string[]
  /** sessionTimeoutMs is the session timeout asked for (the server clamps it). Default 10 s. */
  sessionTimeoutMs?: number
  /** chroot makes every path relative to this node. */
  chroot?: string
  /** connectTimeoutMs bounds `connect()`. Default: the session timeout. */
  connectTimeoutMs?: number
  /** requestTimeoutMs is each call's default deadline. Default: the session timeout. */
  requestTimeoutMs?: number
  signal?: AbortSignal
  logger?: Logger
}

/** CallOptions are accepted by every call. */
export interface CallOptions {
  signal?: AbortSignal
  timeoutMs?: number
}

type Watcher = (event: WatchEvent) => void

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} }

/** Client is a connected session; create one with `connect()`. */
export class Client {
  private readonly engine: SessionEngine
  private readonly watches = new ClientWatchRegistry()
  private readonly chroot: Chroot
  private readonly requestTimeoutMs: number

  /** Use `connect()`; the constructor does not connect. */
  constructor(options: ConnectOptions) {
    if (options.servers.length === 0) throw new BadArgumentsError('servers must name at least one server')
    const chroot = options.chroot ?? ''
    if (chroot !== '' && pathProblem(chroot) !== null) throw new BadArgumentsError(`invalid chroot ${chroot}: ${pathProblem(chroot)}`)
    this.chroot = new Chroot(chroot === '/' ? '' : chroot)
    const sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000
    this.requestTimeoutMs = options.requestTimeoutMs ?? sessionTimeoutMs
    this.engine = new SessionEngine(
      {
        servers: options.servers,
        sessionTimeoutMs,
        connectAttemptMs: Math.min(options.connectTimeoutMs ?? sessionTimeoutMs, 5000),
        backoffCapMs: 1000,
        logger: options.logger ?? SILENT,
      },
      this.watches,
    )
  }

  /** state is the connection state. */
  get state(): ConnectionState {
    return this.engine.state
  }
  /** sessionId is the current session's id (0n before the first connect). */
  get sessionId(): SessionId {
    return this.engine.sessionId
  }
  /** sessionTimeoutMs is the timeout the server granted. */
  get sessionTimeoutMs(): number {
    return this.engine.negotiatedTimeoutMs
  }
  /** lastZxid is the highest zxid this client has seen. */
  get lastZxid(): bigint {
    return this.engine.lastZxid
  }
  /** serverId is the id of the server this client is connected to. */
  get serverId(): number {
    return this.engine.serverId
  }

  /** on subscribes to state changes. */
  on(event: 'state', listener: (state: ConnectionState) => void): this {
    this.listeners.set(listener, this.engine.onState(listener))
    return this
  }
  /** off unsubscribes a state listener. */
  off(event: 'state', listener: (state: ConnectionState) => void): this {
    this.listeners.get(listener)?.()
    this.listeners.delete(listener)
    return this
  }
  private readonly listeners = new Map<(state: ConnectionState) => void, () => void>()

  /** states is an async iterable of state changes, ending when the client closes. */
  async *states(): AsyncGenerator<ConnectionState> {
    const queue: ConnectionState[] = []
    let wake: (() => void) | undefined
    const off = this.engine.onState((state) => {
      queue.push(state)
      wake?.()
    })
    try {
      for (;;) {
        while (queue.length > 0) {
          const state = queue.shift()!
          yield state
          if (state === 'closed') return
        }
        await new Promise<void>((resolve) => (wake = resolve))
      }
    } finally {
      off()
    }
  }

  /** start begins connecting; `connect()` calls it and waits. */
  async start(options: { connectTimeoutMs: number; signal?: AbortSignal }): Promise<void> {
    this.engine.start()
    if (this.engine.state === 'connected') return
    await new Promise<void>((resolve, reject) => {
      const fail = (error: ConclaveError) => {
        cleanup()
        void this.close()
        reject(error)
      }
      const timer = setTimeout(() => fail(new OperationTimeoutError(`no server answered within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs)
      const onAbort = () => fail(new AbortedError('connect aborted'))
      options.signal?.addEventListener('abort', onAbort, { once: true })
      const off = this.engine.onState((state) => {
        if (state === 'connected') {
          cleanup()
          resolve()
        }
      })
      const cleanup = () => {
        clearTimeout(timer)
        off()
        options.signal?.removeEventListener('abort', onAbort)
      }
      if (options.signal?.aborted === true) onAbort()
    })
  }

  // ---------------------------------------------------------------- operations

  /** create creates a node and resolves to its path (with the sequence suffix for sequential modes). */
  async create(
    path: string,
    data: Data = '',
    options: CallOptions & { mode?: NodeMode; ttlMs?: number; makeParents?: boolean; acl?: Acl[] } = {},
  ): Promise<string> {
    const mode = options.mode ?? 'persistent'
    const sequential = mode === 'persistent-sequential' || mode === 'ephemeral-sequential'
    const request: Request = {
      op: 'create',
      path: this.serverPath(path, sequential),
      data: toBytes(data),
      mode,
      ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
      ...(options.acl === undefined ? {} : { acl: options.acl }),
      ...(options.makeParents === undefined ? {} : { makeParents: options.makeParents }),
    }
    const result = (await this.call(request, options)) as { path: string }
    return this.userPath(result.path)
  }

  /** get reads data and Stat; `watch` leaves a one-shot data watch; `linearizable` confirms with a quorum first. */
  async get(path: string, options: CallOptions & { watch?: Watcher; linearizable?: boolean } = {}): Promise<{ data: Uint8Array; stat: Stat }> {
    const serverPath = this.serverPath(path)
    const request: Request = { op: 'get', path: serverPath, watch: options.watch !== undefined, ...(options.linearizable === true ? { linearizable: true } : {}) }
    const result = (await this.call(request, options, () => this.registerOneShot('data', serverPath, options.watch))) as { data: Uint8Array; stat: Stat }
    return { data: result.data, stat: result.stat }
  }

  /** exists returns the Stat or null; `watch` fires on create, delete or data change. */
  async exists(path: string, options: CallOptions & { watch?: Watcher } = {}): Promise<Stat | null> {
    const serverPath = this.serverPath(path)
    let found: Stat | null = null
    await this.call({ op: 'exists', path: serverPath, watch: options.watch !== undefined }, options, (result) => {
      found = (result as { stat: Stat | null }).stat ?? null
      this.registerOneShot(found === null ? 'exist' : 'data', serverPath, options.watch)
    })
    return found
  }

  /** set replaces data when the version matches (-1 or absent: any) and resolves to the new Stat. */
  async set(path: string, data: Data, options: CallOptions & { version?: number } = {}): Promise<Stat> {
    const result = (await this.call({ op: 'set', path: this.serverPath(path), data: toBytes(data), version: options.version ?? -1 }, options)) as { stat: Stat }
    return result.stat
  }

  /** delete removes a childless node when the version matches (-1 or absent: any). */
  async delete(path: string, options: CallOptions & { version?: number } = {}): Promise<void> {
    await this.call({ op: 'delete', path: this.serverPath(path), version: options.version ?? -1 }, options)
  }

  /** children lists child names, sorted; `watch` fires on a child create or delete, or the node's delete. */
  async children(path: string, options: CallOptions & { watch?: Watcher } = {}): Promise<string[]> {
    return (await this.childrenWithStat(path, options, false)).children
  }

  /** childrenWithStat lists child names with the parent's Stat. */
  async childrenWithStat(path: string, options: CallOptions & { watch?: Watcher } = {}, withStat = true): Promise<{ children: string[]; stat: Stat }> {
    const serverPath = this.serverPath(path)
    const request: Request = { op: 'children', path: serverPath, watch: options.watch !== undefined, ...(withStat ? { withStat: true } : {}) }
    return (await this.call(request, options, () => this.registerOneShot('child', serverPath, options.watch))) as { children: string[]; stat: Stat }
  }

  /** multi applies every op or none under one zxid; on failure it rejects with the failing op's error carrying `results`. */
  async multi(ops: MultiOp[], options: CallOptions = {}): Promise<MultiResult[]> {
    const mapped = ops.map((o) => ({ ...o, path: this.serverPath(o.path, o.op === 'create' && (o.mode === 'persistent-sequential' || o.mode === 'ephemeral-sequential')) }))
    const result = (await this.call({ op: 'multi', ops: mapped }, options)) as { results: MultiResult[] }
    return result.results.map((r) => (r.path === undefined ? r : { ...r, path: this.userPath(r.path) }))
  }

  /** sync resolves once the connected server has applied everything committed before it. */
  async sync(path = '/', options: CallOptions = {}): Promise<void> {
    await this.call({ op: 'sync', path: this.serverPath(path) }, options)
  }

  /** getEphemerals lists this session's ephemeral nodes under `prefix`. */
  async getEphemerals(prefix = '/', options: CallOptions = {}): Promise<string[]> {
    const serverPrefix = prefix === '/' ? this.chroot.toServer('/') : this.chroot.toServer(prefix)
    const result = (await this.call({ op: 'getEphemerals', prefix: serverPrefix }, options)) as { paths: string[] }
    return result.paths.map((p) => this.chroot.fromServer(p)).filter((p): p is string => p !== null)
  }

  /** childCount counts all descendants of a node. */
  async childCount(path: string, options: CallOptions = {}): Promise<number> {
    return ((await this.call({ op: 'childCount', path: this.serverPath(path) }, options)) as { count: number }).count
  }

  /** getAcl returns a node's ACL and Stat. */
  async getAcl(path: string, options: CallOptions = {}): Promise<{ acl: Acl[]; stat: Stat }> {
    return (await this.call({ op: 'getAcl', path: this.serverPath(path) }, options)) as { acl: Acl[]; stat: Stat }
  }

  /**
   * watch streams the changes of a node (`recursive`: of its whole subtree) until the
   * loop ends or `signal` aborts. It throws SessionExpiredError if the session is lost.
   */
  watch(path: string, options: { recursive?: boolean; signal?: AbortSignal } = {}): AsyncIterable<WatchEvent> {
    const serverPath = this.serverPath(path)
    const recursive = options.recursive === true
    return { [Symbol.asyncIterator]: () => this.watchIterator(serverPath, recursive, options.signal) }
  }

  private watchIterator(serverPath: string, recursive: boolean, signal: AbortSignal | undefined): AsyncIterator<WatchEvent> {
    const queue: WatchEvent[] = []
    let failure: Error | undefined
    let done = false
    let wake: (() => void) | undefined
    const sink: WatchSink = {
      push: (event) => {
        const mapped = this.toWatchEvent(event)
        if (mapped === null) return
        queue.push(mapped)
        wake?.()
      },
      fail: (error) => {
        if (error === null) done = true
        else failure = error
        wake?.()
      },
    }
    const stop = async () => {
      if (done) return
      done = true
      wake?.()
      signal?.removeEventListener('abort', onAbort)
      if (this.watches.removeSink(serverPath, recursive, sink) && this.engine.state === 'connected') {
        const kind = recursive ? 'persistentRecursive' : 'persistent'
        await this.call({ op: 'removeWatches', path: serverPath, kind }, {}).catch(() => {})
      }
    }
    const onAbort = () => void stop()
    signal?.addEventListener('abort', onAbort, { once: true })
    const registered = (async () => {
      if (this.watches.addSink(serverPath, recursive, sink)) {
        await this.call({ op: 'addWatch', path: serverPath, mode: recursive ? 'persistentRecursive' : 'persistent' }, {})
      }
    })()
    registered.catch((error: Error) => sink.fail(error))
    if (signal?.aborted === true) onAbort()
    return {
      next: async (): Promise<IteratorResult<WatchEvent>> => {
        for (;;) {
          if (queue.length > 0) return { value: queue.shift()!, done: false }
          if (failure !== undefined) {
            await stop()
            throw failure
          }
          if (done) return { value: undefined, done: true }
          await new Promise<void>((resolve) => (wake = resolve))
        }
      },
      return: async (): Promise<IteratorResult<WatchEvent>> => {
        await stop()
        return { value: undefined, done: true }
      },
    }
  }

  /** close ends the session (its ephemerals go at once) and the connection. */
  async close(): Promise<void> {
    await this.engine.close()
  }

  /** Symbol.asyncDispose closes the client, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  // ---------------------------------------------------------------- plumbing

  private serverPath(path: string, sequential = false): string {
    const problem = pathProblem(path, sequential)
    if (problem !== null) throw new BadArgumentsError(`invalid path ${JSON.stringify(path)}: ${problem}`, { path })
    return this.chroot.toServer(path)
  }

  private userPath(serverPath: string): string {
    return this.chroot.fromServer(serverPath) ?? serverPath
  }

  private toWatchEvent(event: EventMessage): WatchEvent | null {
    const path = this.chroot.fromServer(event.path)
    return path === null ? null : { type: event.event, path, zxid: event.zxid }
  }

  private registerOneShot(kind: 'data' | 'exist' | 'child', serverPath: string, watcher: Watcher | undefined): void {
    if (watcher === undefined) return
    this.watches.addOneShot(kind, serverPath, (event) => {
      const mapped = this.toWatchEvent(event)
      if (mapped !== null) watcher(mapped)
    })
  }

  /**
   * call sends one request and resolves to its result. `onSuccess` runs synchronously
   * when the reply arrives, before any later event is routed, so a watch registered
   * there cannot miss an event that follows the reply.
   */
  private call(request: Request, options: CallOptions, onSuccess?: (result: unknown) => void): Promise<unknown> {
    if (this.engine.closed) return Promise.reject(new ClientClosedError('the client is closed'))
    return new Promise<unknown>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs
      const write = SessionEngine.isWrite(request)
      const settle = () => {
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', onAbort)
      }
      const call = this.engine.issue(
        request,
        (result) => {
          settle()
          onSuccess?.(result)
          resolve(result)
        },
        (error) => {
          settle()
          reject(error)
        },
      )
      const giveUp = (error: ConclaveError) => {
        settle()
        this.engine.abandon(call)
        reject(error)
      }
      const timer = setTimeout(
        () => giveUp(new OperationTimeoutError(`${request.op} timed out after ${timeoutMs} ms`, { definite: !(write && call.sent) })),
        timeoutMs,
      )
      const onAbort = () => giveUp(new AbortedError(`${request.op} aborted`, { definite: !(write && call.sent) }))
      options.signal?.addEventListener('abort', onAbort, { once: true })
      if (options.signal?.aborted === true) onAbort()
    })
  }
}

/** connect opens a session with one of `options.servers` and resolves once connected. */
export async function connect(options: ConnectOptions): Promise<Client> {
  const client = new Client(options)
  await client.start({
    connectTimeoutMs: options.connectTimeoutMs ?? options.sessionTimeoutMs ?? 10_000,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  })
  return client
}

