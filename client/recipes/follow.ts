/**
 * Following a subtree across connection trouble. A watch stream resumes by itself after
 * a reconnect or a failover (the member replays what it missed), but a member may no
 * longer hold that history (a `compacted` event), and a lost session ends the stream.
 * `follow` hides both: it keeps a (recursive) watch open for as long as it runs,
 * reports every change, and reports a gap when changes may have been missed — after
 * the watch is in place again, so that a re-read then misses nothing (a change after
 * the re-registration fires an event; one before it is seen by the re-read).
 */
import { ConclaveError, SessionExpiredError } from '../errors.js'
import type { ConnectionState } from '../session.js'
import type { WatchEvent } from '../watch-stream.js'
import type { RecipeClient } from './recipe-client.js'
import { RETRY_BASE_MS, RETRY_CAP_MS } from './own-node.js'
import { backoffMs, isRetryable, sleep } from './retry.js'

/**
 * GapReason says why events may have been missed: the session was lost and a new one
 * opened ('session lost'), the member no longer had the history the stream needed to
 * resume ('compacted'), or registering the watch failed and was retried ('watch failed').
 */
export type GapReason = 'session lost' | 'compacted' | 'watch failed'

/** FollowHandlers receive what happens under the followed path. */
export interface FollowHandlers {
  /** event is called for every change, in zxid order (`compacted` events become gaps). */
  event(event: WatchEvent): void
  /** gap is called when events may have been missed: read the state again. */
  gap(reason: GapReason): void
}

/** Following is a running follow; stop it with `stop()` or the signal given to `follow`. */
export interface Following {
  /** done resolves when following has stopped (stop, signal, client closed). */
  readonly done: Promise<void>
  stop(): void
}

/**
 * follow watches `path` (its whole subtree when `recursive`) until stopped. The watch is
 * registered before `follow` returns, so a read issued after it misses nothing.
 */
export function follow(
  client: RecipeClient,
  path: string,
  options: { recursive: boolean; signal?: AbortSignal },
  handlers: FollowHandlers,
): Following {
  const controller = new AbortController()
  const onAbort = () => controller.abort()
  options.signal?.addEventListener('abort', onAbort, { once: true })
  if (options.signal?.aborted === true) controller.abort()
  let dropped: GapReason | undefined
  const onState = (state: ConnectionState) => {
    switch (state) {
      case 'lost':
        dropped = 'session lost'
        return
      case 'connected':
        if (dropped !== undefined) {
          const reason = dropped
          dropped = undefined
          handlers.gap(reason)
        }
        return
      case 'closed':
        controller.abort()
        return
      case 'suspended': // the stream resumes where it was by itself
      case 'connecting':
        return
    }
  }
  client.on('state', onState)
  // Opening the iterator registers the watch at once (before any later call on the wire).
  const open = () => {
    const stream = client.watch(path, { recursive: options.recursive, signal: controller.signal })
    return stream[Symbol.asyncIterator]()
  }
  let iterator = open()
  const done = (async () => {
    try {
      for (let failures = 0; !controller.signal.aborted;) {
        try {
          for (;;) {
            const next = await iterator.next()
            if (next.done === true) return
            failures = 0
            if (next.value.type === 'compacted') handlers.gap('compacted')
            else handlers.event(next.value)
          }
        } catch (error) {
          // The session was lost, the history was compacted, or registering the watch
          // failed for a passing reason: watch again. The gap is reported once the new
          // watch is on its way.
          const reason = gapReason(error)
          if (reason === undefined) throw error
          if (controller.signal.aborted) return
          if (isRetryable(error, true))
            await sleep(
              backoffMs(++failures, RETRY_BASE_MS, RETRY_CAP_MS),
              controller.signal,
            ).catch(() => {})
          if (controller.signal.aborted) return
          iterator = open()
          if (client.state === 'connected') handlers.gap(reason)
          else dropped = reason === 'session lost' ? reason : (dropped ?? reason)
        }
      }
    } finally {
      client.off('state', onState)
      options.signal?.removeEventListener('abort', onAbort)
    }
  })()
  return { done, stop: () => controller.abort() }
}

/** gapReason maps a watch stream's failure to the gap it leaves, or undefined for a failure to pass on. */
function gapReason(error: unknown): GapReason | undefined {
  if (error instanceof SessionExpiredError) return 'session lost'
  if (error instanceof ConclaveError && error.code === 'COMPACTED') return 'compacted'
  return isRetryable(error, true) ? 'watch failed' : undefined
}
