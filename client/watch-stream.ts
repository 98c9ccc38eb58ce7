/**
 * The async iterator behind `client.watch()`: a queue between the watch registry
 * (which pushes events as they arrive) and a `for await` loop (which pulls them).
 * Leaving the loop or aborting the signal unregisters the watch; a lost session ends
 * the loop with SessionExpiredError; closing the client ends it normally.
 */
import type { EventMessage } from '../protocol/index.js'
import type { CompactedNotice, WatchSink } from './watch-registry.js'

/**
 * WatchEvent is a change notification: what happened, to which node (chroot stripped), at
 * which zxid. Events of one txn (a multi, a session's ephemerals going) share its zxid.
 *
 * Two types are not changes. `sessionLost` reaches one-shot watchers only: their session
 * was lost before the watch fired (ZooKeeper's Expired), so it never will; `zxid` is then
 * the last one the client saw (streams end with SessionExpiredError instead).
 * `compacted` reaches streams only: the member could not replay what the stream missed
 * (its position is older than the member's change window, whose oldest replayable zxid
 * is `oldestZxid`); changes up to `zxid`, where the stream goes on, may be missing, so a
 * cache re-reads. `path` is then the watched path.
 */
export interface WatchEvent {
  type: EventMessage['event'] | 'sessionLost' | 'compacted'
  path: string
  zxid: bigint
  /** oldestZxid is set on `compacted` events only. */
  oldestZxid?: bigint
}

/** WatchStreamHooks connect a stream to the client. */
export interface WatchStreamHooks {
  /** register adds the sink and asks the server for the watch (or leaves that to the next connection). */
  register(sink: WatchSink): void
  /** unregister removes the sink and, if it was the last, tells the server. */
  unregister(sink: WatchSink): Promise<void>
  /** toEvent maps a server event to the user's view, or null to skip it (outside the chroot). */
  toEvent(event: EventMessage | CompactedNotice): WatchEvent | null
}

/** openWatchStream registers a sink at once and returns the iterator that drains it. */
export function openWatchStream(
  hooks: WatchStreamHooks,
  signal: AbortSignal | undefined,
): AsyncIterator<WatchEvent> {
  const queue: WatchEvent[] = []
  let failure: Error | undefined
  let finished = false
  let stopped: Promise<void> | undefined
  let wake: (() => void) | undefined
  const wakeReader = () => {
    wake?.()
    wake = undefined
  }
  const sink: WatchSink = {
    push: (event) => {
      if (finished) return
      const mapped = hooks.toEvent(event)
      if (mapped === null) return
      queue.push(mapped)
      wakeReader()
    },
    fail: (error) => {
      if (finished) return
      if (error === null) finished = true
      else failure = error
      wakeReader()
    },
  }
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      finished = true
      queue.length = 0
      signal?.removeEventListener('abort', onAbort)
      wakeReader()
      await hooks.unregister(sink)
    })()
    return stopped
  }
  const onAbort = () => void stop()
  if (signal?.aborted === true) {
    finished = true
  } else {
    signal?.addEventListener('abort', onAbort, { once: true })
    // Registration is issued synchronously here, so any call the user makes after starting
    // the loop is ordered behind it on the wire and its changes are seen.
    hooks.register(sink)
  }
  return {
    next: async (): Promise<IteratorResult<WatchEvent>> => {
      for (;;) {
        const event = queue.shift()
        if (event !== undefined) return { value: event, done: false }
        if (failure !== undefined) {
          const error = failure
          failure = undefined
          await stop()
          throw error
        }
        if (finished) return { value: undefined, done: true }
        await new Promise<void>((resolve) => (wake = resolve))
      }
    },
    return: async (): Promise<IteratorResult<WatchEvent>> => {
      await stop()
      return { value: undefined, done: true }
    },
  }
}
