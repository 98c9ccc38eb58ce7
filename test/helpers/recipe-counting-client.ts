/**
 * A client wrapper that counts what a recipe does: calls per method and one-shot
 * watches fired. The herd tests hand it to a recipe and check that a release wakes
 * one waiter, not all of them.
 */
import type { Client, WatchEvent } from '../../client/index.js'
import type { RecipeClient } from '../../client/recipes/index.js'

/** CountingClient is a RecipeClient plus its counters. */
export interface CountingClient {
  readonly client: RecipeClient
  /** calls counts calls per method name since the last reset. */
  readonly calls: Map<string, number>
  /** watchesFired lists the one-shot watch events delivered since the last reset. */
  readonly watchesFired: WatchEvent[]
  /** count is calls.get(method) ?? 0. */
  count(method: string): number
  reset(): void
}

const COUNTED = new Set([
  'create',
  'get',
  'exists',
  'set',
  'delete',
  'children',
  'multi',
  'sync',
  'watch',
])
/** WATCHING are the calls whose second argument may carry a one-shot `watch`. */
const WATCHING = new Set(['get', 'exists', 'children'])

/** countingClient wraps `client`; everything else passes through. */
export function countingClient(client: Client): CountingClient {
  const calls = new Map<string, number>()
  const watchesFired: WatchEvent[] = []
  const wrapped = new Proxy(client, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver)
      if (typeof property !== 'string' || typeof value !== 'function') return value
      const method = value as (...args: unknown[]) => unknown
      if (!COUNTED.has(property)) return method.bind(target)
      return (...args: unknown[]) => {
        calls.set(property, (calls.get(property) ?? 0) + 1)
        const options = args[1] as { watch?: (event: WatchEvent) => void } | undefined
        if (WATCHING.has(property) && typeof options?.watch === 'function') {
          const watch = options.watch
          args[1] = {
            ...options,
            watch: (event: WatchEvent) => (watchesFired.push(event), watch(event)),
          }
        }
        return method.apply(target, args)
      }
    },
  })
  return {
    client: wrapped,
    calls,
    watchesFired,
    count: (method) => calls.get(method) ?? 0,
    reset: () => {
      calls.clear()
      watchesFired.length = 0
    },
  }
}
