/*
 * Goal: the client-side watch registry routes one server event exactly as ZooKeeper's
 * rules say, and lists what to re-register after a reconnect. Method: register
 * callbacks and sinks directly, deliver events, and compare with the rules; a
 * fast-check property compares routing of random events against a plain statement of
 * the rules (recursive: ancestor-or-self and not childrenChanged; one-shot: at most once).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  FRAME_BYTES_MAX,
  SET_WATCHES_PATHS_MAX,
  encodeClientMessage,
  isAncestorOrSelf,
  type EventMessage,
  type WatchEventType,
} from '../../../protocol/index.js'
import { ClientWatchRegistry, wholeTxn, type WatchSink } from '../../../client/watch-registry.js'

function event(kind: WatchEventType, path: string, zxid = 1n, index = 0): EventMessage {
  return { type: 'event', event: kind, path, zxid, index }
}

const START = wholeTxn(0n)
/** LIVE stands for the connection the events arrive on. */
const LIVE = {}

/** addLive registers a sink whose server watch is confirmed on LIVE, so it takes live events. */
function addLive(
  registry: ClientWatchRegistry,
  path: string,
  recursive: boolean,
  s: WatchSink,
): void {
  registry.addSink(path, recursive, s, START)
  registry.acknowledge({ path, recursive, from: START }, 0n, undefined, LIVE)
}

function sink(into: string[], name: string): WatchSink & { failed: Array<Error | null> } {
  const failed: Array<Error | null> = []
  return {
    push: (e) =>
      into.push(
        e.type === 'compacted'
          ? `${name} compacted ${e.path} ${e.zxid} ${e.oldestZxid}`
          : `${name} ${e.event} ${e.path} ${e.zxid}:${e.index}`,
      ),
    fail: (error) => failed.push(error),
    failed,
  }
}

describe('ClientWatchRegistry', () => {
  it('fires one-shot callbacks once and forgets them', () => {
    const registry = new ClientWatchRegistry()
    const log: string[] = []
    registry.addOneShot('data', '/a', (e) => log.push(e?.event ?? 'lost'))
    registry.deliver(event('dataChanged', '/a'), LIVE)
    registry.deliver(event('dataChanged', '/a'), LIVE)
    expect(log).toEqual(['dataChanged'])
    expect(registry.setWatchesRequests(0n)).toEqual([])
  })

  it('keeps a child watch through data events and a data watch through child events', () => {
    const registry = new ClientWatchRegistry()
    const log: string[] = []
    registry.addOneShot('child', '/a', (e) => log.push(`child ${e?.event ?? 'lost'}`))
    registry.addOneShot('data', '/a', (e) => log.push(`data ${e?.event ?? 'lost'}`))
    registry.deliver(event('dataChanged', '/a'), LIVE)
    registry.deliver(event('childrenChanged', '/a'), LIVE)
    expect(log).toEqual(['data dataChanged', 'child childrenChanged'])
  })

  it('lists one-shot paths by kind for setWatches, and streams with their oldest position for addWatch', () => {
    const registry = new ClientWatchRegistry()
    registry.addOneShot('data', '/d', () => {})
    registry.addOneShot('exist', '/e', () => {})
    registry.addOneShot('child', '/c', () => {})
    registry.addSink('/p', false, sink([], 'p'), wholeTxn(5n))
    registry.addSink('/p', false, sink([], 'p2'), { zxid: 3n, index: 1 })
    registry.addSink('/r', true, sink([], 'r'), wholeTxn(9n))
    expect(registry.setWatchesRequests(77n)).toEqual([
      { op: 'setWatches', relativeZxid: 77n, data: ['/d'], exist: ['/e'], child: ['/c'] },
    ])
    expect(registry.streamRegistrations()).toEqual([
      { path: '/p', recursive: false, from: { zxid: 3n, index: 1 } },
      { path: '/r', recursive: true, from: wholeTxn(9n) },
    ])
  })

  it('gives a stream each change once: replays that overlap what it has are skipped, to the change within a txn', () => {
    const registry = new ClientWatchRegistry()
    const log: string[] = []
    addLive(registry, '/r', true, sink(log, 'r'))
    // A txn deleting two nodes (a session's ephemerals), cut off after its first event.
    registry.deliver(event('dataChanged', '/r/a', 4n), LIVE)
    registry.deliver(event('deleted', '/r/e1', 7n, 0), LIVE)
    registry.connectionEnded(LIVE, 4n) // the last reply or pong said 4: positions stay past it
    const [registration] = registry.streamRegistrations()
    expect(registration).toEqual({ path: '/r', recursive: true, from: { zxid: 7n, index: 0 } })
    // The next member replays the rest of txn 7; a replay from further back repeats it all.
    registry.deliverReplay(event('deleted', '/r/e2', 7n, 2), registration!)
    const next = {}
    registry.acknowledge(registration!, 9n, undefined, next)
    const further = { path: '/r', recursive: true, from: wholeTxn(3n) }
    for (const [zxid, index, path] of [
      [4n, 0, '/r/a'],
      [7n, 0, '/r/e1'],
      [7n, 2, '/r/e2'],
    ] as const)
      registry.deliverReplay(event('deleted', path, zxid, index), further)
    registry.deliver(event('created', '/r/b', 10n), next)
    expect(log).toEqual([
      'r dataChanged /r/a 4:0',
      'r deleted /r/e1 7:0',
      'r deleted /r/e2 7:2',
      'r created /r/b 10:0',
    ])
  })

  it('keeps live events from a stream until its watch is confirmed: they would move it past its own replay', () => {
    const registry = new ClientWatchRegistry()
    const log: string[] = []
    addLive(registry, '/r', true, sink(log, 'r')) // confirmed: takes live events
    registry.addSink('/r/c', false, sink(log, 'c'), wholeTxn(2n)) // its addWatch is on its way
    registry.deliver(event('dataChanged', '/r/c', 8n), LIVE) // came for /r
    const registration = { path: '/r/c', recursive: false, from: wholeTxn(2n) }
    registry.deliverReplay(event('childrenChanged', '/r/c', 5n, 1), registration)
    registry.deliverReplay(event('dataChanged', '/r/c', 8n), registration)
    registry.acknowledge(registration, 8n, undefined, LIVE)
    registry.deliver(event('dataChanged', '/r/c', 9n), LIVE)
    expect(log).toEqual([
      'r dataChanged /r/c 8:0',
      'c childrenChanged /r/c 5:1',
      'c dataChanged /r/c 8:0',
      'c dataChanged /r/c 9:0',
      'r dataChanged /r/c 9:0',
    ])
  })

  it('lets a new stream share a confirmed server watch at once', () => {
    const registry = new ClientWatchRegistry()
    const log: string[] = []
    addLive(registry, '/p', false, sink(log, 'first'))
    expect(registry.addSink('/p', false, sink(log, 'second'), wholeTxn(3n), LIVE)).toBe(false)
    registry.deliver(event('dataChanged', '/p', 4n), LIVE)
    expect(log).toEqual(['first dataChanged /p 4:0', 'second dataChanged /p 4:0'])
  })

  it('moves streams live on a connection up to its covered zxid when it ends, and no others', () => {
    const registry = new ClientWatchRegistry()
    const live = {}
    registry.addSink('/a', false, sink([], 'a'), wholeTxn(1n))
    registry.addSink('/b', false, sink([], 'b'), wholeTxn(1n))
    registry.acknowledge({ path: '/a', recursive: false, from: wholeTxn(1n) }, 3n, undefined, live)
    registry.connectionEnded({}, 50n)
    registry.connectionEnded(live, 20n)
    expect(registry.streamRegistrations()).toEqual([
      { path: '/a', recursive: false, from: wholeTxn(20n) },
      { path: '/b', recursive: false, from: wholeTxn(1n) },
    ])
  })

  it('tells the streams an unreplayable addWatch was for that they may have missed changes', () => {
    const registry = new ClientWatchRegistry()
    const log: string[] = []
    registry.addSink('/p', false, sink(log, 'old'), wholeTxn(2n))
    registry.addSink('/p', false, sink(log, 'new'), wholeTxn(30n))
    registry.acknowledge(
      { path: '/p', recursive: false, from: wholeTxn(2n) },
      40n,
      { oldestZxid: 25n },
      {},
    )
    registry.acknowledge(
      { path: '/p', recursive: false, from: wholeTxn(2n) },
      40n,
      { oldestZxid: 25n },
      {},
    )
    expect(log).toEqual(['old compacted /p 40 25', 'new compacted /p 40 25'])
  })

  it('does not pass a one-shot catch-up event to streams, which get their own replay', () => {
    const registry = new ClientWatchRegistry()
    const log: string[] = []
    addLive(registry, '/r', true, sink(log, 'r'))
    registry.addOneShot('data', '/r/b', (e) => log.push(`one-shot ${e?.event ?? 'lost'}`))
    registry.deliver({ ...event('dataChanged', '/r/b', 5n), oneShotOnly: true }, LIVE)
    expect(log).toEqual(['one-shot dataChanged'])
  })

  it('ends the streams an addWatch was refused for, and keeps those it was not for', () => {
    const registry = new ClientWatchRegistry()
    const early = sink([], 'early')
    const late = sink([], 'late')
    registry.addSink('/p', false, early, wholeTxn(1n))
    registry.addSink('/p', false, late, wholeTxn(9n))
    const error = new Error('QUOTA_EXCEEDED')
    expect(registry.refuse({ path: '/p', recursive: false, from: wholeTxn(5n) }, error)).toBe(false)
    expect(late.failed).toEqual([error])
    expect(early.failed).toEqual([])
  })

  it('splits a large re-registration into setWatches requests under the server cap, losing and repeating no path', () => {
    const registry = new ClientWatchRegistry()
    const count = 2 * SET_WATCHES_PATHS_MAX + 5
    for (let i = 0; i < count; i++)
      registry.addOneShot(i % 2 === 0 ? 'data' : 'child', `/n${i}`, () => {})
    const requests = registry.setWatchesRequests(9n)
    expect(requests.length).toBe(3)
    const all: string[] = []
    for (const request of requests) {
      const lists = [request.data, request.exist, request.child]
      expect(lists.reduce((n, list) => n + list.length, 0)).toBeLessThanOrEqual(
        SET_WATCHES_PATHS_MAX,
      )
      expect(request.relativeZxid).toBe(9n)
      // Each request must fit a client frame, which the server checks before anything else.
      expect(encodeClientMessage({ type: 'request', xid: 1, request }).length).toBeLessThan(
        FRAME_BYTES_MAX,
      )
      all.push(...lists.flat())
    }
    expect(all.length).toBe(count)
    expect(new Set(all).size).toBe(count)
  })

  it('splits by path characters too, so requests of long paths fit a frame', () => {
    const registry = new ClientWatchRegistry()
    for (let i = 0; i < 600; i++)
      registry.addOneShot('exist', `/${i}-${'y'.repeat(4000)}`, () => {})
    const requests = registry.setWatchesRequests(0n)
    expect(requests.length).toBeGreaterThan(1)
    for (const request of requests)
      expect(encodeClientMessage({ type: 'request', xid: 1, request }).length).toBeLessThan(
        FRAME_BYTES_MAX,
      )
    expect(requests.flatMap((r) => r.exist).length).toBe(600)
  })

  it('reports the first and last sink on a path so the server watch is added and removed once', () => {
    const registry = new ClientWatchRegistry()
    const a = sink([], 'a')
    const b = sink([], 'b')
    expect(registry.addSink('/p', false, a, START)).toBe(true)
    expect(registry.addSink('/p', false, b, START)).toBe(false)
    expect(registry.addSink('/p', true, a, START)).toBe(true) // recursive is a separate registration
    expect(registry.removeSink('/p', false, a)).toBe(false)
    expect(registry.removeSink('/p', false, a)).toBe(false)
    expect(registry.removeSink('/p', false, b)).toBe(true)
  })

  it('ends sinks on dropAll with the error given (lost) or normally (closed), and forgets one-shots', () => {
    const registry = new ClientWatchRegistry()
    const log: string[] = []
    const s = sink(log, 's')
    addLive(registry, '/p', false, s)
    registry.addOneShot('data', '/p', (e) => log.push(`one-shot ${e?.event ?? 'lost'}`))
    registry.addOneShot('child', '/q', (e) => log.push(`child ${e?.event ?? 'lost'}`))
    const error = new Error('lost')
    registry.dropAll(error)
    registry.deliver(event('dataChanged', '/p'), LIVE)
    // A lost session tells each one-shot once (nothing waits for a watch that cannot fire).
    expect(log).toEqual(['one-shot lost', 'child lost'])
    expect(s.failed).toEqual([error])
    expect(registry.setWatchesRequests(0n)).toEqual([])
  })

  it('drops one-shots without calling them when the client closes', () => {
    const registry = new ClientWatchRegistry()
    const log: string[] = []
    registry.addOneShot('data', '/p', (e) => log.push(`one-shot ${e?.event ?? 'lost'}`))
    registry.dropAll(null)
    registry.deliver(event('dataChanged', '/p'), LIVE)
    expect(log).toEqual([])
  })

  it('routes random events as the rules say', () => {
    const segment = fc.constantFrom('a', 'b', 'c')
    const path = fc.array(segment, { maxLength: 3 }).map((parts) => '/' + parts.join('/'))
    const kind = fc.constantFrom<WatchEventType>(
      'created',
      'deleted',
      'dataChanged',
      'childrenChanged',
    )
    fc.assert(
      fc.property(
        fc.array(fc.tuple(path, fc.boolean())),
        fc.array(fc.tuple(kind, path), { maxLength: 6 }),
        (sinks, events) => {
          const registry = new ClientWatchRegistry()
          const got: string[] = []
          sinks.forEach(([p, recursive], i) =>
            addLive(registry, p, recursive, {
              push: (e) => got.push(`${i} ${e.type === 'event' ? e.event : e.type} ${e.path}`),
              fail: () => {},
            }),
          )
          const want: string[] = []
          for (const [j, [k, p]] of events.entries()) {
            registry.deliver(event(k, p, BigInt(j + 1)), LIVE)
            sinks.forEach(([q, recursive], i) => {
              const match = recursive ? k !== 'childrenChanged' && isAncestorOrSelf(q, p) : q === p
              if (match) want.push(`${i} ${k} ${p}`)
            })
          }
          expect([...got].sort()).toEqual([...want].sort())
        },
      ),
    )
  })
})
