/**
 * A shared counter (Curator's DistributedAtomicLong and SharedCount, kazoo's Counter):
 * an integer in one node, changed by compare-and-set on the node's version, so
 * concurrent `add`s never lose an update.
 *
 * A write whose outcome is unknown (the connection dropped with it in flight) is not
 * simply retried, since that could add twice. Each write carries a random tag next to
 * the value (`"42 <tag>"`); afterwards the counter is read again: our tag means it was
 * applied, an unchanged version means it was not (retry). If others have written since,
 * nobody can tell any more, and the call fails with the SDK's error and `definite: false`.
 */
import type { Stat } from '../../protocol/index.js'
import {
  BadArgumentsError,
  BadVersionError,
  ConclaveError,
  NodeExistsError,
  NoNodeError,
} from '../errors.js'
import type { RecipeClient } from './recipe-client.js'
import { retrying } from './line.js'
import { checkedPath, newProtectionId } from './names.js'
import { backoffMs, retry, sleep, throwIfAborted } from './retry.js'

/** CONFLICT_BASE_MS and CONFLICT_CAP_MS pace the retries of a lost compare-and-set. */
const CONFLICT_BASE_MS = 4
const CONFLICT_CAP_MS = 64

/** CounterOptions configure a counter handle. */
export interface CounterOptions {
  /** initial is the value of a counter whose node does not exist yet; default 0. */
  initial?: number
}

/** Counter is a handle on the counter at a path; see `counter()`. */
export class Counter {
  private readonly initial: number
  private readonly decoder = new TextDecoder()

  /** constructor checks the arguments (BadArgumentsError); use `counter()`. */
  constructor(
    private readonly client: RecipeClient,
    /** path is the counter's node (persistent; created on the first write). */
    readonly path: string,
    options: CounterOptions = {},
  ) {
    checkedPath(path, 'counter path')
    this.initial = checkedInteger(options.initial ?? 0, 'initial')
  }

  /** get reads the value (`initial` if the node does not exist). */
  async get(options: { signal?: AbortSignal } = {}): Promise<number> {
    return (await this.read(options.signal)).value
  }

  /** add adds `delta` (may be negative) and resolves to the new value. */
  async add(delta: number, options: { signal?: AbortSignal } = {}): Promise<number> {
    checkedInteger(delta, 'delta')
    for (let conflicts = 0; ;) {
      const current = await this.read(options.signal)
      const next = checkedInteger(current.value + delta, 'the result')
      if (await this.write(current, next, options.signal)) return next
      await this.afterConflict(++conflicts, options.signal)
    }
  }

  /** increment adds 1 and resolves to the new value. */
  increment(options: { signal?: AbortSignal } = {}): Promise<number> {
    return this.add(1, options)
  }

  /** decrement subtracts 1 and resolves to the new value. */
  decrement(options: { signal?: AbortSignal } = {}): Promise<number> {
    return this.add(-1, options)
  }

  /** compareAndSet sets `next` if the value is `expected`, and tells whether it did. */
  async compareAndSet(
    expected: number,
    next: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<boolean> {
    checkedInteger(expected, 'expected')
    checkedInteger(next, 'next')
    for (let conflicts = 0; ;) {
      const current = await this.read(options.signal)
      if (current.value !== expected) return false
      if (await this.write(current, next, options.signal)) return true
      await this.afterConflict(++conflicts, options.signal)
    }
  }

  /**
   * afterConflict pauses (jittered, growing) after another writer won the
   * compare-and-set: writers that retry at once collide again, and the ones farther
   * from the leader lose every time.
   */
  private async afterConflict(conflicts: number, signal: AbortSignal | undefined): Promise<void> {
    await sleep(backoffMs(conflicts, CONFLICT_BASE_MS, CONFLICT_CAP_MS), signal)
  }

  private async read(
    signal: AbortSignal | undefined,
  ): Promise<{ value: number; stat: Stat | null }> {
    try {
      const { data, stat } = await retry(
        () => this.client.get(this.path, signal === undefined ? {} : { signal }),
        retrying(signal),
      )
      const text = this.decoder.decode(data).trim()
      const value = Number(text.split(' ')[0] ?? '')
      if (text === '' || !Number.isSafeInteger(value))
        throw new BadArgumentsError(
          `counter ${this.path} holds ${JSON.stringify(text.slice(0, 40))}, not an integer`,
          { path: this.path },
        )
      return { value, stat }
    } catch (error) {
      if (error instanceof NoNodeError) return { value: this.initial, stat: null }
      throw error
    }
  }

  /** write tries one compare-and-set from `current`; false when someone else got there first. */
  private async write(
    current: { stat: Stat | null },
    next: number,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    throwIfAborted(signal)
    const tag = newProtectionId().slice(0, 12)
    const data = `${next} ${tag}`
    const options = signal === undefined ? {} : { signal }
    try {
      if (current.stat === null)
        await this.client.create(this.path, data, { makeParents: true, ...options })
      else await this.client.set(this.path, data, { version: current.stat.version, ...options })
      return true
    } catch (error) {
      if (
        error instanceof BadVersionError ||
        error instanceof NodeExistsError ||
        error instanceof NoNodeError
      )
        return false
      if (!(error instanceof ConclaveError) || error.definite) throw error
      // Unknown outcome: look at the node once the client can.
      const after = await retry(() => this.client.get(this.path, options), retrying(signal)).catch(
        (readError: unknown) => {
          if (readError instanceof NoNodeError) return null
          throw readError
        },
      )
      if (after !== null && this.decoder.decode(after.data).endsWith(` ${tag}`)) return true
      if (current.stat === null) {
        if (after === null) return false // our create did not happen
        if (after.stat.version === 0) return false // someone else's create won
      } else if (after !== null) {
        if (after.stat.version === current.stat.version) return false // our set did not happen
        if (after.stat.version === current.stat.version + 1) return false // someone else's set won
      }
      // Ours may have happened and been overwritten (or deleted) since: nobody can tell.
      throw error
    }
  }
}

function checkedInteger(value: number, what: string): number {
  if (!Number.isSafeInteger(value))
    throw new BadArgumentsError(`${what} must be a safe integer, got ${String(value)}`)
  return value
}

/** counter returns a handle on the counter at `path`: `await counter(client, '/stats/jobs').increment()`. */
export function counter(client: RecipeClient, path: string, options: CounterOptions = {}): Counter {
  return new Counter(client, path, options)
}
