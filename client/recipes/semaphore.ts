/**
 * A counting semaphore: at most `leases` holders at once, served in arrival order
 * (Curator's InterProcessSemaphoreV2, kazoo's Semaphore), each lease with its own
 * fencing token.
 *
 * The first `leases` contenders in line hold. Waiting without a herd takes two
 * rules, since a holder may leave from anywhere in the first `leases` places:
 * - the first waiter (place `leases`) watches every holder, so any release wakes it
 *   and only it;
 * - every later waiter watches the waiter just ahead. When that one is granted a lease
 *   it writes to its own node (a "baton"), which wakes the waiter behind it, now first.
 *   A waiter that finds the node ahead already written to looks again at once.
 * With `leases` 1 this is the mutex: the first waiter's only holder is its predecessor.
 *
 * `leases` is stored in the semaphore's node and checked on every acquire, so two
 * programs that disagree on it fail loudly instead of letting too many in.
 */
import {
  BadArgumentsError,
  BadVersionError,
  ConclaveError,
  NodeExistsError,
  NoNodeError,
} from '../errors.js'
import type { Data } from '../data.js'
import type { RecipeClient } from './recipe-client.js'
import { Lease, type LoseOn } from './lease.js'
import { contend, retrying, type Decision } from './line.js'
import { checkedPath, type Contender } from './names.js'
import type { AcquireOptions } from './lock.js'
import { RETRY_BASE_MS, RETRY_CAP_MS } from './own-node.js'
import { backoffMs, isRetryable, retry, sleep } from './retry.js'

/** SemaphoreOptions configure a semaphore handle. */
export interface SemaphoreOptions {
  /** leases is how many may hold at once; every handle on one path must agree. */
  leases: number
  /** loseOn is when a lease counts as lost: 'lost' (default) or 'suspended'; see LoseOn. */
  loseOn?: LoseOn
  /** data is stored in each of this handle's nodes, for operators. */
  data?: Data
}

/** BATON is what a contender writes into its node when it is granted a lease. */
const BATON = 'held'

/** Semaphore hands out up to `leases` leases at a time; see `semaphore()`. */
export class Semaphore {
  private readonly loseOn: LoseOn
  private readonly maxLeases: number
  private readonly decide: (line: readonly Contender[], index: number) => Decision

  /** constructor checks the arguments (BadArgumentsError); use `semaphore()`. */
  constructor(
    private readonly client: RecipeClient,
    /** path is the semaphore's node; contenders are its children. */
    readonly path: string,
    private readonly options: SemaphoreOptions,
  ) {
    checkedPath(path, 'semaphore path')
    if (!Number.isSafeInteger(options.leases) || options.leases < 1)
      throw new BadArgumentsError(
        `leases must be a positive integer, got ${String(options.leases)}`,
      )
    this.maxLeases = options.leases
    this.loseOn = options.loseOn ?? 'lost'
    this.decide = (line, index) => semaphoreDecision(line, index, this.maxLeases)
  }

  /** acquire waits in line and resolves to a lease once one of the `leases` places is ours. */
  acquire(options: AcquireOptions = {}): Promise<Lease> {
    return this.take(true, options) as Promise<Lease>
  }

  /** tryAcquire takes a lease if one is free right now, else resolves to null. */
  tryAcquire(options: AcquireOptions = {}): Promise<Lease | null> {
    return this.take(false, options)
  }

  private async take(wait: boolean, options: AcquireOptions): Promise<Lease | null> {
    const signal = options.signal
    await this.ensureNode(signal)
    const own = await contend({
      client: this.client,
      parent: this.path,
      kind: 'lease',
      data: this.options.data ?? '',
      decide: this.decide,
      wait,
      ensureParent: () => this.ensureNode(signal),
      ...(signal === undefined ? {} : { signal }),
    })
    if (own === null) return null
    const lease = new Lease(this.client, own, this.loseOn)
    // In the background (passBaton never rejects): the lease is ours already; the baton only wakes the next waiter.
    if (this.maxLeases > 1) void this.passBaton(lease)
    return lease
  }

  /** passBaton writes to the lease's node, which wakes the waiter just behind it; retried until done or the lease ends. */
  private async passBaton(lease: Lease): Promise<void> {
    for (let failures = 0; !lease.ended;) {
      try {
        await this.client.set(lease.path, BATON)
        return
      } catch (error) {
        if (!isRetryable(error, true)) return
      }
      await sleep(backoffMs(++failures, RETRY_BASE_MS, RETRY_CAP_MS))
    }
  }

  /** ensureNode creates the semaphore's container with `leases` in it, or checks the one there. */
  private async ensureNode(signal: AbortSignal | undefined): Promise<void> {
    const expected = String(this.maxLeases)
    const options = signal === undefined ? {} : { signal }
    for (let failures = 0; ;) {
      try {
        const { data, stat } = await retry(
          () => this.client.get(this.path, options),
          retrying(signal),
        )
        const stored = new TextDecoder().decode(data)
        if (stored === expected) return
        if (stored !== '')
          throw new BadArgumentsError(
            `semaphore ${this.path} allows ${stored} leases, this handle says ${expected}`,
            { path: this.path },
          )
        // Made by someone else (makeParents, an operator): claim it for this semaphore.
        await this.client.set(this.path, expected, { version: stat.version, ...options })
        return
      } catch (error) {
        if (error instanceof NoNodeError) {
          await this.createNode(expected, options)
          continue
        }
        // Someone changed it meanwhile, or the set's outcome is unknown: read it again.
        if (!(
          error instanceof BadVersionError ||
          (error instanceof ConclaveError && isRetryable(error, true))
        ))
          throw error
        await sleep(backoffMs(++failures, RETRY_BASE_MS, RETRY_CAP_MS), signal)
      }
    }
  }

  private async createNode(expected: string, options: { signal?: AbortSignal }): Promise<void> {
    try {
      await this.client.create(this.path, expected, {
        mode: 'container',
        makeParents: true,
        ...options,
      })
    } catch (error) {
      if (!(error instanceof NodeExistsError) && !isRetryable(error, true)) throw error
    }
  }
}

/** semaphoreDecision: see the module comment. */
export function semaphoreDecision(
  line: readonly Contender[],
  index: number,
  maxLeases: number,
): Decision {
  if (index < maxLeases) return { holds: true }
  if (index === maxLeases)
    return { holds: false, waitOn: line.slice(0, maxLeases).map((c) => ({ name: c.name })) }
  // The waiter ahead was not yet granted a lease when we listed; if it has been by the
  // time the watch is armed (its baton is in), waiting would miss the change.
  return {
    holds: false,
    waitOn: [{ name: line[index - 1]!.name, lookNow: (stat) => stat.version > 0 }],
  }
}

/** semaphore returns a handle on the semaphore at `path` allowing `leases` holders at once: `semaphore(client, '/limits/export', { leases: 4 })`. */
export function semaphore(
  client: RecipeClient,
  path: string,
  options: SemaphoreOptions,
): Semaphore {
  return new Semaphore(client, path, options)
}
