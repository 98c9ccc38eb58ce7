/**
 * The client's own watch registry, ZooKeeper style: the server sends one event per
 * change per connection and the client routes it to every matching registration.
 * Paths here are server paths (chroot included).
 */
import {
  isAncestorOrSelf,
  parentOf,
  ROOT_PATH,
  SET_WATCHES_PATHS_MAX,
  type EventMessage,
  type SetWatchesRequest,
} from '../protocol/index.js'

/** SET_WATCHES_CHARS_MAX bounds the path characters of one setWatches request: at 3 UTF-8 bytes each, well inside a frame. */
const SET_WATCHES_CHARS_MAX = 256 * 1024

/** The path lists of a setWatches request, in the order they are filled. */
const WATCH_LIST_KEYS = ['data', 'exist', 'child', 'persistent', 'persistentRecursive'] as const
type WatchListKey = (typeof WATCH_LIST_KEYS)[number]

/** OneShotKind is a ZooKeeper one-shot watch: data (get/exists on a node), exist (exists on no node), child. */
export type OneShotKind = 'data' | 'exist' | 'child'

/** WatchSink receives the events of a persistent or recursive watch. */
export interface WatchSink {
  push(event: EventMessage): void
  /** fail ends the stream with an error (session lost), or normally with null (client closed). */
  fail(error: Error | null): void
}

/**
 * Callback is a one-shot registration: called once with the event that fired it, or with
 * null if the session was lost first (the server dropped the watch with the session).
 */
type Callback = (event: EventMessage | null) => void

/** ClientWatchRegistry holds one-shot callbacks and persistent sinks by path. */
export class ClientWatchRegistry {
  private readonly oneShot: Record<OneShotKind, Map<string, Set<Callback>>> = {
    data: new Map(),
    exist: new Map(),
    child: new Map(),
  }
  private readonly persistent = new Map<string, Set<WatchSink>>()
  private readonly recursive = new Map<string, Set<WatchSink>>()

  /** addOneShot registers a callback; it fires once on the next matching event. */
  addOneShot(kind: OneShotKind, path: string, callback: Callback): void {
    add(this.oneShot[kind], path, callback)
  }

  /** addSink registers a persistent (or recursive) sink; true if it is the first for that path. */
  addSink(path: string, recursive: boolean, sink: WatchSink): boolean {
    return add(recursive ? this.recursive : this.persistent, path, sink)
  }

  /** removeSink unregisters a sink; true if it was the last for that path (the server watch can go). */
  removeSink(path: string, recursive: boolean, sink: WatchSink): boolean {
    const map = recursive ? this.recursive : this.persistent
    const set = map.get(path)
    if (set === undefined || !set.delete(sink)) return false
    if (set.size > 0) return false
    map.delete(path)
    return true
  }

  /** deliver routes one server event to every matching registration. */
  deliver(event: EventMessage): void {
    const fire = (kind: OneShotKind) => {
      const callbacks = this.oneShot[kind].get(event.path)
      if (callbacks === undefined) return
      this.oneShot[kind].delete(event.path)
      for (const callback of callbacks) callback(event)
    }
    if (event.event === 'childrenChanged') fire('child')
    else {
      fire('data')
      fire('exist')
      if (event.event === 'deleted') fire('child')
    }
    for (const sink of this.persistent.get(event.path) ?? []) sink.push(event)
    if (event.event !== 'childrenChanged') {
      for (let path = event.path; ; path = parentOf(path)) {
        for (const sink of this.recursive.get(path) ?? [])
          if (isAncestorOrSelf(path, event.path)) sink.push(event)
        if (path === ROOT_PATH) break
      }
    }
  }

  /**
   * setWatchesRequests lists every registered path for re-registration after a
   * reconnect, split into requests of at most SET_WATCHES_PATHS_MAX paths and
   * SET_WATCHES_CHARS_MAX characters of paths (a server refuses larger ones, and each
   * must fit a frame), as ZooKeeper's client splits its SetWatches. Empty when none.
   */
  setWatchesRequests(relativeZxid: bigint): SetWatchesRequest[] {
    const lists: Record<WatchListKey, string[]> = {
      data: [...this.oneShot.data.keys()],
      exist: [...this.oneShot.exist.keys()],
      child: [...this.oneShot.child.keys()],
      persistent: [...this.persistent.keys()],
      persistentRecursive: [...this.recursive.keys()],
    }
    const requests: SetWatchesRequest[] = []
    let current: SetWatchesRequest | undefined
    let paths = 0
    let chars = 0
    for (const key of WATCH_LIST_KEYS) {
      for (const path of lists[key]) {
        if (
          current === undefined ||
          paths + 1 > SET_WATCHES_PATHS_MAX ||
          chars + path.length > SET_WATCHES_CHARS_MAX
        ) {
          current = {
            op: 'setWatches',
            relativeZxid,
            data: [],
            exist: [],
            child: [],
            persistent: [],
            persistentRecursive: [],
          }
          requests.push(current)
          paths = 0
          chars = 0
        }
        current[key].push(path)
        paths += 1
        chars += path.length
      }
    }
    return requests
  }

  /**
   * dropAll forgets every registration and ends every sink: with `error` (session lost)
   * or normally (null: closed). On a lost session every one-shot callback is called once
   * with null, so nothing waits for a watch that can no longer fire (ZooKeeper's
   * watchers get Expired); on close they are dropped, as the caller ended them.
   */
  dropAll(error: Error | null): void {
    const callbacks = Object.values(this.oneShot).flatMap((map) =>
      [...map.values()].flatMap((set) => [...set]),
    )
    for (const map of Object.values(this.oneShot)) map.clear()
    const sinks = [...this.persistent.values(), ...this.recursive.values()].flatMap((s) => [...s])
    this.persistent.clear()
    this.recursive.clear()
    for (const sink of sinks) sink.fail(error)
    if (error !== null) for (const callback of callbacks) callback(null)
  }
}

function add<T>(map: Map<string, Set<T>>, path: string, item: T): boolean {
  let set = map.get(path)
  const first = set === undefined
  if (set === undefined) map.set(path, (set = new Set()))
  set.add(item)
  return first
}
