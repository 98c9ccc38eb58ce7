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
  ChangeWindow,
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
    ...lists,
  }
}
function eventsOf(registry: WatchRegistry, req: SetWatchesRequest): string[] {
  return registry.setWatches(1, req, lookup, CURRENT).map((e) => {
    expect(e).toMatchObject({ type: 'event', zxid: CURRENT, oneShotOnly: true })
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

describe('setWatches: the whole request', () => {
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
      registry.setWatches(1, request({ data: ['/old'], child: ['bad'] }), lookup, CURRENT),
    ).toThrow(WatchArgumentError)
    expect(registry.count()).toBe(0)
  })
})

describe('setWatches: from the change window', () => {
  /** A window that holds every txn after 90: a node created and deleted, data set twice, a child added. */
  function window(): ChangeWindow {
    const w = new ChangeWindow({ changesMax: 1000, bytesMax: 1 << 20 }, 90n)
    w.record(95n, [{ type: 'dataChanged', path: '/old' }])
    w.record(110n, [
      { type: 'created', path: '/brief' },
      { type: 'childrenChanged', path: '/' },
    ])
    w.record(120n, [
      { type: 'deleted', path: '/brief' },
      { type: 'childrenChanged', path: '/' },
    ])
    w.record(130n, [
      { type: 'dataChanged', path: '/newData' },
      { type: 'dataChanged', path: '/newData' },
    ])
    w.record(140n, [
      { type: 'created', path: '/newChild/x' },
      { type: 'childrenChanged', path: '/newChild' },
    ])
    return w
  }
  const plan = (registry: WatchRegistry, req: SetWatchesRequest) =>
    registry
      .setWatches(1, req, lookup, CURRENT, window())
      .map((e) => `${e.event}:${e.path}@${e.zxid}.${e.index}${e.oneShotOnly === true ? '' : '!'}`)

  it("fires each watch on the first change after relativeZxid it reports, with that change's zxid", () => {
    const registry = new WatchRegistry()
    expect(
      plan(
        registry,
        request({ data: ['/newData', '/old'], exist: ['/brief'], child: ['/newChild', '/'] }),
      ),
    ).toEqual([
      'created:/brief@110.0',
      'childrenChanged:/@110.1',
      'dataChanged:/newData@130.0',
      'childrenChanged:/newChild@140.1',
    ])
    // /old changed at 95, before the client's zxid: its watch is registered again.
    expect(registry.watchesOf(1)).toEqual([{ path: '/old', kind: 'data' }])
  })

  it('sees a node created and deleted while the client was away, which the state rules cannot', () => {
    const registry = new WatchRegistry()
    expect(eventsOf(registry, request({ exist: ['/brief'] }))).toEqual([])
    expect(plan(new WatchRegistry(), request({ exist: ['/brief'] }))).toEqual([
      'created:/brief@110.0',
    ])
  })

  it('falls back to the state rules when the window starts after relativeZxid', () => {
    const w = new ChangeWindow({ changesMax: 1000, bytesMax: 1 << 20 }, 101n)
    const events = new WatchRegistry().setWatches(
      1,
      request({ data: ['/newData'] }),
      lookup,
      CURRENT,
      w,
    )
    expect(events).toEqual([
      {
        type: 'event',
        zxid: CURRENT,
        index: 0,
        event: 'dataChanged',
        path: '/newData',
        oneShotOnly: true,
      },
    ])
  })
})
