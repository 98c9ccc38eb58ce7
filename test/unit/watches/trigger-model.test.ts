/**
 * WatchRegistry against a naive reference model, with fast-check. The model keeps a
 * flat set of (watcher, kind, path) registrations and, for each change, scans every one
 * of them with the trigger matrix written out directly; the registry under test uses
 * per-kind path indexes and an ancestor walk. Random schedules of registrations,
 * removals by kind, connection closes and batches of changes over a small, deliberately
 * confusable set of paths (/a, /ab, /a/b, /a/bc ...) must give the same notifications
 * in the same order and leave the same watches behind.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { WatchEventType, WatchKind } from '../../../protocol/index.js'
import {
  WatchRegistry,
  type RegisteredWatchKind,
  type WatchChange,
} from '../../../server/watches/index.js'

const PATHS = ['/', '/a', '/ab', '/a/b', '/a/bc', '/a/b/c', '/b']
const KINDS: RegisteredWatchKind[] = ['data', 'exist', 'child', 'persistent', 'persistentRecursive']
const WIRE_KINDS: WatchKind[] = ['data', 'children', 'persistent', 'persistentRecursive', 'any']
const EVENTS: WatchEventType[] = ['created', 'deleted', 'dataChanged', 'childrenChanged']

type Step =
  | { op: 'add'; kind: RegisteredWatchKind; path: string; watcher: number }
  | { op: 'remove'; kind: WatchKind; path: string; watcher: number }
  | { op: 'close'; watcher: number }
  | { op: 'trigger'; changes: WatchChange[] }

const path = fc.constantFrom(...PATHS)
const watcher = fc.integer({ min: 1, max: 4 })
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('add' as const),
      kind: fc.constantFrom(...KINDS),
      path,
      watcher,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('remove' as const),
      kind: fc.constantFrom(...WIRE_KINDS),
      path,
      watcher,
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('close' as const), watcher }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('trigger' as const),
      changes: fc.array(fc.record({ type: fc.constantFrom(...EVENTS), path }), {
        minLength: 1,
        maxLength: 4,
      }),
    }),
  },
)

/** NaiveWatches: the trigger matrix written out as a predicate over a flat list. */
class NaiveWatches {
  readonly registrations = new Map<
    string,
    { watcher: number; kind: RegisteredWatchKind; path: string }
  >()

  add(kind: RegisteredWatchKind, path: string, watcher: number): void {
    this.registrations.set(`${watcher} ${kind} ${path}`, { watcher, kind, path })
  }

  remove(kind: WatchKind, path: string, watcher: number): boolean {
    const removes: Record<WatchKind, RegisteredWatchKind[]> = {
      data: ['data', 'exist'],
      children: ['child'],
      persistent: ['persistent'],
      persistentRecursive: ['persistentRecursive'],
      any: KINDS,
    }
    let removed = false
    for (const k of removes[kind])
      removed = this.registrations.delete(`${watcher} ${k} ${path}`) || removed
    return removed
  }

  close(watcher: number): void {
    for (const [key, r] of this.registrations)
      if (r.watcher === watcher) this.registrations.delete(key)
  }

  trigger(changes: WatchChange[]): string[] {
    const out: string[] = []
    for (const { type, path } of changes) {
      const recipients = new Set<number>()
      for (const [key, r] of this.registrations) {
        if (!matches(r.kind, r.path, type, path)) continue
        recipients.add(r.watcher)
        if (r.kind === 'data' || r.kind === 'exist' || r.kind === 'child')
          this.registrations.delete(key)
      }
      for (const w of [...recipients].sort((a, b) => a - b)) out.push(`${w}:${type}:${path}`)
    }
    return out
  }

  listing(watcher: number): string[] {
    return [...this.registrations.values()]
      .filter((r) => r.watcher === watcher)
      .map((r) => `${r.path} ${r.kind}`)
      .sort()
  }
}

function matches(
  kind: RegisteredWatchKind,
  watched: string,
  type: WatchEventType,
  path: string,
): boolean {
  switch (kind) {
    case 'data':
      return watched === path && type !== 'childrenChanged'
    case 'exist':
      return watched === path && (type === 'created' || type === 'deleted')
    case 'child':
      return watched === path && (type === 'deleted' || type === 'childrenChanged')
    case 'persistent':
      return watched === path
    case 'persistentRecursive':
      return (
        type !== 'childrenChanged' &&
        (watched === '/' || path === watched || path.startsWith(`${watched}/`))
      )
  }
}

describe('WatchRegistry matches the naive model', () => {
  it('gives the same notifications, removals and remaining watches for any schedule', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const registry = new WatchRegistry()
        const model = new NaiveWatches()
        for (const s of steps) {
          if (s.op === 'add') {
            registry.addWatch(s.kind, s.path, s.watcher)
            model.add(s.kind, s.path, s.watcher)
          } else if (s.op === 'remove') {
            expect(registry.removeWatches(s.path, s.kind, s.watcher)).toBe(
              model.remove(s.kind, s.path, s.watcher),
            )
          } else if (s.op === 'close') {
            registry.removeWatcher(s.watcher)
            model.close(s.watcher)
          } else {
            const got = registry
              .trigger(s.changes, 1n)
              .map((n) => `${n.watcher}:${n.event.event}:${n.event.path}`)
            expect(got).toEqual(model.trigger(s.changes))
          }
          expect(registry.count()).toBe(model.registrations.size)
        }
        for (let w = 1; w <= 4; w++) {
          expect(
            registry
              .watchesOf(w)
              .map((e) => `${e.path} ${e.kind}`)
              .sort(),
          ).toEqual(model.listing(w))
          expect(registry.countFor(w)).toBe(model.listing(w).length)
        }
      }),
      { numRuns: 500 },
    )
  })
})
