/**
 * The client's own watch registry, ZooKeeper style: the server sends one event per
 * change per connection and the client routes it to every matching registration.
 * Paths here are server paths (chroot included).
 *
 * Each persistent or recursive stream keeps its position: the last change it delivered
 * (zxid, index within the txn) or a zxid every change up to which it has seen. Events at
 * or before the position are dropped, so a replay that overlaps what a stream already
 * has (another stream on the same path resuming from further back, or a txn whose events
 * were cut off mid-way by a lost connection) is delivered exactly once. After a
 * reconnect each path is re-registered from the oldest position of its streams.
 *
 * A stream takes live events only once its server watch is confirmed on the connection
 * (`ackedOn`); until then it takes only the replay of its own registration. Another watch
 * of the same connection (a recursive one on an ancestor) may bring live events for its
 * path before that, and taking them would move its position past changes its own replay
 * is about to bring.
 */
import {
  isAncestorOrSelf,
  parentOf,
  ROOT_PATH,
  SET_WATCHES_PATHS_MAX,
  type EventMessage,
  type SetWatchesRequest,
  type Zxid,
} from '../protocol/index.js'

/** SET_WATCHES_CHARS_MAX bounds the path characters of one setWatches request: at 3 UTF-8 bytes each, well inside a frame. */
const SET_WATCHES_CHARS_MAX = 256 * 1024

/** The path lists of a setWatches request, in the order they are filled. */
const WATCH_LIST_KEYS = ['data', 'exist', 'child'] as const
type WatchListKey = (typeof WATCH_LIST_KEYS)[number]

/** OneShotKind is a ZooKeeper one-shot watch: data (get/exists on a node), exist (exists on no node), child. */
export type OneShotKind = 'data' | 'exist' | 'child'

/** StreamPosition is how far a stream has got: after change `index` of txn `zxid`; index Infinity means after the whole txn. */
export interface StreamPosition {
  zxid: Zxid
  index: number
}

/** CompactedNotice tells a stream that changes after its position and up to `zxid` could not be replayed. */
export interface CompactedNotice {
  type: 'compacted'
  /** path is the watched path. */
  path: string
  /** zxid is where the stream goes on from. */
  zxid: Zxid
  /** oldestZxid is the oldest position the member could still replay from. */
  oldestZxid: Zxid
}

/** WatchSink receives the events of a persistent or recursive watch. */
export interface WatchSink {
  push(event: EventMessage | CompactedNotice): void
  /** fail ends the stream with an error (session lost), or normally with null (client closed). */
  fail(error: Error | null): void
}

/** StreamRegistration is one path to register with addWatch, from `from`. */
export interface StreamRegistration {
  path: string
  recursive: boolean
  from: StreamPosition
}

/**
 * Callback is a one-shot registration: called once with the event that fired it, or with
 * null if the session was lost first (the server dropped the watch with the session).
 */
type Callback = (event: EventMessage | null) => void

interface StreamState {
  position: StreamPosition
  /** ackedOn is the connection that confirmed this stream's server watch, while it lasts. */
  ackedOn: object | undefined
}

/** comparePositions orders positions: by zxid, then index (Infinity last). */
export function comparePositions(a: StreamPosition, b: StreamPosition): number {
  if (a.zxid !== b.zxid) return a.zxid < b.zxid ? -1 : 1
  return a.index === b.index ? 0 : a.index < b.index ? -1 : 1
}

/** wholeTxn is the position after every change of txn `zxid`. */
export function wholeTxn(zxid: Zxid): StreamPosition {
  return { zxid, index: Infinity }
}

/** ClientWatchRegistry holds one-shot callbacks and persistent sinks by path. */
export class ClientWatchRegistry {
  private readonly oneShot: Record<OneShotKind, Map<string, Set<Callback>>> = {
    data: new Map(),
    exist: new Map(),
    child: new Map(),
  }
  private readonly persistent = new Map<string, Map<WatchSink, StreamState>>()
  private readonly recursive = new Map<string, Map<WatchSink, StreamState>>()

  /** addOneShot registers a callback; it fires once on the next matching event. */
  addOneShot(kind: OneShotKind, path: string, callback: Callback): void {
    add(this.oneShot[kind], path, callback)
  }

  /**
   * addSink registers a persistent (or recursive) sink that has seen everything up to
   * `position`; true if it is the first for that path. With `joinLive`, the sink shares
   * the path's server watch if that is confirmed on the connection `joinLive` (it then
   * takes live events at once).
   */
  addSink(
    path: string,
    recursive: boolean,
    sink: WatchSink,
    position: StreamPosition,
    joinLive?: object,
  ): boolean {
    const map = recursive ? this.recursive : this.persistent
    let states = map.get(path)
    const first = states === undefined
    if (states === undefined) map.set(path, (states = new Map()))
    const live = joinLive !== undefined && [...states.values()].some((s) => s.ackedOn === joinLive)
    states.set(sink, { position, ackedOn: live ? joinLive : undefined })
    return first
  }

  /** removeSink unregisters a sink; true if it was the last for that path (the server watch can go). */
  removeSink(path: string, recursive: boolean, sink: WatchSink): boolean {
    const map = recursive ? this.recursive : this.persistent
    const states = map.get(path)
    if (states === undefined || !states.delete(sink)) return false
    if (states.size > 0) return false
    map.delete(path)
    return true
  }

  /**
   * deliver routes one live server event, received on `connection`, to every matching
   * registration: one-shot watches, and streams whose watch is confirmed on that
   * connection and that are not past it yet.
   */
  deliver(event: EventMessage, connection: object): void {
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
    // A setWatches catch-up: the streams get their own replay.
    if (event.oneShotOnly === true) return
    const offer = (states: Map<WatchSink, StreamState> | undefined) => {
      for (const [sink, state] of states ?? [])
        if (state.ackedOn === connection) offerTo(sink, state, event)
    }
    offer(this.persistent.get(event.path))
    if (event.event !== 'childrenChanged') {
      for (let path = event.path; ; path = parentOf(path)) {
        if (isAncestorOrSelf(path, event.path)) offer(this.recursive.get(path))
        if (path === ROOT_PATH) break
      }
    }
  }

  /** deliverReplay routes one replayed event to the streams `registration` was sent for (at or past its position). */
  deliverReplay(event: EventMessage, registration: StreamRegistration): void {
    const { path, recursive, from } = registration
    for (const [sink, state] of this.statesOf(path, recursive))
      if (comparePositions(state.position, from) >= 0) offerTo(sink, state, event)
  }

  /** streamRegistrations lists, per watched path, the oldest position of its streams: what to register after a reconnect. */
  streamRegistrations(): StreamRegistration[] {
    const out: StreamRegistration[] = []
    for (const [recursive, map] of [
      [false, this.persistent],
      [true, this.recursive],
    ] as const) {
      for (const [path, states] of map) {
        let from: StreamPosition | undefined
        for (const { position } of states.values())
          if (from === undefined || comparePositions(position, from) < 0) from = position
        if (from !== undefined) out.push({ path, recursive, from })
      }
    }
    return out
  }

  /**
   * acknowledge records the server's answer to an addWatch from `from`: every stream on
   * the path at or past `from` is now live on `connection` and has seen everything up to
   * `zxid` (the reply's). If the server could not replay (`compacted`), those that may
   * have missed changes are told first.
   */
  acknowledge(
    registration: StreamRegistration,
    zxid: Zxid,
    compacted: { oldestZxid: Zxid } | undefined,
    connection: object,
  ): void {
    const { path, recursive, from } = registration
    const reached = wholeTxn(zxid)
    for (const [sink, state] of this.statesOf(path, recursive)) {
      if (comparePositions(state.position, from) < 0) continue
      if (compacted !== undefined && comparePositions(state.position, reached) < 0)
        sink.push({ type: 'compacted', path, zxid, oldestZxid: compacted.oldestZxid })
      if (comparePositions(state.position, reached) < 0) state.position = reached
      state.ackedOn = connection
    }
  }

  /** refuse ends with `error` the streams an addWatch from `from` was for; it returns whether none is left on the path. */
  refuse(registration: StreamRegistration, error: Error): boolean {
    const { path, recursive, from } = registration
    const map = recursive ? this.recursive : this.persistent
    const states = map.get(path)
    if (states === undefined) return false
    for (const [sink, state] of [...states]) {
      if (comparePositions(state.position, from) < 0) continue
      states.delete(sink)
      sink.fail(error)
    }
    if (states.size > 0) return false
    map.delete(path)
    return true
  }

  /**
   * connectionEnded moves the streams that were live on `connection` up to `coveredZxid`:
   * a zxid of a reply or pong on it, which the server sent after every event up to it.
   */
  connectionEnded(connection: object, coveredZxid: Zxid): void {
    const covered = wholeTxn(coveredZxid)
    for (const map of [this.persistent, this.recursive]) {
      for (const states of map.values()) {
        for (const state of states.values()) {
          if (state.ackedOn !== connection) continue
          state.ackedOn = undefined
          if (comparePositions(state.position, covered) < 0) state.position = covered
        }
      }
    }
  }

  /**
   * setWatchesRequests lists every one-shot watch for re-registration after a reconnect,
   * split into requests of at most SET_WATCHES_PATHS_MAX paths and SET_WATCHES_CHARS_MAX
   * characters of paths (a server refuses larger ones, and each must fit a frame), as
   * ZooKeeper's client splits its SetWatches. Empty when none.
   */
  setWatchesRequests(relativeZxid: bigint): SetWatchesRequest[] {
    const lists: Record<WatchListKey, string[]> = {
      data: [...this.oneShot.data.keys()],
      exist: [...this.oneShot.exist.keys()],
      child: [...this.oneShot.child.keys()],
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
          current = { op: 'setWatches', relativeZxid, data: [], exist: [], child: [] }
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
    const sinks = [...this.persistent.values(), ...this.recursive.values()].flatMap((s) => [
      ...s.keys(),
    ])
    this.persistent.clear()
    this.recursive.clear()
    for (const sink of sinks) sink.fail(error)
    if (error !== null) for (const callback of callbacks) callback(null)
  }

  private statesOf(path: string, recursive: boolean): Map<WatchSink, StreamState> {
    return (recursive ? this.recursive : this.persistent).get(path) ?? new Map()
  }
}

/** offerTo gives a stream an event past its position, and moves the position there. */
function offerTo(sink: WatchSink, state: StreamState, event: EventMessage): void {
  const position = { zxid: event.zxid, index: event.index }
  if (comparePositions(position, state.position) <= 0) return
  state.position = position
  sink.push(event)
}

function add<T>(map: Map<string, Set<T>>, path: string, item: T): boolean {
  let set = map.get(path)
  const first = set === undefined
  if (set === undefined) map.set(path, (set = new Set()))
  set.add(item)
  return first
}
