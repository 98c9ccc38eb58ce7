/**
 * SetWatches after a reconnect: each of ZooKeeper's rules, checked against a small
 * fake tree of (exists, mzxid, pzxid) per path. For every watch kind the tests cover
 * "fire at once" and "register again", and for the re-registered ones they prove the
 * watch is live by triggering a later change. Events must carry the current zxid, and
 * a request with one bad path must change nothing.
 */
import { describe, expect, it } from 'vitest'
import type { SetWatchesRequest } from '../../../protocol/index.js'
import {
  WatchArgumentError,
  WatchRegistry,
  type NodeVersions,
} from '../../../server/watches/index.js'

const RELATIVE = 100n
const CURRENT = 250n

/** Fake tree: /old last changed exactly at the client's last zxid (not after it), /newData and /newChild after it. */
const nodes: Record<string, NodeVersions> = {
  '/old': { exists: true, mzxid: RELATIVE, pzxid: RELATIVE },
  '/newData': { exists: true, mzxid: 101n, pzxid: 50n },
  '/newChild': { exists: true, mzxid: 50n, pzxid: 180n },
}
const lookup = (path: string): NodeVersions =>
  nodes[path] ?? { exists: false, mzxid: 0n, pzxid: 0n }

function request(
  lists: Partial<Omit<SetWatchesRequest, 'op' | 'relativeZxid'>>,
): SetWatchesRequest {
  return {
    op: 'setWatches',
    relativeZxid: RELATIVE,
    data: [],
    exist: [],
    child: [],
    persistent: [],
    persistentRecursive: [],
    ...lists,
  }
}
function eventsOf(registry: WatchRegistry, req: SetWatchesRequest): string[] {
  return registry.setWatches(1, req, lookup, CURRENT).map((e) => {
    expect(e).toMatchObject({ type: 'event', zxid: CURRENT })
    return `${e.event}:${e.path}`
  })
}

describe('setWatches: data watches', () => {
  it('fires deleted for a node that is gone', () => {
    const registry = new WatchRegistry()
    expect(eventsOf(registry, request({ data: ['/gone'] }))).toEqual(['deleted:/gone'])
    expect(registry.countFor(1)).toBe(0)
  })

  it('fires dataChanged when mzxid is after relativeZxid', () => {
    const registry = new WatchRegistry()
    expect(eventsOf(registry, request({ data: ['/newData'] }))).toEqual(['dataChanged:/newData'])
    expect(registry.countFor(1)).toBe(0)
  })

  it('registers again when nothing changed (mzxid <= relativeZxid), and the watch then fires', () => {
    const registry = new WatchRegistry()
    expect(eventsOf(registry, request({ data: ['/old', '/newChild'] }))).toEqual([])
    expect(registry.watchesOf(1)).toEqual([
      { path: '/newChild', kind: 'data' },
      { path: '/old', kind: 'data' },
    ])
    expect(registry.trigger([{ type: 'dataChanged', path: '/old' }], 300n)).toHaveLength(1)
  })
})

describe('setWatches: exist watches', () => {
  it('fires created for a node that exists now', () => {
    const registry = new WatchRegistry()
    expect(eventsOf(registry, request({ exist: ['/old'] }))).toEqual(['created:/old'])
    expect(registry.countFor(1)).toBe(0)
  })

  it('registers again for a node still missing, and the watch then fires on create', () => {
    const registry = new WatchRegistry()
    expect(eventsOf(registry, request({ exist: ['/gone'] }))).toEqual([])
    expect(registry.watchesOf(1)).toEqual([{ path: '/gone', kind: 'exist' }])
    expect(
      registry.trigger([{ type: 'created', path: '/gone' }], 300n).map((n) => n.event.event),
    ).toEqual(['created'])
  })
})

describe('setWatches: child watches', () => {
  it('fires deleted for a node that is gone', () => {
    const registry = new WatchRegistry()
    expect(eventsOf(registry, request({ child: ['/gone'] }))).toEqual(['deleted:/gone'])
  })

  it('fires childrenChanged when pzxid is after relativeZxid', () => {
    const registry = new WatchRegistry()
    expect(eventsOf(registry, request({ child: ['/newChild'] }))).toEqual([
      'childrenChanged:/newChild',
    ])
  })

  it('registers again when children did not change (a data change does not count), and the watch then fires', () => {
    const registry = new WatchRegistry()
    expect(eventsOf(registry, request({ child: ['/old', '/newData'] }))).toEqual([])
    expect(registry.watchesOf(1).map((w) => w.kind)).toEqual(['child', 'child'])
    expect(registry.trigger([{ type: 'childrenChanged', path: '/newData' }], 300n)).toHaveLength(1)
  })
})

describe('setWatches: persistent watches and the whole request', () => {
  it('re-adds persistent and recursive watches without firing, even for missing nodes', () => {
    const registry = new WatchRegistry()
    expect(
      eventsOf(
        registry,
        request({ persistent: ['/newData', '/gone'], persistentRecursive: ['/'] }),
      ),
    ).toEqual([])
    expect(registry.watchesOf(1)).toEqual([
      { path: '/', kind: 'persistentRecursive' },
      { path: '/gone', kind: 'persistent' },
      { path: '/newData', kind: 'persistent' },
    ])
  })

  it('sends one deleted for a gone node held by both a data and a child watch, in request order', () => {
    const registry = new WatchRegistry()
    const events = eventsOf(
      registry,
      request({ data: ['/gone', '/newData'], exist: ['/old'], child: ['/gone', '/newChild'] }),
    )
    expect(events).toEqual([
      'deleted:/gone',
      'dataChanged:/newData',
      'created:/old',
      'childrenChanged:/newChild',
    ])
  })

  it('reads each path from the tree once', () => {
    const registry = new WatchRegistry()
    const reads: string[] = []
    registry.setWatches(
      1,
      request({ data: ['/old'], exist: ['/old'], child: ['/old'] }),
      (path) => (reads.push(path), lookup(path)),
      CURRENT,
    )
    expect(reads).toEqual(['/old'])
  })

  it('refuses a request with an invalid path and registers nothing', () => {
    const registry = new WatchRegistry()
    expect(() =>
      registry.setWatches(1, request({ data: ['/old'], persistent: ['bad'] }), lookup, CURRENT),
    ).toThrow(WatchArgumentError)
    expect(registry.count()).toBe(0)
  })
})
