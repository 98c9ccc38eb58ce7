/**
 * SetWatches: what a server does with the one-shot watches a client re-registers after a
 * reconnect. The client sends the zxid it had seen last (`relativeZxid`); for each watch
 * the server either fires at once, because the node changed after that zxid in a way
 * the watch would have reported, or registers the watch again.
 *
 * When the member's change window covers `relativeZxid`, the event is the first such
 * change, exactly, with its own zxid. Past the window, ZooKeeper's `DataTree.setWatches`
 * rules decide from the node's state now (reference: zookeeper-internals.md §6), and
 * the event carries the current zxid; they share ZooKeeper's gap: a node created and
 * deleted while the client was away fires nothing for an exist watch. Persistent and
 * recursive watches are not re-registered here but with addWatch and a position
 * (replay.ts), so every catch-up event is marked `oneShotOnly`.
 */
import type { EventMessage, SetWatchesRequest, Zxid } from '../../protocol/index.js'
import type { ChangeWindow } from './change-window.js'
import { WatchBit, fires, type WatchEntry } from './watch-kinds.js'

/** NodeVersions is what SetWatches needs to know about a path right now. */
export interface NodeVersions {
  exists: boolean
  /** zxid of the node's last data change (meaningless when it does not exist) */
  mzxid: Zxid
  /** zxid of the node's last child create or delete (meaningless when it does not exist) */
  pzxid: Zxid
}

/** NodeVersionsLookup reads a path's NodeVersions from the applied tree. */
export type NodeVersionsLookup = (path: string) => NodeVersions

/** SetWatchesPlan is the outcome of a SetWatches: events to send at once and watches to register. */
export interface SetWatchesPlan {
  events: EventMessage[]
  register: WatchEntry[]
}

type OneShotKind = 'data' | 'exist' | 'child'
const ONE_SHOT_KINDS: readonly OneShotKind[] = ['data', 'exist', 'child']

/**
 * planSetWatches decides each one-shot watch of `request`: from `window` when it covers
 * `relativeZxid` (replayFromWindow), else by the state rules (planFromState). The same
 * change is sent once however many of the watches it fires, because the client fans
 * one event out to all its matching one-shot watches.
 */
export function planSetWatches(
  request: SetWatchesRequest,
  lookup: NodeVersionsLookup,
  currentZxid: Zxid,
  window?: ChangeWindow,
): SetWatchesPlan {
  return window?.covers(request.relativeZxid) === true
    ? replayFromWindow(request, window)
    : planFromState(request, lookup, currentZxid)
}

/** replayFromWindow fires each watch on the first change after relativeZxid it reports; the rest are registered. */
function replayFromWindow(request: SetWatchesRequest, window: ChangeWindow): SetWatchesPlan {
  // Per path, the bits of the kinds still waiting for a change.
  const waiting = new Map<string, number>()
  for (const kind of ONE_SHOT_KINDS)
    for (const path of request[kind]) waiting.set(path, (waiting.get(path) ?? 0) | WatchBit[kind])
  const events: EventMessage[] = []
  for (const { zxid, index, change } of window.after({ zxid: request.relativeZxid })) {
    if (waiting.size === 0) break
    const bits = waiting.get(change.path)
    if (bits === undefined) continue
    let left = bits
    for (const kind of ONE_SHOT_KINDS)
      if ((bits & WatchBit[kind]) !== 0 && fires(kind, change.path, change)) left &= ~WatchBit[kind]
    if (left === bits) continue
    events.push({
      type: 'event',
      zxid,
      index,
      event: change.type,
      path: change.path,
      oneShotOnly: true,
    })
    if (left === 0) waiting.delete(change.path)
    else waiting.set(change.path, left)
  }
  const register: WatchEntry[] = []
  for (const kind of ONE_SHOT_KINDS)
    for (const path of request[kind])
      if (((waiting.get(path) ?? 0) & WatchBit[kind]) !== 0) register.push({ path, kind })
  return { events, register }
}

/**
 * planFromState applies ZooKeeper's SetWatches rules against `lookup`:
 * - data watch: `deleted` if the node is missing, `dataChanged` if mzxid > relativeZxid,
 *   else register again;
 * - exist watch: `created` if the node exists now, else register again;
 * - child watch: `deleted` if missing, `childrenChanged` if pzxid > relativeZxid, else
 *   register again.
 * Events carry `currentZxid` and are listed in request order (data, exist, child). The
 * same (event, path) pair is sent once (a data and a child watch on a deleted node need
 * one `deleted`).
 */
function planFromState(
  request: SetWatchesRequest,
  lookup: NodeVersionsLookup,
  currentZxid: Zxid,
): SetWatchesPlan {
  const relativeZxid = request.relativeZxid
  const versions = memoize(lookup)
  const events: EventMessage[] = []
  const sent = new Set<string>()
  const register: WatchEntry[] = []
  const fire = (event: EventMessage['event'], path: string) => {
    const key = `${event} ${path}`
    if (sent.has(key)) return
    sent.add(key)
    events.push({ type: 'event', zxid: currentZxid, index: 0, event, path, oneShotOnly: true })
  }
  for (const path of request.data) {
    const node = versions(path)
    if (!node.exists) fire('deleted', path)
    else if (node.mzxid > relativeZxid) fire('dataChanged', path)
    else register.push({ path, kind: 'data' })
  }
  for (const path of request.exist) {
    if (versions(path).exists) fire('created', path)
    else register.push({ path, kind: 'exist' })
  }
  for (const path of request.child) {
    const node = versions(path)
    if (!node.exists) fire('deleted', path)
    else if (node.pzxid > relativeZxid) fire('childrenChanged', path)
    else register.push({ path, kind: 'child' })
  }
  return { events, register }
}

/** memoize reads each path once even when it appears in several lists. */
function memoize(lookup: NodeVersionsLookup): NodeVersionsLookup {
  const seen = new Map<string, NodeVersions>()
  return (path) => {
    let node = seen.get(path)
    if (node === undefined) {
      node = lookup(path)
      seen.set(path, node)
    }
    return node
  }
}
