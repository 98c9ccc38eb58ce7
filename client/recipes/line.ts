/**
 * The line of contenders under a parent, shared by election, mutex, read/write lock and
 * semaphore (Curator's LockInternals): create an own node, list the parent, decide from
 * the sorted line whether the node holds, and otherwise wait on the few nodes whose
 * change can matter, never on the whole parent, so a release wakes one waiter rather
 * than all of them (the herd effect).
 */
import type { Stat } from '../../protocol/index.js'
import { ConclaveError, NoNodeError, SessionExpiredError } from '../errors.js'
import type { Data } from '../data.js'
import type { RecipeClient } from './recipe-client.js'
import { childOf, sortedContenders, type Contender } from './names.js'
import {
  createContender,
  deleteNode,
  RETRY_BASE_MS,
  RETRY_CAP_MS,
  type OwnNode,
} from './own-node.js'
import { retry, throwIfAborted, type RetryOptions } from './retry.js'
import { armExists, raceAbort, watchSession, whenConnected, type SessionWatch } from './waits.js'

/** WaitTarget is a node to wait on: its deletion (or any change) means "look again". */
export interface WaitTarget {
  name: string
  /** lookNow tells, from the Stat at arming time, that the change already happened and waiting would miss it. */
  lookNow?: (stat: Stat) => boolean
}

/** Decision is what a contender's place in line means. */
export type Decision = { holds: true } | { holds: false; waitOn: WaitTarget[] }

/** Decide maps the sorted line and our index in it to a Decision. */
export type Decide = (line: readonly Contender[], index: number) => Decision

/** firstInLine: the first contender holds (leads, owns the mutex); every other waits on the one just ahead. */
export function firstInLine(line: readonly Contender[], index: number): Decision {
  return index === 0 ? { holds: true } : { holds: false, waitOn: [{ name: line[index - 1]!.name }] }
}

/** LineOptions describe one contender. */
export interface LineOptions {
  client: RecipeClient
  parent: string
  kind: string
  data: Data
  decide: Decide
  signal?: AbortSignal
  /** wait false gives up at the first decision that does not hold (tryAcquire). */
  wait?: boolean
  ensureParent?: () => Promise<void>
}

/** Outcome of one node's time in line. */
type Stay = 'held' | 'not held' | 'restart'

/**
 * contend creates a node and waits until it holds; resolves to the node, or to null
 * when `wait` is false and it did not hold at once (once its node is deleted). If the
 * session is lost or the node deleted meanwhile, it starts over with a new node. A
 * node is only ever granted while the client is connected in the session that owns it.
 * When `signal` aborts it rejects with AbortedError and deletes its node in the background.
 */
export async function contend(options: LineOptions): Promise<OwnNode | null> {
  const { client, signal } = options
  for (;;) {
    throwIfAborted(signal)
    const own = await createContender(client, options.parent, options.kind, options.data, {
      ...(signal === undefined ? {} : { signal }),
      ...(options.ensureParent === undefined ? {} : { ensureParent: options.ensureParent }),
    })
    let stay: Stay
    try {
      stay = await stayInLine(options, own)
    } catch (error) {
      // Leave the line in the background (deleteNode never rejects); the caller hears the error now.
      void deleteNode(client, own.path)
      throw error
    }
    switch (stay) {
      case 'held':
        return own
      case 'not held':
        await deleteNode(client, own.path)
        return null
      case 'restart':
        // The node is gone, or belongs to a session that is over and will go with it;
        // deleting it now frees its place before the server gets to the expiry
        // (in the background: deleteNode never rejects).
        void deleteNode(client, own.path)
        continue
    }
  }
}

async function stayInLine(options: LineOptions, own: OwnNode): Promise<Stay> {
  const { client, signal } = options
  const session = watchSession(client, own.sessionId)
  // Watches armed and not fired yet: their node has not changed since, so a later
  // decision that waits on the same node reuses them instead of piling up callbacks.
  const armed = new Map<string, Promise<unknown>>()
  try {
    for (;;) {
      throwIfAborted(signal)
      if (session.over !== undefined) return 'restart'
      const names = await inSession(session, () => listChildren(options))
      if (names === null) return 'restart'
      const line = sortedContenders(names)
      const index = line.findIndex((c) => c.name === own.name)
      if (index < 0) return 'restart'
      const decision = options.decide(line, index)
      if (decision.holds) {
        if (client.state !== 'connected') {
          await raceAbort(Promise.race([whenConnected(client), session.ended]), signal)
          continue
        }
        return session.over === undefined && client.sessionId === own.sessionId ? 'held' : 'restart'
      }
      if (options.wait === false) return 'not held'
      const waits: Promise<unknown>[] = []
      let lookNow = false
      for (const target of decision.waitOn) {
        const known = armed.get(target.name)
        if (known !== undefined) {
          waits.push(known)
          continue
        }
        const path = childOf(options.parent, target.name)
        const watch = await inSession(session, () =>
          retry(() => armExists(client, path, signal), retrying(signal)),
        )
        if (watch === null) return 'restart'
        if (watch.stat === null || target.lookNow?.(watch.stat) === true) {
          lookNow = true
          break
        }
        const fired = watch.fired.then(() => void armed.delete(target.name))
        armed.set(target.name, fired)
        waits.push(fired)
      }
      if (lookNow) continue
      await raceAbort(Promise.race([...waits, session.ended]), signal)
    }
  } finally {
    session.dispose()
  }
}

/** listChildren lists the parent, retrying passing failures. */
function listChildren(options: LineOptions): Promise<string[]> {
  const signal = options.signal
  return retry(
    () => options.client.children(options.parent, signal === undefined ? {} : { signal }),
    retrying(signal),
  )
}

/** retrying is how the line retries its reads: until they succeed or fail for good. */
export function retrying(signal: AbortSignal | undefined): RetryOptions {
  return {
    maxAttempts: Infinity,
    baseDelayMs: RETRY_BASE_MS,
    maxDelayMs: RETRY_CAP_MS,
    ...(signal === undefined ? {} : { signal }),
  }
}

/**
 * inSession runs a read of the contender's session; null when the session ended (the
 * read failed with SESSION_EXPIRED, or a retry would run in the next session) or the
 * parent is gone (so is our node).
 */
async function inSession<T>(session: SessionWatch, read: () => Promise<T>): Promise<T | null> {
  try {
    const value = await read()
    return session.over === undefined ? value : null
  } catch (error) {
    if (error instanceof SessionExpiredError || error instanceof NoNodeError) return null
    if (error instanceof ConclaveError && session.over !== undefined) return null
    throw error
  }
}
