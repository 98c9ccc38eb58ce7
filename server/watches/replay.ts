/**
 * Replay: what a persistent or recursive watch registered with a position is sent
 * before it goes live — every change in the member's window after that position that
 * the watch would have reported, in the order live watches saw them (issue 11).
 */
import type { EventMessage, Zxid } from '../../protocol/index.js'
import type { ChangeWindow, Position } from './change-window.js'
import { fires } from './watch-kinds.js'

/** EVENT_OVERHEAD_BYTES is an upper bound on an event frame beyond its path's UTF-8 bytes. */
const EVENT_OVERHEAD_BYTES = 64

/** ReplayPlan is the outcome of a replay request. */
export type ReplayPlan =
  /** events to send, in order, before the watch goes live */
  | { kind: 'events'; events: EventMessage[] }
  /** the position is older than the window, or the replay would pass `bytesMax`: nothing is replayed */
  | { kind: 'compacted'; oldestZxid: Zxid }
  /** the position is beyond what this member has applied */
  | { kind: 'ahead' }

/**
 * planReplay lists the events a persistent (or, `recursive`, persistent-recursive) watch
 * on `path` missed after `from`, given the member has applied up to `appliedZxid`. The
 * events' estimated frame bytes may not pass `bytesMax` (the connection's output bound):
 * a replay that would is answered `compacted`, as the client then re-reads anyway.
 */
export function planReplay(
  window: ChangeWindow,
  watch: { path: string; recursive: boolean },
  from: Position,
  appliedZxid: Zxid,
  bytesMax: number,
): ReplayPlan {
  if (from.zxid > appliedZxid) return { kind: 'ahead' }
  if (!window.covers(from.zxid)) return { kind: 'compacted', oldestZxid: window.oldestZxid }
  const kind = watch.recursive ? 'persistentRecursive' : 'persistent'
  const events: EventMessage[] = []
  let bytes = 0
  for (const { zxid, index, change } of window.after(from)) {
    if (!fires(kind, watch.path, change)) continue
    bytes += EVENT_OVERHEAD_BYTES + change.path.length * 3
    if (bytes > bytesMax) return { kind: 'compacted', oldestZxid: window.oldestZxid }
    events.push({ type: 'event', zxid, index, event: change.type, path: change.path })
  }
  return { kind: 'events', events }
}
