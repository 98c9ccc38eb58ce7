/**
 * The kinds of watch a connection can hold on a path, and how the wire's WatchKind
 * (used by removeWatches) maps onto them. ZooKeeper keeps exists-on-a-missing-node
 * watches with the data watches; Conclave names them apart (`exist`) because they fire
 * on different changes, but `removeWatches(path, 'data')` removes both, as ZooKeeper's
 * WatcherType.Data does.
 */
import { isAncestorOrSelf, type WatchEventType, type WatchKind } from '../../protocol/index.js'
import { WatchArgumentError } from './errors.js'

/** RegisteredWatchKind is one kind of registered watch: three one-shot kinds and two persistent ones. */
export type RegisteredWatchKind = 'data' | 'exist' | 'child' | 'persistent' | 'persistentRecursive'

/** REGISTERED_WATCH_KINDS lists every RegisteredWatchKind in a fixed order (the order listings use). */
export const REGISTERED_WATCH_KINDS: readonly RegisteredWatchKind[] = [
  'data',
  'exist',
  'child',
  'persistent',
  'persistentRecursive',
]

/** WatchBit gives each RegisteredWatchKind one bit, so a watcher's kinds on a path fit in one number. */
export const WatchBit: Readonly<Record<RegisteredWatchKind, number>> = {
  data: 1,
  exist: 2,
  child: 4,
  persistent: 8,
  persistentRecursive: 16,
}

/** WatchEntry is one registered watch of a watcher, as listed by `WatchRegistry.watchesOf`. */
export interface WatchEntry {
  path: string
  kind: RegisteredWatchKind
}

const REMOVED_BY: Readonly<Record<WatchKind, readonly RegisteredWatchKind[]>> = {
  data: ['data', 'exist'],
  children: ['child'],
  persistent: ['persistent'],
  persistentRecursive: ['persistentRecursive'],
  any: REGISTERED_WATCH_KINDS,
}

/** kindsRemovedBy returns the registered kinds a removeWatches of `kind` drops; an unknown kind is BAD_KIND. */
export function kindsRemovedBy(kind: WatchKind): readonly RegisteredWatchKind[] {
  const kinds = Object.hasOwn(REMOVED_BY, kind) ? REMOVED_BY[kind] : undefined
  if (kinds === undefined)
    throw new WatchArgumentError('BAD_KIND', `unknown watch kind ${JSON.stringify(kind)}`)
  return kinds
}

/**
 * fires tells whether a watch of `kind` on `watchPath` reports `change`: the trigger
 * matrix of watch-registry.ts as a predicate, for replaying changes from the window
 * (the registry itself looks changes up in its indexes instead).
 */
export function fires(
  kind: RegisteredWatchKind,
  watchPath: string,
  change: { type: WatchEventType; path: string },
): boolean {
  switch (kind) {
    case 'data':
      return change.path === watchPath && change.type !== 'childrenChanged'
    case 'exist':
      return change.path === watchPath && (change.type === 'created' || change.type === 'deleted')
    case 'child':
      return (
        change.path === watchPath &&
        (change.type === 'deleted' || change.type === 'childrenChanged')
      )
    case 'persistent':
      return change.path === watchPath
    case 'persistentRecursive':
      return change.type !== 'childrenChanged' && isAncestorOrSelf(watchPath, change.path)
  }
}
