/**
 * The watch-stream checker on made-up streams: it accepts a complete stream, names the
 * versions and zxids a stream missed, catches duplicates and disorder, and lets a
 * compaction excuse exactly the events in its gap and nothing after it.
 */
import { describe, expect, it } from 'vitest'
import {
  checkWatchStream,
  renderWatchStreamReport,
  type StreamEvent,
  type WatchStreamExpectation,
} from './watch-stream.js'

const ROOT = '/r'
const zx = (counter: number) => (1n << 32n) | BigInt(counter)
const changed = (path: string, counter: number): StreamEvent => ({
  type: 'dataChanged',
  path,
  zxid: zx(counter),
})

/** A key set at zxids 11..15 (versions 1..5); writes 2 and 4 were acknowledged. */
const keyed: WatchStreamExpectation = {
  root: ROOT,
  startZxid: zx(10),
  chains: [
    {
      path: '/r/k',
      startVersion: 0,
      finalVersion: 5,
      finalMzxid: zx(15),
      acked: [
        { version: 2, zxid: zx(12) },
        { version: 4, zxid: zx(14) },
      ],
    },
  ],
}
const complete = [11, 12, 13, 14, 15].map((c) => changed('/r/k', c))

describe('watch stream checker', () => {
  it('accepts every committed change exactly once in zxid order', () => {
    const report = checkWatchStream(complete, keyed)
    expect(report.violations).toEqual([])
    expect(report.byType).toEqual({ dataChanged: 5 })
  })

  it('names the versions and zxid range a stream missed, and the reconnect inside it', () => {
    const stream = complete.filter((e) => e.zxid !== zx(13))
    const report = checkWatchStream(stream, {
      ...keyed,
      notes: [{ zxid: zx(12), text: 'watcher reconnected to member 2' }],
    })
    expect(report.ok).toBe(false)
    expect(report.violations).toHaveLength(1)
    const text = report.violations[0]!
    expect(text).toContain('key /r/k: version 5 (mzxid 0x1_0000000f) but 4 dataChanged events')
    expect(text).toContain('missing 1 of versions 3..4 (zxids 0x1_0000000c < zxid <= 0x1_0000000e)')
    expect(text).toContain('watcher reconnected to member 2 at 0x1_0000000c')
  })

  it('reports a missing acknowledged write and a missing final change', () => {
    const stream = complete.filter((e) => e.zxid !== zx(14) && e.zxid !== zx(15))
    const text = checkWatchStream(stream, keyed).violations.join('\n')
    expect(text).toContain(
      'missing 2 of versions 3..5 (zxids 0x1_0000000c < zxid <= 0x1_0000000f): 1 of 3 dataChanged events; no event for version 4 at 0x1_0000000e (an acknowledged write), version 5 at 0x1_0000000f (the final mzxid)',
    )
  })

  it('catches duplicates, disorder and events from before the start', () => {
    const duplicated = [...complete.slice(0, 3), changed('/r/k', 13), ...complete.slice(3)]
    expect(checkWatchStream(duplicated, keyed).violations.join('\n')).toContain('delivered twice')
    const swapped = [complete[0]!, complete[2]!, complete[1]!, ...complete.slice(3)]
    expect(checkWatchStream(swapped, keyed).violations.join('\n')).toContain('out of zxid order')
    const early = [changed('/r/k', 9), ...complete]
    expect(checkWatchStream(early, keyed).violations.join('\n')).toContain(
      'from before the stream began',
    )
  })

  it('catches events for other nodes, outside the root, and of the wrong type', () => {
    const stream = [
      ...complete,
      changed('/elsewhere', 16),
      changed('/r/other', 17),
      { type: 'childrenChanged', path: '/r/k', zxid: zx(18) },
    ]
    const text = checkWatchStream(stream, keyed).violations.join('\n')
    expect(text).toContain('outside the watched subtree /r')
    expect(text).toContain('/r/other: 1 events')
    expect(text).toContain('childrenChanged at 0x1_00000012: only sets change this node')
  })

  it('lets a compaction excuse what lies in its gap, and nothing after its point', () => {
    // The stream stood at 11, compacted to 13, went on: 12 and 13 are excused.
    const compacted: StreamEvent = {
      type: 'compacted',
      path: ROOT,
      zxid: zx(13),
      oldestZxid: zx(12),
    }
    const excused = [complete[0]!, compacted, complete[3]!, complete[4]!]
    const report = checkWatchStream(excused, keyed)
    expect(report.violations).toEqual([])
    expect(report.forgivenEvents).toBe(2)
    expect(renderWatchStreamReport(report)).toContain('1 compactions, 2 owed events excused')

    // Missing 14 as well: it lies after the compaction point.
    const tooMuch = [complete[0]!, compacted, complete[4]!]
    expect(checkWatchStream(tooMuch, keyed).violations.join('\n')).toContain(
      'no event for version 4 at 0x1_0000000e (an acknowledged write)',
    )

    // A replay of the compacted range after the compaction point is out of order.
    const replayed = [complete[0]!, compacted, complete[2]!, complete[3]!, complete[4]!]
    expect(checkWatchStream(replayed, keyed).violations.join('\n')).toContain('out of zxid order')

    // Compacting while the server could still replay from the stream's position.
    const needless = [complete[0]!, { ...compacted, oldestZxid: zx(11) }, ...complete.slice(3)]
    expect(checkWatchStream(needless, keyed).violations.join('\n')).toContain(
      'compacted although the server could replay',
    )
  })

  it('checks created/deleted lives and the parent child count', () => {
    const expectation: WatchStreamExpectation = {
      root: ROOT,
      startZxid: zx(10),
      chains: [],
      lives: [{ path: '/r/n', finalCzxid: zx(15), ackedCreates: [zx(11)], ackedDeletes: [zx(12)] }],
      children: { parent: ROOT, count: 2, lastZxid: zx(15) },
    }
    const life = (type: string, counter: number): StreamEvent => ({
      type,
      path: '/r/n',
      zxid: zx(counter),
    })
    const full = [life('created', 11), life('deleted', 12), life('created', 15)]
    expect(checkWatchStream(full, expectation).violations).toEqual([])

    const text = checkWatchStream(
      [life('created', 11), life('created', 15)],
      expectation,
    ).violations.join('\n')
    expect(text).toContain('the deleted between them is missing')
    expect(text).toContain('no deleted event for the acknowledged delete at 0x1_0000000c')

    const stale = checkWatchStream(full.slice(0, 2), expectation).violations.join('\n')
    expect(stale).toContain('it exists with czxid 0x1_0000000f but the last event is deleted')
    expect(stale).toContain(
      '/r: 1 created events for 2 committed child creates (cversion): 1 missing',
    )
    expect(stale).toContain("the last child event is at 0x1_0000000c, the parent's pzxid")
  })
})
