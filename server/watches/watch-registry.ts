/**
 * WatchRegistry: every watch the connections of one server hold, and which of them a
 * committed change fires (reference: zookeeper-internals.md §6, design.md §7).
 *
 * Trigger matrix (ZooKeeper's), for a change of path p:
 *
 *   change           one-shot watches on p     persistent on p   recursive on p or an ancestor
 *   created          data, exist               yes               yes
 *   deleted          data, exist, child        yes               yes
 *   dataChanged      data                      yes               yes
 *   childrenChanged  child                     yes               no
 *
 * One-shot watches are removed when they fire; persistent ones stay, also after p is
 * deleted. A watcher gets at most one notification per change however many of its
 * watches match: the client fans the event out to its own registrations. Watches
 * belong to a connection (`WatcherId`) and die with it; a client re-registers them on
 * its next connection: one-shot ones with SetWatches, persistent ones with addWatch and
 * the position it had reached, replayed from the member's ChangeWindow (replay.ts).
 *
 * Cost: a change looks at its own path in four indexes and walks p's ancestors in the
 * recursive index, so it never scans unrelated watches.
 */
import { parentOf, pathProblem, ROOT_PATH } from '../../protocol/index.js'
import type {
  Acl,
  EventMessage,
  SetWatchesRequest,
  WatchEventType,
  WatchKind,
  Zxid,
} from '../../protocol/index.js'
import type { ChangeWindow } from './change-window.js'
import { WatchArgumentError } from './errors.js'
import { PathIndex, type WatcherId } from './path-index.js'
import { planSetWatches, type NodeVersionsLookup } from './set-watches.js'
import {
  REGISTERED_WATCH_KINDS,
  WatchBit,
  kindsRemovedBy,
  type RegisteredWatchKind,
  type WatchEntry,
} from './watch-kinds.js'

export type { WatcherId } from './path-index.js'

/** WatchChange is one change of the tree that may fire watches, as the tree reports it when applying a txn. */
export interface WatchChange {
  type: WatchEventType
  path: string
  /**
   * acl decides who may hear of the change, as the tree reports it: a deleted node's ACL
   * as it was (the node is gone by then), any other node's as it is right after the txn.
   * The change window keeps it, so a replay can judge a node that is gone since.
   */
  acl?: readonly Acl[]
}

/** NO_NOTIFICATIONS is what trigger returns while no watch is registered at all. */
const NO_NOTIFICATIONS: readonly Notification[] = Object.freeze([])

/** Notification is one event to send to one watcher (connection). */
export interface Notification {
  watcher: WatcherId
  event: EventMessage
}

/** WatchRegistry holds the watches of every connection and computes who a change notifies. */
export class WatchRegistry {
  private readonly indexes: Readonly<Record<RegisteredWatchKind, PathIndex>> = {
    data: new PathIndex(),
    exist: new PathIndex(),
    child: new PathIndex(),
    persistent: new PathIndex(),
    persistentRecursive: new PathIndex(),
  }
  /** Per watcher, per path, the bits (WatchBit) of the kinds it holds: for removeWatcher and listings. */
  private readonly kindsByWatcher = new Map<WatcherId, Map<string, number>>()
  /** Per watcher, how many watches it holds: kept so a per-session cap is checked in O(1). */
  private readonly countByWatcher = new Map<WatcherId, number>()
  private total = 0
  /** recipients is recipientsOf's scratch set, emptied for each change (trigger runs for every applied txn). */
  private readonly recipients = new Set<WatcherId>()

  /** addDataWatch registers a one-shot data watch (get, or exists on an existing node); false if already held. */
  addDataWatch(path: string, watcher: WatcherId): boolean {
    return this.addWatch('data', path, watcher)
  }

  /** addExistWatch registers a one-shot watch for the creation of a missing node (exists); false if already held. */
  addExistWatch(path: string, watcher: WatcherId): boolean {
    return this.addWatch('exist', path, watcher)
  }

  /** addChildWatch registers a one-shot child watch (children); false if already held. */
  addChildWatch(path: string, watcher: WatcherId): boolean {
    return this.addWatch('child', path, watcher)
  }

  /** addPersistentWatch registers a persistent watch, on the node or (`recursive`) its subtree; false if already held. */
  addPersistentWatch(path: string, watcher: WatcherId, recursive: boolean): boolean {
    return this.addWatch(recursive ? 'persistentRecursive' : 'persistent', path, watcher)
  }

  /**
   * addWatch registers a watch of any kind; it returns false when the watcher already
   * held it (registering twice still fires once). Throws WatchArgumentError for an
   * invalid path or watcher id.
   */
  addWatch(kind: RegisteredWatchKind, path: string, watcher: WatcherId): boolean {
    checkWatcher(watcher)
    checkPath(path)
    const index = this.indexes[kind]
    if (index === undefined)
      throw new WatchArgumentError('BAD_KIND', `unknown watch kind ${JSON.stringify(kind)}`)
    if (!index.add(path, watcher)) return false
    let kinds = this.kindsByWatcher.get(watcher)
    if (kinds === undefined) {
      kinds = new Map()
      this.kindsByWatcher.set(watcher, kinds)
    }
    kinds.set(path, (kinds.get(path) ?? 0) | WatchBit[kind])
    this.countByWatcher.set(watcher, (this.countByWatcher.get(watcher) ?? 0) + 1)
    this.total += 1
    return true
  }

  /**
   * removeWatches drops `watcher`'s watches of `kind` on `path`: `data` removes data and
   * exist watches, `children` child watches, `persistent` and `persistentRecursive`
   * their kind, `any` all of them. It returns false when there was none to remove (the
   * runtime answers NO_WATCHER).
   */
  removeWatches(path: string, kind: WatchKind, watcher: WatcherId): boolean {
    let removed = false
    for (const registered of kindsRemovedBy(kind)) {
      if (this.indexes[registered].remove(path, watcher)) {
        this.forget(watcher, path, WatchBit[registered])
        removed = true
      }
    }
    return removed
  }

  /**
   * removeWatcher drops the watches of `watcher` (its connection closed) and returns how
   * many it removed: all of them, or, with `pathsMax`, those on at most that many paths,
   * so a caller can drop a large set in slices (countFor tells what is left).
   */
  removeWatcher(watcher: WatcherId, pathsMax = Infinity): number {
    const kinds = this.kindsByWatcher.get(watcher)
    if (kinds === undefined) return 0
    let removed = 0
    let paths = 0
    for (const [path, bits] of kinds) {
      if (paths++ >= pathsMax) break
      for (const kind of REGISTERED_WATCH_KINDS) {
        if ((bits & WatchBit[kind]) !== 0 && this.indexes[kind].remove(path, watcher)) removed += 1
      }
      kinds.delete(path)
    }
    if (kinds.size === 0) {
      this.kindsByWatcher.delete(watcher)
      this.countByWatcher.delete(watcher)
    } else this.countByWatcher.set(watcher, (this.countByWatcher.get(watcher) ?? removed) - removed)
    this.total -= removed
    return removed
  }

  /**
   * trigger computes the notifications for `changes`, the effects of one txn in the
   * order the tree applied them, all stamped with the txn's `zxid` and their index. Notifications come
   * in change order, and within a change in ascending watcher id; each watcher appears
   * at most once per change. One-shot watches that fire are removed. The EventMessage
   * objects are frozen and shared between the watchers of one change.
   */
  trigger(changes: readonly WatchChange[], zxid: Zxid): readonly Notification[] {
    // Check the whole batch first: a bad change must not leave one-shots consumed but unsent.
    for (const change of changes) checkChange(change)
    if (this.total === 0) return NO_NOTIFICATIONS
    const notifications: Notification[] = []
    for (let index = 0; index < changes.length; index++) {
      const change = changes[index]!
      const recipients = this.recipientsOf(change)
      if (recipients.size === 0) continue
      const event: EventMessage = Object.freeze({
        type: 'event',
        zxid,
        index,
        event: change.type,
        path: change.path,
      })
      for (const watcher of [...recipients].sort((a, b) => a - b))
        notifications.push({ watcher, event })
    }
    return notifications
  }

  /**
   * setWatches re-registers the one-shot watches a client held before it reconnected
   * (see planSetWatches: from `window` when it covers the client's zxid, else by
   * ZooKeeper's rules against `lookup`) and returns the events to send `watcher` at
   * once. Every path is checked before anything is registered, so a bad request
   * changes nothing.
   */
  setWatches(
    watcher: WatcherId,
    request: SetWatchesRequest,
    lookup: NodeVersionsLookup,
    currentZxid: Zxid,
    window?: ChangeWindow,
  ): EventMessage[] {
    checkWatcher(watcher)
    for (const list of [request.data, request.exist, request.child]) {
      for (const path of list) checkPath(path)
    }
    const plan = planSetWatches(request, lookup, currentZxid, window)
    for (const { path, kind } of plan.register) this.addWatch(kind, path, watcher)
    return plan.events
  }

  /** count is the number of registered watches, one per (watcher, path, kind). */
  count(): number {
    return this.total
  }

  /** countFor is the number of watches `watcher` holds. */
  countFor(watcher: WatcherId): number {
    return this.countByWatcher.get(watcher) ?? 0
  }

  /** watchedPaths lists, sorted, the paths on which `watcher` holds at least one watch. */
  watchedPaths(watcher: WatcherId): string[] {
    return [...(this.kindsByWatcher.get(watcher)?.keys() ?? [])].sort()
  }

  /** watchesOf lists every watch `watcher` holds, sorted by path, then kind in REGISTERED_WATCH_KINDS order. */
  watchesOf(watcher: WatcherId): WatchEntry[] {
    const entries: WatchEntry[] = []
    for (const path of this.watchedPaths(watcher)) {
      const bits = this.kindsByWatcher.get(watcher)?.get(path) ?? 0
      for (const kind of REGISTERED_WATCH_KINDS)
        if ((bits & WatchBit[kind]) !== 0) entries.push({ path, kind })
    }
    return entries
  }

  /** recipientsOf collects who `change` notifies, consuming the one-shot watches it fires. */
  private recipientsOf(change: WatchChange): Set<WatcherId> {
    const { type, path } = change
    const recipients = this.recipients
    recipients.clear()
    switch (type) {
      case 'created':
        this.fireOneShot('data', path, recipients)
        this.fireOneShot('exist', path, recipients)
        break
      case 'deleted':
        this.fireOneShot('data', path, recipients)
        this.fireOneShot('exist', path, recipients)
        this.fireOneShot('child', path, recipients)
        break
      case 'dataChanged':
        this.fireOneShot('data', path, recipients)
        break
      case 'childrenChanged':
        this.fireOneShot('child', path, recipients)
        break
      default: {
        const unknown: never = type
        throw new WatchArgumentError('BAD_CHANGE', `unknown change type ${JSON.stringify(unknown)}`)
      }
    }
    addAll(recipients, this.indexes.persistent.get(path))
    if (type !== 'childrenChanged') this.collectRecursive(path, recipients)
    return recipients
  }

  private fireOneShot(
    kind: 'data' | 'exist' | 'child',
    path: string,
    recipients: Set<WatcherId>,
  ): void {
    const fired = this.indexes[kind].take(path)
    if (fired === undefined) return
    for (const watcher of fired) {
      recipients.add(watcher)
      this.forget(watcher, path, WatchBit[kind])
    }
  }

  /** collectRecursive adds the holders of recursive watches on `path` or any ancestor, walking up to the root. */
  private collectRecursive(path: string, recipients: Set<WatcherId>): void {
    const recursive = this.indexes.persistentRecursive
    if (recursive.pathCount === 0) return
    for (let current = path; ; current = parentOf(current)) {
      addAll(recipients, recursive.get(current))
      if (current === ROOT_PATH) return
    }
  }

  /** forget clears one kind bit of a watch already removed from its index, and counts it gone. */
  private forget(watcher: WatcherId, path: string, bit: number): void {
    this.total -= 1
    const count = (this.countByWatcher.get(watcher) ?? 1) - 1
    if (count > 0) this.countByWatcher.set(watcher, count)
    else this.countByWatcher.delete(watcher)
    const kinds = this.kindsByWatcher.get(watcher)
    if (kinds === undefined) return
    const bits = (kinds.get(path) ?? 0) & ~bit
    if (bits !== 0) kinds.set(path, bits)
    else if (kinds.delete(path) && kinds.size === 0) this.kindsByWatcher.delete(watcher)
  }
}

function addAll(into: Set<WatcherId>, from: ReadonlySet<WatcherId> | undefined): void {
  if (from !== undefined) for (const watcher of from) into.add(watcher)
}

function checkWatcher(watcher: WatcherId): void {
  if (!Number.isSafeInteger(watcher) || watcher < 0) {
    throw new WatchArgumentError(
      'BAD_WATCHER',
      `watcher id must be a non-negative integer, got ${String(watcher)}`,
    )
  }
}

const CHANGE_TYPES: ReadonlySet<string> = new Set<WatchEventType>([
  'created',
  'deleted',
  'dataChanged',
  'childrenChanged',
])

/** checkChange refuses a change with an unknown type or a path that is not absolute (a cheap check: trigger is hot). */
function checkChange(change: WatchChange): void {
  if (!CHANGE_TYPES.has(change.type)) {
    throw new WatchArgumentError('BAD_CHANGE', `unknown change type ${JSON.stringify(change.type)}`)
  }
  if (typeof change.path !== 'string' || !change.path.startsWith('/')) {
    throw new WatchArgumentError(
      'BAD_CHANGE',
      `change path must be an absolute path, got ${JSON.stringify(change.path)}`,
    )
  }
}

function checkPath(path: string): void {
  const problem = pathProblem(path)
  if (problem !== null)
    throw new WatchArgumentError(
      'BAD_PATH',
      `invalid watch path ${JSON.stringify(path)}: ${problem}`,
    )
}
