/**
 * WatchRegistry: which connections a committed change notifies. The tests register
 * watches the way the runtime does (by connection id), feed changes as the tree reports
 * them, and check ZooKeeper's trigger matrix row by row, one-shot versus persistent
 * lifetimes, recursive coverage of a subtree (never childrenChanged), one notification
 * per watcher per change, removal by kind and by connection, and argument checking.
 */
import { describe, expect, it } from 'vitest'
import type { WatchEventType } from '../../../protocol/index.js'
import {
  WatchArgumentError,
  WatchRegistry,
  type RegisteredWatchKind,
  type WatchChange,
} from '../../../server/watches/index.js'

const ZXID = (5n << 32n) | 9n

function change(type: WatchEventType, path: string): WatchChange {
  return { type, path }
}
/** fired lists `watcher:event:path` for each notification, in order. */
function fired(registry: WatchRegistry, changes: WatchChange[], zxid = ZXID): string[] {
  return registry
    .trigger(changes, zxid)
    .map(({ watcher, event }) => `${watcher}:${event.event}:${event.path}`)
}
function codeOf(run: () => unknown): string | undefined {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(WatchArgumentError)
    return (error as WatchArgumentError).code
  }
  return undefined
}

describe('trigger matrix', () => {
  // kind registered on /a/b (recursive also on /a), change on /a/b, whether it fires.
  const rows: [RegisteredWatchKind, WatchEventType, boolean][] = [
    ['data', 'created', true],
    ['data', 'deleted', true],
    ['data', 'dataChanged', true],
    ['data', 'childrenChanged', false],
    ['exist', 'created', true],
    ['exist', 'deleted', true],
    ['exist', 'dataChanged', false],
    ['exist', 'childrenChanged', false],
    ['child', 'created', false],
    ['child', 'deleted', true],
    ['child', 'dataChanged', false],
    ['child', 'childrenChanged', true],
    ['persistent', 'created', true],
    ['persistent', 'deleted', true],
    ['persistent', 'dataChanged', true],
    ['persistent', 'childrenChanged', true],
    ['persistentRecursive', 'created', true],
    ['persistentRecursive', 'deleted', true],
    ['persistentRecursive', 'dataChanged', true],
    ['persistentRecursive', 'childrenChanged', false],
  ]

  it.each(rows)('%s watch on the node, %s -> fires: %s', (kind, type, fires) => {
    const registry = new WatchRegistry()
    registry.addWatch(kind, '/a/b', 1)
    const notifications = registry.trigger([change(type, '/a/b')], ZXID)
    expect(notifications).toEqual(
      fires
        ? [
            {
              watcher: 1,
              event: { type: 'event', zxid: ZXID, index: 0, event: type, path: '/a/b' },
            },
          ]
        : [],
    )
  })

  it.each(rows.filter(([kind]) => kind === 'persistentRecursive'))(
    'recursive watch on an ancestor, %s %s -> fires: %s',
    (kind, type, fires) => {
      const registry = new WatchRegistry()
      registry.addWatch(kind, '/a', 1)
      expect(fired(registry, [change(type, '/a/b')])).toEqual(fires ? [`1:${type}:/a/b`] : [])
    },
  )

  it('fires nothing for watches on other paths, parents or children', () => {
    const registry = new WatchRegistry()
    for (const kind of ['data', 'exist', 'child', 'persistent'] as const) {
      registry.addWatch(kind, '/a', 1)
      registry.addWatch(kind, '/a/b/c', 2)
      registry.addWatch(kind, '/a/bc', 3)
    }
    registry.addPersistentWatch('/a/b/c', 4, true)
    registry.addPersistentWatch('/ab', 5, true)
    for (const type of ['created', 'deleted', 'dataChanged', 'childrenChanged'] as const) {
      expect(fired(registry, [change(type, '/a/b')])).toEqual([])
    }
    expect(registry.count()).toBe(14)
  })
})

describe('one-shot and persistent lifetimes', () => {
  it('fires a one-shot watch exactly once', () => {
    const registry = new WatchRegistry()
    registry.addDataWatch('/x', 1)
    expect(fired(registry, [change('dataChanged', '/x')])).toEqual(['1:dataChanged:/x'])
    expect(fired(registry, [change('dataChanged', '/x')])).toEqual([])
    expect(registry.count()).toBe(0)
    expect(registry.countFor(1)).toBe(0)
  })

  it('fires a one-shot watch once even within one batch of changes', () => {
    const registry = new WatchRegistry()
    registry.addChildWatch('/p', 1)
    expect(
      fired(registry, [
        change('childrenChanged', '/p'),
        change('childrenChanged', '/p'),
        change('deleted', '/p'),
      ]),
    ).toEqual(['1:childrenChanged:/p'])
  })

  it('registering the same one-shot watch twice still fires once', () => {
    const registry = new WatchRegistry()
    expect(registry.addDataWatch('/x', 1)).toBe(true)
    expect(registry.addDataWatch('/x', 1)).toBe(false)
    expect(registry.count()).toBe(1)
    expect(fired(registry, [change('dataChanged', '/x')])).toEqual(['1:dataChanged:/x'])
  })

  it('keeps a persistent watch after it fires and after its node is deleted and re-created', () => {
    const registry = new WatchRegistry()
    registry.addPersistentWatch('/x', 1, false)
    const changes = [
      change('dataChanged', '/x'),
      change('childrenChanged', '/x'),
      change('deleted', '/x'),
      change('created', '/x'),
    ]
    expect(fired(registry, changes)).toEqual([
      '1:dataChanged:/x',
      '1:childrenChanged:/x',
      '1:deleted:/x',
      '1:created:/x',
    ])
    expect(fired(registry, [change('dataChanged', '/x')])).toEqual(['1:dataChanged:/x'])
    expect(registry.watchesOf(1)).toEqual([{ path: '/x', kind: 'persistent' }])
  })

  it('covers the whole subtree with a recursive watch, root included, and never sends childrenChanged', () => {
    const registry = new WatchRegistry()
    registry.addPersistentWatch('/', 1, true)
    registry.addPersistentWatch('/app', 2, true)
    const changes = [
      change('created', '/app'),
      change('childrenChanged', '/'),
      change('created', '/app/a/b/c'),
      change('childrenChanged', '/app/a/b'),
      change('dataChanged', '/app/a'),
      change('deleted', '/other'),
      change('dataChanged', '/'),
    ]
    expect(fired(registry, changes)).toEqual([
      '1:created:/app',
      '2:created:/app',
      '1:created:/app/a/b/c',
      '2:created:/app/a/b/c',
      '1:dataChanged:/app/a',
      '2:dataChanged:/app/a',
      '1:deleted:/other',
      '1:dataChanged:/',
    ])
    expect(registry.count()).toBe(2)
  })
})

describe('one notification per watcher per change', () => {
  it('sends one event when several of a watcher’s watches match, and consumes its one-shots', () => {
    const registry = new WatchRegistry()
    registry.addDataWatch('/a/b', 1)
    registry.addExistWatch('/a/b', 1)
    registry.addChildWatch('/a/b', 1)
    registry.addPersistentWatch('/a/b', 1, false)
    registry.addPersistentWatch('/a/b', 1, true)
    registry.addPersistentWatch('/a', 1, true)
    registry.addPersistentWatch('/', 1, true)
    expect(fired(registry, [change('deleted', '/a/b')])).toEqual(['1:deleted:/a/b'])
    expect(registry.watchesOf(1).map((w) => `${w.kind}:${w.path}`)).toEqual([
      'persistentRecursive:/',
      'persistentRecursive:/a',
      'persistent:/a/b',
      'persistentRecursive:/a/b',
    ])
  })

  it('orders notifications by change, then by watcher id, stamped with the txn zxid', () => {
    const registry = new WatchRegistry()
    registry.addDataWatch('/b', 9)
    registry.addDataWatch('/b', 3)
    registry.addPersistentWatch('/', 7, true)
    registry.addChildWatch('/', 5)
    const notifications = registry.trigger(
      [change('created', '/b'), change('childrenChanged', '/')],
      77n,
    )
    expect(notifications.map((n) => `${n.watcher}:${n.event.event}:${n.event.path}`)).toEqual([
      '3:created:/b',
      '7:created:/b',
      '9:created:/b',
      '5:childrenChanged:/',
    ])
    expect(notifications.every((n) => n.event.zxid === 77n && n.event.type === 'event')).toBe(true)
  })
})

describe('removing watches', () => {
  function full(registry: WatchRegistry, watcher: number, path: string): void {
    registry.addDataWatch(path, watcher)
    registry.addExistWatch(path, watcher)
    registry.addChildWatch(path, watcher)
    registry.addPersistentWatch(path, watcher, false)
    registry.addPersistentWatch(path, watcher, true)
  }
  const kindsLeft = (registry: WatchRegistry, watcher: number) =>
    registry.watchesOf(watcher).map((w) => w.kind)

  it('data removes data and exist watches only', () => {
    const registry = new WatchRegistry()
    full(registry, 1, '/x')
    expect(registry.removeWatches('/x', 'data', 1)).toBe(true)
    expect(kindsLeft(registry, 1)).toEqual(['child', 'persistent', 'persistentRecursive'])
    expect(registry.removeWatches('/x', 'data', 1)).toBe(false)
  })

  it('children, persistent and persistentRecursive remove only their own kind', () => {
    const registry = new WatchRegistry()
    full(registry, 1, '/x')
    expect(registry.removeWatches('/x', 'children', 1)).toBe(true)
    expect(kindsLeft(registry, 1)).toEqual(['data', 'exist', 'persistent', 'persistentRecursive'])
    expect(registry.removeWatches('/x', 'persistent', 1)).toBe(true)
    expect(kindsLeft(registry, 1)).toEqual(['data', 'exist', 'persistentRecursive'])
    expect(registry.removeWatches('/x', 'persistentRecursive', 1)).toBe(true)
    expect(kindsLeft(registry, 1)).toEqual(['data', 'exist'])
    expect(registry.removeWatches('/x', 'persistent', 1)).toBe(false)
    expect(fired(registry, [change('childrenChanged', '/x'), change('dataChanged', '/x')])).toEqual(
      ['1:dataChanged:/x'],
    )
  })

  it('any removes every kind on the path and nothing elsewhere', () => {
    const registry = new WatchRegistry()
    full(registry, 1, '/x')
    full(registry, 1, '/y')
    expect(registry.removeWatches('/x', 'any', 1)).toBe(true)
    expect(registry.watchedPaths(1)).toEqual(['/y'])
    expect(registry.countFor(1)).toBe(5)
    expect(registry.removeWatches('/x', 'any', 1)).toBe(false)
  })

  it('returns false for a path without watches and never touches another watcher’s watch', () => {
    const registry = new WatchRegistry()
    registry.addDataWatch('/x', 2)
    expect(registry.removeWatches('/x', 'data', 1)).toBe(false)
    expect(registry.removeWatches('/nothing', 'any', 2)).toBe(false)
    expect(registry.removeWatches('/x', 'children', 2)).toBe(false)
    expect(fired(registry, [change('dataChanged', '/x')])).toEqual(['2:dataChanged:/x'])
  })

  it('refuses an unknown kind', () => {
    const registry = new WatchRegistry()
    expect(codeOf(() => registry.removeWatches('/x', 'everything' as 'any', 1))).toBe('BAD_KIND')
  })

  it('removeWatcher drops every watch of a closed connection and leaves the others', () => {
    const registry = new WatchRegistry()
    full(registry, 1, '/x')
    full(registry, 1, '/')
    registry.addDataWatch('/x', 2)
    registry.addPersistentWatch('/', 2, true)
    expect(registry.removeWatcher(1)).toBe(10)
    expect(registry.count()).toBe(2)
    expect(registry.countFor(1)).toBe(0)
    expect(registry.watchedPaths(1)).toEqual([])
    expect(fired(registry, [change('deleted', '/x')])).toEqual(['2:deleted:/x'])
    expect(registry.removeWatcher(1)).toBe(0)
  })

  it('removeWatcher with pathsMax drops a large set in slices, keeping countFor exact until none is left', () => {
    const registry = new WatchRegistry()
    for (let i = 0; i < 25; i++) {
      registry.addDataWatch(`/n${i}`, 1)
      registry.addChildWatch(`/n${i}`, 1)
    }
    registry.addDataWatch('/n0', 2)
    expect(registry.countFor(1)).toBe(50)
    expect(registry.removeWatcher(1, 10)).toBe(20)
    expect(registry.countFor(1)).toBe(30)
    expect(registry.count()).toBe(31)
    // Firing a remaining one-shot between slices keeps the count exact.
    expect(fired(registry, [change('dataChanged', '/n24')])).toEqual(['1:dataChanged:/n24'])
    expect(registry.countFor(1)).toBe(29)
    expect(registry.removeWatcher(1, 10)).toBe(20)
    expect(registry.removeWatcher(1, 10)).toBe(9) // /n20-/n23, and /n24 with its child watch only
    expect(registry.countFor(1)).toBe(0)
    expect(registry.watchedPaths(1)).toEqual([])
    expect(registry.count()).toBe(1)
    expect(registry.removeWatcher(1, 10)).toBe(0)
  })
})

describe('listings and argument checks', () => {
  it('counts watches per registry and per watcher and lists watched paths sorted', () => {
    const registry = new WatchRegistry()
    registry.addDataWatch('/b', 1)
    registry.addChildWatch('/b', 1)
    registry.addExistWatch('/a', 1)
    registry.addPersistentWatch('/c', 2, true)
    expect(registry.count()).toBe(4)
    expect(registry.countFor(1)).toBe(3)
    expect(registry.countFor(3)).toBe(0)
    expect(registry.watchedPaths(1)).toEqual(['/a', '/b'])
  })

  it('refuses invalid paths, watcher ids and changes with typed errors', () => {
    const registry = new WatchRegistry()
    expect(codeOf(() => registry.addDataWatch('relative', 1))).toBe('BAD_PATH')
    expect(codeOf(() => registry.addChildWatch('/a/', 1))).toBe('BAD_PATH')
    expect(codeOf(() => registry.addExistWatch('/a//b', 1))).toBe('BAD_PATH')
    expect(codeOf(() => registry.addDataWatch('/a', -1))).toBe('BAD_WATCHER')
    expect(codeOf(() => registry.addDataWatch('/a', 1.5))).toBe('BAD_WATCHER')
    expect(codeOf(() => registry.addWatch('bogus' as RegisteredWatchKind, '/a', 1))).toBe(
      'BAD_KIND',
    )
    expect(
      codeOf(() => registry.trigger([{ type: 'touched' as WatchEventType, path: '/a' }], 1n)),
    ).toBe('BAD_CHANGE')
    expect(codeOf(() => registry.trigger([{ type: 'created', path: 'a' }], 1n))).toBe('BAD_CHANGE')
    expect(registry.count()).toBe(0)
  })
})

describe('a bad batch', () => {
  it('is refused before any one-shot watch is consumed', () => {
    const registry = new WatchRegistry()
    registry.addDataWatch('/x', 1)
    expect(
      codeOf(() =>
        registry.trigger(
          [change('dataChanged', '/x'), { type: 'nope' as WatchEventType, path: '/x' }],
          1n,
        ),
      ),
    ).toBe('BAD_CHANGE')
    expect(fired(registry, [change('dataChanged', '/x')])).toEqual(['1:dataChanged:/x'])
  })
})
