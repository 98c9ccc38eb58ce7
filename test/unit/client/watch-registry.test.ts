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
import { ClientWatchRegistry, type WatchSink } from '../../../client/watch-registry.js'

function event(kind: WatchEventType, path: string, zxid = 1n): EventMessage {
  return { type: 'event', event: kind, path, zxid }
}

function sink(into: string[], name: string): WatchSink & { failed: Array<Error | null> } {
  const failed: Array<Error | null> = []
  return {
    push: (e) => into.push(`${name} ${e.event} ${e.path}`),
    fail: (error) => failed.push(error),
    failed,
  }
}

describe('ClientWatchRegistry', () => {
  it('fires one-shot callbacks once and forgets them', () => {
    const registry = new ClientWatchRegistry()
    const log: string[] = []
    registry.addOneShot('data', '/a', (e) => log.push(e?.event ?? 'lost'))
    registry.deliver(event('dataChanged', '/a'))
    registry.deliver(event('dataChanged', '/a'))
    expect(log).toEqual(['dataChanged'])
    expect(registry.setWatchesRequests(0n)).toEqual([])
  })

  it('keeps a child watch through data events and a data watch through child events', () => {
    const registry = new ClientWatchRegistry()
    const log: string[] = []
    registry.addOneShot('child', '/a', (e) => log.push(`child ${e?.event ?? 'lost'}`))
    registry.addOneShot('data', '/a', (e) => log.push(`data ${e?.event ?? 'lost'}`))
    registry.deliver(event('dataChanged', '/a'))
    registry.deliver(event('childrenChanged', '/a'))
    expect(log).toEqual(['data dataChanged', 'child childrenChanged'])
  })

  it('lists every registered path by kind for setWatches', () => {
    const registry = new ClientWatchRegistry()
    registry.addOneShot('data', '/d', () => {})
    registry.addOneShot('exist', '/e', () => {})
    registry.addOneShot('child', '/c', () => {})
    registry.addSink('/p', false, sink([], 'p'))
    registry.addSink('/r', true, sink([], 'r'))
    expect(registry.setWatchesRequests(77n)).toEqual([
      {
        op: 'setWatches',
        relativeZxid: 77n,
        data: ['/d'],
        exist: ['/e'],
        child: ['/c'],
        persistent: ['/p'],
        persistentRecursive: ['/r'],
      },
    ])
  })

  it('splits a large re-registration into setWatches requests under the server cap, losing and repeating no path', () => {
    const registry = new ClientWatchRegistry()
    const count = 2 * SET_WATCHES_PATHS_MAX + 5
    for (let i = 0; i < count; i++)
      registry.addOneShot(i % 2 === 0 ? 'data' : 'child', `/n${i}`, () => {})
    registry.addSink('/long/' + 'x'.repeat(4000), true, sink([], 'r'))
    const requests = registry.setWatchesRequests(9n)
    expect(requests.length).toBe(3)
    const all: string[] = []
    for (const request of requests) {
      const lists = [
        request.data,
        request.exist,
        request.child,
        request.persistent,
        request.persistentRecursive,
      ]
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
    expect(all.length).toBe(count + 1)
    expect(new Set(all).size).toBe(count + 1)
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
    expect(registry.addSink('/p', false, a)).toBe(true)
    expect(registry.addSink('/p', false, b)).toBe(false)
    expect(registry.addSink('/p', true, a)).toBe(true) // recursive is a separate registration
    expect(registry.removeSink('/p', false, a)).toBe(false)
    expect(registry.removeSink('/p', false, a)).toBe(false)
    expect(registry.removeSink('/p', false, b)).toBe(true)
  })

  it('ends sinks on dropAll with the error given (lost) or normally (closed), and forgets one-shots', () => {
    const registry = new ClientWatchRegistry()
    const log: string[] = []
    const s = sink(log, 's')
    registry.addSink('/p', false, s)
    registry.addOneShot('data', '/p', (e) => log.push(`one-shot ${e?.event ?? 'lost'}`))
    registry.addOneShot('child', '/q', (e) => log.push(`child ${e?.event ?? 'lost'}`))
    const error = new Error('lost')
    registry.dropAll(error)
    registry.deliver(event('dataChanged', '/p'))
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
    registry.deliver(event('dataChanged', '/p'))
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
            registry.addSink(p, recursive, {
              push: (e) => got.push(`${i} ${e.event} ${e.path}`),
              fail: () => {},
            }),
          )
          const want: string[] = []
          for (const [k, p] of events) {
            registry.deliver(event(k, p))
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
