/**
 * SetWatches: what a server does with the watches a client re-registers after a
 * reconnect (ZooKeeper's `DataTree.setWatches`, reference: zookeeper-internals.md §6).
 * The client sends the zxid it had seen last (`relativeZxid`); for each watch the server
 * either fires at once, because the node changed after that zxid in a way the watch
 * would have reported, or registers the watch again.
 *
 * Known gap, shared with ZooKeeper: a node created and deleted while the client was
 * away fires nothing for an exist watch. Resumable streams (design §7) close that gap.
 */
import type { EventMessage, SetWatchesRequest, WatchEventType, Zxid } from '../../protocol/index.js'
import type { WatchEntry } from './watch-kinds.js'

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

/**
 * planSetWatches applies ZooKeeper's SetWatches rules against `lookup`:
 * - data watch: `deleted` if the node is missing, `dataChanged` if mzxid > relativeZxid,
 *   else register again;
 * - exist watch: `created` if the node exists now, else register again;
 * - child watch: `deleted` if missing, `childrenChanged` if pzxid > relativeZxid, else
 *   register again;
 * - persistent and persistent-recursive watches: register again.
 * Events carry `currentZxid` and are listed in request order (data, exist, child). The
 * same (event, path) pair is sent once, because the client fans one event out to all
 * its matching watches (a data and a child watch on a deleted node need one `deleted`).
 */
export function planSetWatches(
  request: SetWatchesRequest,
  lookup: NodeVersionsLookup,
  currentZxid: Zxid,
): SetWatchesPlan {
  const relativeZxid = request.relativeZxid
  const versions = memoize(lookup)
  const events: EventMessage[] = []
  const sent = new Set<string>()
  const register: WatchEntry[] = []
  const fire = (event: WatchEventType, path: string) => {
    const key = `${event} ${path}`
    if (sent.has(key)) return
    sent.add(key)
    events.push({ type: 'event', zxid: currentZxid, event, path })
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
  for (const path of request.persistent) register.push({ path, kind: 'persistent' })
  for (const path of request.persistentRecursive)
    register.push({ path, kind: 'persistentRecursive' })
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
