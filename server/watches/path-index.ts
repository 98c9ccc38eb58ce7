/**
 * PathIndex: watchers by path for one kind of watch. Empty sets are dropped at once so
 * memory follows the live watches, not every path ever watched.
 */

/** WatcherId names who receives a notification: the runtime's connection id. */
export type WatcherId = number

/** PathIndex maps a path to the set of watchers holding one kind of watch on it. */
export class PathIndex {
  private readonly watchersByPath = new Map<string, Set<WatcherId>>()

  /** pathCount is the number of paths with at least one watcher. */
  get pathCount(): number {
    return this.watchersByPath.size
  }

  /** add registers `watcher` on `path`; it returns false when it was already there. */
  add(path: string, watcher: WatcherId): boolean {
    let watchers = this.watchersByPath.get(path)
    if (watchers === undefined) {
      watchers = new Set()
      this.watchersByPath.set(path, watchers)
    }
    if (watchers.has(watcher)) return false
    watchers.add(watcher)
    return true
  }

  /** remove drops `watcher` from `path`; it returns false when it was not there. */
  remove(path: string, watcher: WatcherId): boolean {
    const watchers = this.watchersByPath.get(path)
    if (watchers === undefined || !watchers.delete(watcher)) return false
    if (watchers.size === 0) this.watchersByPath.delete(path)
    return true
  }

  /** has tells whether `watcher` is registered on `path`. */
  has(path: string, watcher: WatcherId): boolean {
    return this.watchersByPath.get(path)?.has(watcher) ?? false
  }

  /** get returns the watchers on `path` (do not modify), or undefined when there are none. */
  get(path: string): ReadonlySet<WatcherId> | undefined {
    return this.watchersByPath.get(path)
  }

  /** take removes and returns every watcher on `path`: what firing a one-shot watch does. */
  take(path: string): ReadonlySet<WatcherId> | undefined {
    const watchers = this.watchersByPath.get(path)
    if (watchers !== undefined) this.watchersByPath.delete(path)
    return watchers
  }
}
