/**
 * The watch-stream checker: judges what one recursive watch delivered against what was
 * committed under its root. The watch soak (test/integration/watch-soak.test.ts) feeds
 * it; pure (no I/O, no clock), so its own tests can hand it made-up streams.
 *
 * What was committed is not read from a log; it is pinned down by the workload's shape:
 * - A chain is a node changed only by set (the soak's compare-and-set chains). Each
 *   committed set bumps the version by one, so the final version says how many
 *   dataChanged events the stream owes, and each acknowledged set pins one version to a
 *   zxid (an anchor: its reply's mzxid). Between two anchors (version n1 at z1, n2 at z2)
 *   the stream owes exactly n2 - n1 events with zxids in (z1, z2], the last at z2. Writes
 *   whose outcome is unknown need no anchor: the versions count them.
 * - A life is a node created and deleted again and again, absent when the stream began:
 *   its events alternate created, deleted, created...; each acknowledged create and
 *   delete is an anchor, and the node's final state says which event came last.
 * - The parent's cversion counts its children's creates (Conclave's cversion leaves
 *   deletes out, docs/concepts.md), and its pzxid is the last child create or delete.
 *
 * The stream must hold every owed event exactly once, in zxid order (non-decreasing
 * over the stream: one txn may change several nodes; strictly increasing per path), and
 * nothing else. A `compacted` event (zxid: where the stream goes on after; oldestZxid:
 * the oldest zxid the server could still replay from) excuses exactly the events in
 * (the stream's position before it, its zxid]; nothing owed outside such a gap may be
 * missing, and a compaction while the server could still replay is itself wrong.
 */
import { formatZxid } from '../../protocol/zxid.js'

/** StreamEvent is one delivered event; `type` is a string so future types (compacted) fit. */
export interface StreamEvent {
  type: string
  path: string
  zxid: bigint
  /** oldestZxid comes with `compacted` events only. */
  oldestZxid?: bigint | undefined
}

/** Anchor pins a node's version to the zxid of the txn that made it. */
export interface Anchor {
  version: number
  zxid: bigint
}

/** Chain is a node changed only by set. */
export interface Chain {
  path: string
  /** startVersion is the version when the stream began: changes up to it are not owed. */
  startVersion: number
  finalVersion: number
  /** finalMzxid is the zxid of the last set (ignored when no set happened). */
  finalMzxid: bigint
  /** acked are the acknowledged sets: the version each produced, at its reply's mzxid. */
  acked: readonly Anchor[]
}

/** Life is a node created and deleted over and over, absent when the stream began. */
export interface Life {
  path: string
  /** finalCzxid is the czxid of the node at the end, null when it is absent. */
  finalCzxid: bigint | null
  ackedCreates: readonly bigint[]
  ackedDeletes: readonly bigint[]
}

/** ChildCreates is what the parent's Stat says about its children since the stream began. */
export interface ChildCreates {
  parent: string
  /** count is the cversion difference: how many child creates were committed. */
  count: number
  /** lastZxid is the parent's final pzxid: its last child create or delete (checked when some happened). */
  lastZxid: bigint
}

/** Note labels a zxid in messages, e.g. the position at which the watcher reconnected. */
export interface Note {
  zxid: bigint
  text: string
}

/** WatchStreamExpectation is what the stream owes. */
export interface WatchStreamExpectation {
  root: string
  /** startZxid is the stream's position when it began: it owes the changes after it. */
  startZxid: bigint
  chains: readonly Chain[]
  lives?: readonly Life[]
  children?: ChildCreates
  notes?: readonly Note[]
}

/** Compaction is one `compacted` event and the gap it excuses: (fromZxid, zxid]. */
export interface Compaction {
  index: number
  fromZxid: bigint
  zxid: bigint
  oldestZxid: bigint | undefined
}

/** WatchStreamReport is the verdict. */
export interface WatchStreamReport {
  ok: boolean
  /** violations are one multi-line text each, the first line naming the node or event. */
  violations: string[]
  compactions: Compaction[]
  /** forgivenEvents counts owed events the stream skipped inside a compaction gap. */
  forgivenEvents: number
  /** byType counts delivered events by type. */
  byType: Record<string, number>
}

/** NOTES_PER_RANGE_MAX bounds how many notes one missing range names. */
const NOTES_PER_RANGE_MAX = 3
/** ABSENT_SHOWN_MAX bounds how many eventless anchors one missing range names. */
const ABSENT_SHOWN_MAX = 3

const z = formatZxid

/** checkWatchStream judges `events` (in delivery order) against `expected`. */
export function checkWatchStream(
  events: readonly StreamEvent[],
  expected: WatchStreamExpectation,
): WatchStreamReport {
  const violations: string[] = []
  const compactions: Compaction[] = []
  const byType: Record<string, number> = {}
  const byPath = new Map<string, { type: string; zxid: bigint; index: number }[]>()
  const seen = new Set<string>()
  const describe = (index: number, e: StreamEvent) =>
    `event #${index} ${e.type} ${e.path} at ${z(e.zxid)}`

  // Pass 1: the stream as a sequence: order, duplicates, scope, compaction gaps.
  // position: the highest zxid delivered; floor: events must lie strictly above it
  // (the start, then each compaction point, where the stream says it goes on after).
  let position = expected.startZxid
  let floor = expected.startZxid
  for (const [index, event] of events.entries()) {
    byType[event.type] = (byType[event.type] ?? 0) + 1
    if (event.type === 'compacted') {
      if (event.zxid < position)
        violations.push(
          `${describe(index, event)}: a compaction point behind the stream's position ${z(position)}`,
        )
      if (event.oldestZxid !== undefined && event.oldestZxid <= position)
        violations.push(
          `${describe(index, event)}: compacted although the server could replay from ${z(event.oldestZxid)} and the stream stood at ${z(position)}`,
        )
      compactions.push({
        index,
        fromZxid: position,
        zxid: event.zxid,
        oldestZxid: event.oldestZxid,
      })
      if (event.zxid > position) position = event.zxid
      if (event.zxid > floor) floor = event.zxid
      continue
    }
    if (event.zxid <= expected.startZxid)
      violations.push(
        `${describe(index, event)}: from before the stream began (${z(expected.startZxid)})`,
      )
    else if (event.zxid < position || event.zxid <= floor)
      violations.push(
        `${describe(index, event)}: out of zxid order (the stream was already at ${z(position)})`,
      )
    if (event.zxid > position) position = event.zxid
    const key = `${event.type} ${event.path} ${event.zxid}`
    if (seen.has(key)) violations.push(`${describe(index, event)}: delivered twice`)
    seen.add(key)
    if (!isAncestorOrSelf(expected.root, event.path))
      violations.push(`${describe(index, event)}: outside the watched subtree ${expected.root}`)
    let list = byPath.get(event.path)
    if (list === undefined) byPath.set(event.path, (list = []))
    list.push({ type: event.type, zxid: event.zxid, index })
  }
  for (const [path, list] of byPath) {
    for (let i = 1; i < list.length; i++) {
      const [before, after] = [list[i - 1]!, list[i]!]
      if (after.zxid <= before.zxid)
        violations.push(
          `${path}: event #${after.index} (${after.type} at ${z(after.zxid)}) does not follow event #${before.index} (${before.type} at ${z(before.zxid)}) in zxid order`,
        )
    }
  }

  const gaps = compactions.map((c) => ({ from: c.fromZxid, to: c.zxid }))
  /** inGap: a compaction excuses an event at zxid `at`. */
  const inGap = (at: bigint) => gaps.some((g) => at > g.from && at <= g.to)
  /** gapWithin: some compaction excuses a zxid strictly between `lo` and `hi`. */
  const gapWithin = (lo: bigint, hi: bigint) =>
    gaps.some((g) => (g.from > lo ? g.from : lo) + 1n <= (g.to < hi - 1n ? g.to : hi - 1n))
  const notesIn = (lo: bigint, hi: bigint) => {
    const texts = (expected.notes ?? [])
      .filter((n) => n.zxid >= lo && n.zxid < hi)
      .map((n) => `${n.text} at ${z(n.zxid)}`)
    const hits = [...new Set(texts)]
    if (hits.length === 0) return ''
    const shown = hits.slice(0, NOTES_PER_RANGE_MAX)
    const more = hits.length > shown.length ? `, ${hits.length - shown.length} more` : ''
    return ` (${shown.join('; ')}${more})`
  }
  let forgivenEvents = 0
  const known = new Set<string>()

  for (const chain of expected.chains) {
    known.add(chain.path)
    const list = byPath.get(chain.path) ?? []
    const details: string[] = []
    for (const e of list)
      if (e.type !== 'dataChanged')
        details.push(`event #${e.index} ${e.type} at ${z(e.zxid)}: only sets change this node`)
    const changed = list.filter((e) => e.type === 'dataChanged').map((e) => e.zxid)
    const anchors = chainAnchors(chain, expected.startZxid, details)
    // Consecutive ranges that come up short are one run, reported on one line: a stream
    // that went deaf for a while misses every version of it, not one range at a time.
    let run: { low: Anchor; high: Anchor; owed: number; got: number; absent: Anchor[] } | null =
      null
    const flush = () => {
      if (run === null) return
      const { low, high, owed, got, absent } = run
      const range = `versions ${low.version + 1}..${high.version} (zxids ${z(low.zxid)} < zxid <= ${z(high.zxid)})`
      const what =
        got === owed
          ? `events at the wrong zxids in ${range}`
          : `missing ${owed - got} of ${range}: ${got} of ${owed} dataChanged events`
      const final = anchors.at(-1)
      const shown = absent
        .slice(0, ABSENT_SHOWN_MAX)
        .map(
          (a) =>
            `version ${a.version} at ${z(a.zxid)} (${a === final ? 'the final mzxid' : 'an acknowledged write'})`,
        )
      const more = absent.length > shown.length ? ` and ${absent.length - shown.length} more` : ''
      const absentText = shown.length === 0 ? '' : `; no event for ${shown.join(', ')}${more}`
      details.push(`${what}${absentText}${notesIn(low.zxid, high.zxid)}`)
      run = null
    }
    for (let i = 1; i < anchors.length; i++) {
      const [low, high] = [anchors[i - 1]!, anchors[i]!]
      const owed = high.version - low.version
      const got = changed.filter((at) => at > low.zxid && at <= high.zxid).length
      const anchorSeen = changed.includes(high.zxid)
      if (got > owed) {
        flush()
        details.push(
          `versions ${low.version + 1}..${high.version} (zxids ${z(low.zxid)} < zxid <= ${z(high.zxid)}): ${got} dataChanged events for ${owed} sets`,
        )
        continue
      }
      const missingInner = owed - 1 - (got - (anchorSeen ? 1 : 0))
      const innerExcused = missingInner <= 0 || gapWithin(low.zxid, high.zxid)
      const anchorExcused = anchorSeen || inGap(high.zxid)
      if (innerExcused && anchorExcused) {
        forgivenEvents += owed - got
        flush()
        continue
      }
      run ??= { low, high, owed: 0, got: 0, absent: [] }
      run.high = high
      run.owed += owed
      run.got += got
      if (!anchorSeen) run.absent.push(high)
    }
    flush()
    const last = anchors.at(-1)!
    const after = changed.filter((at) => at > last.zxid)
    if (after.length > 0)
      details.push(
        `${after.length} dataChanged events after its last change at ${z(last.zxid)}, first at ${z(after[0]!)}`,
      )
    if (details.length > 0) {
      const owedTotal = chain.finalVersion - chain.startVersion
      violations.push(
        [
          `key ${chain.path}: version ${chain.finalVersion} (mzxid ${z(chain.finalMzxid)}) but ${changed.length} dataChanged events for the ${owedTotal} sets since version ${chain.startVersion}`,
          ...details.map((d) => `  ${d}`),
        ].join('\n'),
      )
    }
  }

  for (const life of expected.lives ?? []) {
    known.add(life.path)
    const list = byPath.get(life.path) ?? []
    const details: string[] = []
    let expectNext = 'created'
    let previous: { type: string; zxid: bigint } = { type: 'start', zxid: expected.startZxid }
    for (const e of list) {
      if (e.type !== 'created' && e.type !== 'deleted') {
        details.push(`event #${e.index} ${e.type} at ${z(e.zxid)}: this node is never set`)
        continue
      }
      if (e.type !== expectNext) {
        if (gapWithin(previous.zxid, e.zxid)) forgivenEvents += 1
        else
          details.push(
            `event #${e.index} ${e.type} at ${z(e.zxid)} follows ${previous.type} at ${z(previous.zxid)}: the ${expectNext} between them is missing${notesIn(previous.zxid, e.zxid)}`,
          )
      }
      expectNext = e.type === 'created' ? 'deleted' : 'created'
      previous = e
    }
    const has = (type: string, at: bigint) => list.some((e) => e.type === type && e.zxid === at)
    for (const [type, acked] of [
      ['created', life.ackedCreates],
      ['deleted', life.ackedDeletes],
    ] as const) {
      const absent = acked.filter((at) => !has(type, at) && !inGap(at))
      if (absent.length === 0) continue
      const shown = absent.slice(0, ABSENT_SHOWN_MAX).map(z).join(', ')
      const more =
        absent.length > ABSENT_SHOWN_MAX ? ` and ${absent.length - ABSENT_SHOWN_MAX} more` : ''
      const op = type.slice(0, -1)
      details.push(
        absent.length === 1
          ? `no ${type} event for the acknowledged ${op} at ${shown}`
          : `no ${type} event for ${absent.length} acknowledged ${op}s: at ${shown}${more}`,
      )
    }
    const lastEvent = list.at(-1)
    if (life.finalCzxid !== null) {
      const lastIsCreate = lastEvent?.type === 'created' && lastEvent.zxid === life.finalCzxid
      if (!lastIsCreate && !inGap(life.finalCzxid))
        details.push(
          `it exists with czxid ${z(life.finalCzxid)} but the last event is ${lastEvent === undefined ? 'none' : `${lastEvent.type} at ${z(lastEvent.zxid)}`}`,
        )
    } else if (lastEvent !== undefined && lastEvent.type !== 'deleted') {
      if (!gaps.some((g) => g.to > lastEvent.zxid))
        details.push(
          `it is absent at the end but the last event is ${lastEvent.type} at ${z(lastEvent.zxid)}`,
        )
    }
    if (details.length > 0)
      violations.push(
        [
          `node ${life.path}: ${list.length} created/deleted events`,
          ...details.map((d) => `  ${d}`),
        ].join('\n'),
      )
  }

  const children = expected.children
  if (children !== undefined) {
    const childEvents = events.filter(
      (e) =>
        (e.type === 'created' || e.type === 'deleted') &&
        parentOf(e.path) === children.parent &&
        e.zxid > expected.startZxid,
    )
    const creates = childEvents.filter((e) => e.type === 'created').length
    const what = `children of ${children.parent}: ${creates} created events for ${children.count} committed child creates (cversion)`
    if (creates > children.count) violations.push(what)
    else if (creates < children.count && compactions.length === 0)
      violations.push(`${what}: ${children.count - creates} missing`)
    const lastChild = childEvents.at(-1)
    if (lastChild !== undefined && compactions.length === 0 && lastChild.zxid !== children.lastZxid)
      violations.push(
        `children of ${children.parent}: the last child event is at ${z(lastChild.zxid)}, the parent's pzxid (its last child create or delete) is ${z(children.lastZxid)}`,
      )
  }

  for (const [path, list] of byPath) {
    if (known.has(path)) continue
    const first = list[0]!
    violations.push(
      `${path}: ${list.length} events (first: #${first.index} ${first.type} at ${z(first.zxid)}) for a node the workload never changed`,
    )
  }

  return { ok: violations.length === 0, violations, compactions, forgivenEvents, byType }
}

/**
 * chainAnchors lists a chain's anchors by version: the start, every acknowledged set,
 * and the final Stat. Contradictory acknowledgements (one version at two zxids, zxids
 * not growing with versions) are reported in `details` and dropped.
 */
function chainAnchors(chain: Chain, startZxid: bigint, details: string[]): Anchor[] {
  const anchors: Anchor[] = [{ version: chain.startVersion, zxid: startZxid }]
  const candidates = [...chain.acked]
  if (chain.finalVersion > chain.startVersion)
    candidates.push({ version: chain.finalVersion, zxid: chain.finalMzxid })
  candidates.sort((a, b) => a.version - b.version)
  for (const anchor of candidates) {
    const last = anchors.at(-1)!
    if (anchor.version > chain.finalVersion || anchor.version <= chain.startVersion) {
      details.push(
        `an acknowledged set made version ${anchor.version} at ${z(anchor.zxid)}, outside ${chain.startVersion + 1}..${chain.finalVersion}`,
      )
    } else if (anchor.version === last.version) {
      if (anchor.zxid !== last.zxid)
        details.push(
          `version ${anchor.version} acknowledged at two zxids: ${z(last.zxid)} and ${z(anchor.zxid)}`,
        )
    } else if (anchor.zxid <= last.zxid) {
      details.push(
        `version ${anchor.version} acknowledged at ${z(anchor.zxid)}, not after version ${last.version} at ${z(last.zxid)}`,
      )
    } else anchors.push(anchor)
  }
  return anchors
}

/** renderWatchStreamReport renders the verdict: a headline, then up to `limit` violations. */
export function renderWatchStreamReport(report: WatchStreamReport, limit = 40): string {
  const types = Object.entries(report.byType)
    .map(([type, n]) => `${type} ${n}`)
    .join(', ')
  const head = report.ok
    ? `watch stream ok: ${types || 'no events'}`
    : `watch stream: ${report.violations.length} violations (events: ${types || 'none'})`
  const compacted =
    report.compactions.length === 0
      ? []
      : [
          `${report.compactions.length} compactions, ${report.forgivenEvents} owed events excused: ${report.compactions
            .map(
              (c) =>
                `#${c.index} (${z(c.fromZxid)}, ${z(c.zxid)}]${c.oldestZxid === undefined ? '' : ` oldest ${z(c.oldestZxid)}`}`,
            )
            .join(', ')}`,
        ]
  const shown = report.violations.slice(0, limit)
  const more =
    report.violations.length > shown.length
      ? [`... and ${report.violations.length - shown.length} more`]
      : []
  return [head, ...compacted, ...shown, ...more].join('\n')
}

function isAncestorOrSelf(ancestor: string, path: string): boolean {
  return ancestor === '/' || path === ancestor || path.startsWith(`${ancestor}/`)
}

function parentOf(path: string): string {
  const cut = path.lastIndexOf('/')
  return cut <= 0 ? '/' : path.slice(0, cut)
}
