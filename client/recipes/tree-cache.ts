/**
 * A local mirror of a subtree, kept current by a recursive watch (Curator's
 * CuratorCache, kazoo's TreeCache): `get(path)` and `children(path)` answer from
 * memory, `events()` reports every change, and `zxid` says how current the view is.
 *
 * How it stays right:
 * - The watch is registered before the first read, so a change after it fires an
 *   event and a change before it is seen by the read.
 * - Events are applied one at a time, in order, each by reading the node again (the
 *   event says what changed, not to what). A node is told apart from an earlier node
 *   at the same path by its czxid, not its version, so a delete and re-create is
 *   reported as `deleted` then `created`, never as a change (CURATOR-391).
 * - After a dropped connection or a failover the watch resumes where it was: the
 *   member replays what changed meanwhile, and every change is reported one by one.
 * - After a lost session, or when the member no longer holds the history the watch
 *   needed (`compacted`), the cache re-reads the whole subtree and reports the
 *   difference, again by czxid, so a node deleted and created again meanwhile still
 *   shows as `deleted` then `created`. (What happened in between, say three changes
 *   of one node, then shows as one change: the re-read sees states, not every
 *   transaction.)
 *
 * The whole subtree is held in memory; mirror small trees (configuration, membership),
 * not large data sets.
 */
import type { Stat } from '../../protocol/index.js'
import { isAncestorOrSelf, parentOf } from '../../protocol/index.js'
import { ClientClosedError, NoNodeError, SessionExpiredError } from '../errors.js'
import type { WatchEvent } from '../watch-stream.js'
import type { RecipeClient } from './recipe-client.js'
import { follow, type Following, type GapReason } from './follow.js'
import { retrying } from './line.js'
import { checkedPath, childOf } from './names.js'
import { retry } from './retry.js'
import { raceAbort } from './waits.js'

/** CachedNode is one node of the mirror. */
export interface CachedNode {
  data: Uint8Array
  stat: Stat
}

/** TreeCacheEvent is a change of the mirror. */
export type TreeCacheEvent =
  | { type: 'created' | 'changed'; path: string; data: Uint8Array; stat: Stat; zxid: bigint }
  | { type: 'deleted'; path: string; zxid: bigint }
  /**
   * resynced follows a re-read of the whole subtree after events may have been missed
   * (and the created/changed/deleted events of the difference): the view is whole
   * again. Changes made while the client was away show as states, not one by one.
   */
  | { type: 'resynced'; reason: GapReason; zxid: bigint }

/** Task is one unit of the cache's serial work. */
type Task = { kind: 'event'; event: WatchEvent } | { kind: 'resync'; reason: GapReason | 'start' }

/** Subscriber is one `events()` iterator's queue. */
interface Subscriber {
  queue: TreeCacheEvent[]
  wake: () => void
}

/** TreeCache mirrors the subtree at `root`; see the module comment and `treeCache()`. */
export class TreeCache {
  private readonly nodes = new Map<string, CachedNode>()
  /** kids maps a cached path to the paths of its cached children. */
  private readonly kids = new Map<string, Set<string>>()
  private readonly tasks: Task[] = []
  private readonly subscribers = new Set<Subscriber>()
  private following: Following | undefined
  private working = false
  private viewZxid = 0n
  private failure: Error | undefined
  private closed = false
  /** syncs are `sync()` calls waiting for the view to reach their zxid. */
  private readonly syncs: { zxid: bigint; resolve: () => void; reject: (error: Error) => void }[] =
    []
  private loaded: Promise<void> | undefined
  private firstLoadDone = false
  private resolveLoaded: () => void = () => {}
  private rejectLoaded: (error: unknown) => void = () => {}

  /** constructor checks the path (BadArgumentsError); use `treeCache()` and `start()`. */
  constructor(
    private readonly client: RecipeClient,
    /** root is the mirrored node; it need not exist. */
    readonly root: string,
  ) {
    checkedPath(root, 'tree cache root')
  }

  /**
   * start begins mirroring and resolves once the first full read is applied (calling it
   * again returns the same promise). Every node found is reported as `created`.
   */
  start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.loaded === undefined) {
      this.loaded = new Promise<void>((resolve, reject) => {
        this.resolveLoaded = resolve
        this.rejectLoaded = reject
      })
      // A failed load is also reported through events() and later start() calls; this
      // keeps it from being an unhandled rejection when nobody awaits this start().
      void this.loaded.catch(() => {})
      this.following = follow(
        this.client,
        this.root,
        { recursive: true },
        {
          event: (event) => this.enqueue({ kind: 'event', event }),
          gap: (reason) => this.enqueue({ kind: 'resync', reason }),
        },
      )
      // Not awaited: following ends only when the cache closes or fails, which this handles.
      void this.following.done.then(
        () => void this.close(),
        (error: unknown) => this.fail(error),
      )
      this.enqueue({ kind: 'resync', reason: 'start' })
    }
    return raceAbort(this.loaded, options.signal)
  }

  /** get returns the cached node at `path`, or undefined. */
  get(path: string): CachedNode | undefined {
    return this.nodes.get(path)
  }

  /** children returns the sorted names of the cached children of `path`, or undefined if it is not cached. */
  children(path: string): string[] | undefined {
    if (!this.nodes.has(path)) return undefined
    return [...(this.kids.get(path) ?? [])]
      .map((child) => child.slice(child.lastIndexOf('/') + 1))
      .sort()
  }

  /** paths lists every cached path, sorted. */
  paths(): string[] {
    return [...this.nodes.keys()].sort()
  }

  /** size is the number of cached nodes. */
  get size(): number {
    return this.nodes.size
  }

  /**
   * zxid is how current the view is: it reflects every change with a zxid up to this
   * one. It advances when the cache has caught up with everything the client has seen,
   * and stands still while the client is cut off.
   */
  get zxid(): bigint {
    return this.viewZxid
  }

  /**
   * sync resolves once the view holds every change committed before the call: the
   * client syncs with the leader, then the cache applies every event up to that point.
   * Use it after a write to read the write back from the cache.
   */
  async sync(options: { signal?: AbortSignal } = {}): Promise<void> {
    const signal = options.signal
    this.throwIfEnded()
    await retry(
      () => this.client.sync(this.root, signal === undefined ? {} : { signal }),
      retrying(signal),
    )
    this.throwIfEnded()
    const zxid = this.client.lastZxid
    const reached = new Promise<void>((resolve, reject) =>
      this.syncs.push({ zxid, resolve, reject }),
    )
    // work never rejects (failures go to fail()); `reached` is what sync waits for.
    if (!this.working) void this.work()
    await raceAbort(reached, signal)
  }

  /**
   * events reports every change from now on, in order, until `signal` aborts or the
   * cache closes; it throws if the cache fails.
   */
  async *events(
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<TreeCacheEvent, void, undefined> {
    const subscriber: Subscriber = { queue: [], wake: () => {} }
    this.subscribers.add(subscriber)
    const onAbort = () => subscriber.wake()
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      for (;;) {
        if (options.signal?.aborted === true) return
        const next = subscriber.queue.shift()
        if (next !== undefined) {
          yield next
          continue
        }
        if (this.failure !== undefined) throw this.failure
        if (this.closed) return
        await new Promise<void>((resolve) => (subscriber.wake = resolve))
      }
    } finally {
      this.subscribers.delete(subscriber)
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  /** close stops mirroring and ends every `events()` iterator; the last view stays readable. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.following?.stop()
    this.rejectLoaded(new ClientClosedError('the tree cache was closed before it loaded'))
    // A sync() still waiting would never be reached now.
    const ended = this.endedError()
    for (const waiting of this.syncs.splice(0)) waiting.reject(ended)
    for (const subscriber of this.subscribers) subscriber.wake()
    await this.following?.done.catch(() => {})
  }

  /** Symbol.asyncDispose closes the cache, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  // ---------------------------------------------------------------- the work loop

  private enqueue(task: Task): void {
    if (this.closed) return
    // One pending re-read covers any number of gaps.
    if (task.kind === 'resync' && this.tasks.some((t) => t.kind === 'resync')) return
    this.tasks.push(task)
    // work never rejects (failures go to fail()).
    if (!this.working) void this.work()
  }

  private async work(): Promise<void> {
    this.working = true
    try {
      for (;;) {
        const task = this.tasks.shift()
        if (task === undefined) {
          // Caught up? Events the client has received may still be on their way to us
          // through promise callbacks; after a macrotask they have all been queued.
          const seen = this.client.lastZxid
          await new Promise((resolve) => setTimeout(resolve, 0))
          if (this.tasks.length > 0) continue
          if (this.client.state === 'connected' && seen > this.viewZxid) this.viewZxid = seen
          // start() resolves here rather than after the first read, so `zxid` is set by then.
          if (this.firstLoadDone) this.resolveLoaded()
          this.settleSyncs()
          // A sync() made during the pause above found us working and did not start us:
          // if the client has seen more since, go round again rather than leave it waiting.
          if (this.syncs.length > 0 && this.client.lastZxid > seen) continue
          return
        }
        if (this.closed) return
        try {
          await this.run(task)
        } catch (error) {
          // A lost session: the gap reported once the next one is up brings a re-read.
          if (error instanceof SessionExpiredError) continue
          if (error instanceof ClientClosedError) return void this.close()
          throw error
        }
      }
    } catch (error) {
      this.fail(error)
    } finally {
      this.working = false
    }
  }

  /** endedError is why a closed cache answers no more: its failure, or that it was closed. */
  private endedError(): Error {
    return this.failure ?? new ClientClosedError('the tree cache was closed')
  }

  /** throwIfEnded refuses work on a closed or failed cache. */
  private throwIfEnded(): void {
    if (this.closed || this.failure !== undefined) throw this.endedError()
  }

  /** settleSyncs resolves the `sync()` calls the view has reached. */
  private settleSyncs(): void {
    for (let i = this.syncs.length - 1; i >= 0; i--) {
      const waiting = this.syncs[i]!
      if (waiting.zxid > this.viewZxid) continue
      this.syncs.splice(i, 1)
      waiting.resolve()
    }
  }

  private async run(task: Task): Promise<void> {
    if (task.kind === 'resync') {
      await this.resync()
      this.firstLoadDone = true
      if (task.reason !== 'start')
        this.emit({ type: 'resynced', reason: task.reason, zxid: this.client.lastZxid })
      return
    }
    const { event } = task
    if (!isAncestorOrSelf(this.root, event.path)) return
    switch (event.type) {
      case 'deleted': {
        // A delete older than the node we hold concerns an earlier node at that path.
        const cached = this.nodes.get(event.path)
        if (cached !== undefined && cached.stat.czxid <= event.zxid)
          this.removeSubtree(event.path, event.zxid)
        return
      }
      case 'created':
      case 'dataChanged': {
        const cached = this.nodes.get(event.path)
        // The view already holds that state (a re-read after the event got there first).
        if (
          cached !== undefined &&
          (event.type === 'created' ? cached.stat.czxid : cached.stat.mzxid) >= event.zxid
        )
          return
        await this.refresh(event.path)
        return
      }
      case 'childrenChanged':
        return // recursive watches do not send it; children come as created/deleted
      case 'sessionLost': // one-shot watchers only: a stream ends with SessionExpiredError instead
      case 'compacted': // follow() turns it into a gap, a re-read
        return
    }
  }

  /** refresh reads one node again and applies what it finds. */
  private async refresh(path: string): Promise<void> {
    try {
      const { data, stat } = await retry(() => this.client.get(path), retrying(undefined))
      this.upsert(path, { data, stat })
    } catch (error) {
      if (!(error instanceof NoNodeError)) throw error
      if (this.nodes.has(path)) this.removeSubtree(path, this.client.lastZxid)
    }
  }

  /** resync reads the whole subtree and applies the difference (deletes first, deepest first; then creates and changes, shallowest first). */
  private async resync(): Promise<void> {
    const fresh = new Map<string, CachedNode>()
    for (let level = [this.root]; level.length > 0;) {
      const read = await Promise.all(level.map((path) => this.readWithChildren(path)))
      const next: string[] = []
      for (const [i, found] of read.entries()) {
        if (found === null) continue
        const path = level[i]!
        fresh.set(path, found.node)
        for (const name of found.children) next.push(childOf(path, name))
      }
      level = next
    }
    const zxid = this.client.lastZxid
    const gone = [...this.nodes.keys()]
      .filter((path) => !fresh.has(path))
      .sort((a, b) => depth(b) - depth(a))
    for (const path of gone) if (this.nodes.has(path)) this.removeSubtree(path, zxid)
    for (const [path, node] of fresh) this.upsert(path, node)
  }

  private async readWithChildren(
    path: string,
  ): Promise<{ node: CachedNode; children: string[] } | null> {
    try {
      const [node, children] = await Promise.all([
        retry(() => this.client.get(path), retrying(undefined)),
        retry(() => this.client.children(path), retrying(undefined)),
      ])
      return { node, children }
    } catch (error) {
      if (error instanceof NoNodeError) return null
      throw error
    }
  }

  // ---------------------------------------------------------------- the mirror

  private upsert(path: string, node: CachedNode): void {
    const cached = this.nodes.get(path)
    if (cached !== undefined && cached.stat.czxid !== node.stat.czxid)
      this.removeSubtree(path, node.stat.czxid)
    const before = this.nodes.get(path)
    if (before !== undefined && node.stat.mzxid < before.stat.mzxid) return // never go back
    this.nodes.set(path, node)
    if (before === undefined) {
      if (path !== this.root) link(this.kids, parentOf(path), path)
      this.emit({ type: 'created', path, data: node.data, stat: node.stat, zxid: node.stat.mzxid })
    } else if (node.stat.mzxid !== before.stat.mzxid) {
      this.emit({ type: 'changed', path, data: node.data, stat: node.stat, zxid: node.stat.mzxid })
    }
  }

  private removeSubtree(path: string, zxid: bigint): void {
    for (const child of [...(this.kids.get(path) ?? [])]) this.removeSubtree(child, zxid)
    this.kids.delete(path)
    if (!this.nodes.delete(path)) return
    if (path !== this.root) this.kids.get(parentOf(path))?.delete(path)
    this.emit({ type: 'deleted', path, zxid })
  }

  private emit(event: TreeCacheEvent): void {
    for (const subscriber of this.subscribers) {
      subscriber.queue.push(event)
      subscriber.wake()
    }
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined || this.closed) return
    this.failure = error instanceof Error ? error : new Error(String(error))
    this.rejectLoaded(this.failure)
    void this.close()
  }
}

function link(kids: Map<string, Set<string>>, parent: string, child: string): void {
  let set = kids.get(parent)
  if (set === undefined) kids.set(parent, (set = new Set()))
  set.add(child)
}

function depth(path: string): number {
  let count = 0
  for (const c of path) if (c === '/') count++
  return count
}

/** treeCache returns a mirror of the subtree at `root`; call `start()` and read with `get`/`children`. */
export function treeCache(client: RecipeClient, root: string): TreeCache {
  return new TreeCache(client, root)
}
