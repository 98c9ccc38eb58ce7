/**
 * Waiting primitives of the recipes: for a one-shot watch to fire, for the session a
 * recipe works in to end, for an AbortSignal. Every wait here ends on its own terms or
 * on the signal, and removes its listeners when it ends, so a recipe that waits for
 * hours does not pile up state listeners.
 */
import type { Stat } from '../../protocol/index.js'
import type { WatchEvent } from '../watch-stream.js'
import type { ConnectionState } from '../session.js'
import { ClientClosedError } from '../errors.js'
import type { RecipeClient } from './recipe-client.js'
import { abortedError } from './retry.js'

/** SessionEnd is 'lost' (expired; a new session follows) or 'closed' (the client was closed). */
export type SessionEnd = 'lost' | 'closed'

/** SessionWatch tells when one session of a client is over. */
export interface SessionWatch {
  /** ended resolves when the session is over; it never rejects. */
  readonly ended: Promise<SessionEnd>
  /** over is the outcome once the session is over, undefined before. */
  readonly over: SessionEnd | undefined
  /** dispose stops listening; `ended` then stays pending if it had not resolved. */
  dispose(): void
}

/**
 * watchSession follows the session `sessionId` of `client`. It is over as soon as the
 * client reports 'lost' or 'closed', or runs a different session (the loss happened
 * before we listened).
 */
export function watchSession(client: RecipeClient, sessionId: bigint): SessionWatch {
  let over: SessionEnd | undefined
  let resolveEnded: (end: SessionEnd) => void = () => {}
  const ended = new Promise<SessionEnd>((resolve) => (resolveEnded = resolve))
  const finish = (end: SessionEnd) => {
    if (over !== undefined) return
    over = end
    client.off('state', listener)
    resolveEnded(end)
  }
  const listener = (state: ConnectionState) => {
    switch (state) {
      case 'lost':
        return finish('lost')
      case 'closed':
        return finish('closed')
      case 'connected':
        if (client.sessionId !== sessionId) finish('lost')
        return
      case 'connecting':
      case 'suspended':
        return
    }
  }
  client.on('state', listener)
  if (client.state === 'closed') finish('closed')
  else if (client.sessionId !== sessionId) finish('lost')
  return {
    ended,
    get over() {
      return over
    },
    dispose: () => client.off('state', listener),
  }
}

/**
 * onChange wraps a one-shot watch callback so that it hears changes only: a
 * `sessionLost` event is left out, because every recipe learns of a lost session from
 * the client's state (watchSession, the lease's state listener), which says what to
 * do next; waking a wait for a change would only race that.
 */
export function onChange(callback: (event: WatchEvent) => void): (event: WatchEvent) => void {
  return (event) => {
    if (event.type !== 'sessionLost') callback(event)
  }
}

/** ArmedWatch is a one-shot exists watch: the node's Stat when armed, and the event once it fires. */
export interface ArmedWatch {
  stat: Stat | null
  fired: Promise<WatchEvent>
}

/** armExists calls `exists` with a one-shot watch and returns the Stat and the promise of its event. */
export async function armExists(
  client: RecipeClient,
  path: string,
  signal?: AbortSignal,
): Promise<ArmedWatch> {
  let fire: (event: WatchEvent) => void = () => {}
  const fired = new Promise<WatchEvent>((resolve) => (fire = resolve))
  const stat = await client.exists(path, {
    watch: onChange((event) => fire(event)),
    ...(signal === undefined ? {} : { signal }),
  })
  return { stat, fired }
}

/**
 * raceAbort settles like `promise`, or rejects with AbortedError once `signal` aborts.
 * The promise itself runs on (only the wait for it is given up).
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  if (signal.aborted) return Promise.reject(abortedError(signal))
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortedError(signal))
    signal.addEventListener('abort', onAbort, { once: true })
    // Settles the outer promise; errors are passed on, so nothing floats.
    void promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error instanceof Error ? error : new Error(String(error)))
      },
    )
  })
}

/**
 * whenConnected resolves once the client is connected (at once if it is); rejects with
 * ClientClosedError if it closes. Its listener goes with either, so a caller that gives
 * up waiting (raceAbort) leaves nothing behind for longer than the disconnection.
 */
export function whenConnected(client: RecipeClient): Promise<void> {
  if (client.state === 'connected') return Promise.resolve()
  if (client.state === 'closed')
    return Promise.reject(new ClientClosedError('the client is closed'))
  return new Promise<void>((resolve, reject) => {
    const listener = (state: ConnectionState) => {
      if (state === 'connected') {
        client.off('state', listener)
        resolve()
      } else if (state === 'closed') {
        client.off('state', listener)
        reject(new ClientClosedError('the client is closed'))
      }
    }
    client.on('state', listener)
  })
}

/** signalOption is `{ signal }` for a call's options, or nothing when there is no signal. */
export function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal }
}
