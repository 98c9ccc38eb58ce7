/**
 * Barriers. A `barrier` holds everyone back while its node exists (Curator's
 * DistributedBarrier, kazoo's Barrier): a coordinator `set`s it, workers `wait`, the
 * coordinator `remove`s it and every waiter goes on. A `doubleBarrier` (the ZooKeeper
 * recipe, Curator's DistributedDoubleBarrier) lets a fixed number of participants start
 * together and finish together: `enter` returns once `count` have entered, `leave`
 * once all have left. Participants are ephemeral nodes, so one that dies is counted
 * out when its session expires.
 */
import { BadArgumentsError, NodeExistsError, NoNodeError } from '../errors.js'
import type { RecipeClient } from './recipe-client.js'
import { retrying } from './line.js'
import { checkedName, checkedPath, childOf, newProtectionId } from './names.js'
import { ensureContainer, deleteNode } from './own-node.js'
import { retry, throwIfAborted } from './retry.js'
import { armExists, raceAbort, watchSession, signalOption } from './waits.js'

/** Barrier is a handle on the barrier node at a path; see `barrier()`. */
export class Barrier {
  /** constructor checks the path (BadArgumentsError); use `barrier()`. */
  constructor(
    private readonly client: RecipeClient,
    /** path is the barrier's node: the barrier is up while it exists. */
    readonly path: string,
  ) {
    checkedPath(path, 'barrier path')
  }

  /** set raises the barrier (creates its node, ancestors too); raising a raised barrier is fine. */
  async set(options: { signal?: AbortSignal } = {}): Promise<void> {
    await retry(
      async () => {
        try {
          await this.client.create(this.path, '', {
            makeParents: true,
            ...signalOption(options.signal),
          })
        } catch (error) {
          if (!(error instanceof NodeExistsError)) throw error
        }
      },
      { ...retrying(options.signal), idempotent: true },
    )
  }

  /** remove lowers the barrier; every waiter goes on. Lowering a lowered barrier is fine. */
  async remove(options: { signal?: AbortSignal } = {}): Promise<void> {
    await retry(
      async () => {
        try {
          await this.client.delete(this.path, signalOption(options.signal))
        } catch (error) {
          if (!(error instanceof NoNodeError)) throw error
        }
      },
      { ...retrying(options.signal), idempotent: true },
    )
  }

  /** wait resolves once the barrier is down (at once if it is). Every waiter is woken together: that is the point. */
  async wait(options: { signal?: AbortSignal } = {}): Promise<void> {
    await waitUntilGone(this.client, this.path, options.signal)
  }
}

/** DoubleBarrierOptions configure a participant. */
export interface DoubleBarrierOptions {
  /** count is how many participants must enter before any may start. */
  count: number
  /** id names this participant (one path segment); default a random one. */
  id?: string
}

/** DoubleBarrier is one participant's handle; see `doubleBarrier()`. */
export class DoubleBarrier {
  private readonly count: number
  private readonly id: string
  private readonly ownPath: string
  private readonly readyPath: string

  /** constructor checks the arguments (BadArgumentsError); use `doubleBarrier()`. */
  constructor(
    private readonly client: RecipeClient,
    /** path is the barrier's node; participants are its children. */
    readonly path: string,
    options: DoubleBarrierOptions,
  ) {
    checkedPath(path, 'double barrier path')
    if (!Number.isSafeInteger(options.count) || options.count < 1)
      throw new BadArgumentsError(`count must be a positive integer, got ${String(options.count)}`)
    this.count = options.count
    this.id = checkedName(options.id ?? newProtectionId(), 'participant id')
    if (this.id === READY) throw new BadArgumentsError(`participant id must not be ${READY}`)
    this.ownPath = childOf(path, this.id)
    this.readyPath = childOf(path, READY)
  }

  /**
   * enter adds this participant and resolves once `count` participants have entered
   * (the last to arrive marks the barrier ready, which releases the others together).
   */
  async enter(options: { signal?: AbortSignal } = {}): Promise<void> {
    const signal = options.signal
    for (;;) {
      throwIfAborted(signal)
      const session = watchSession(this.client, this.client.sessionId)
      try {
        // Watch `ready` before joining, so the moment it appears is not missed.
        const ready = await retry(
          () => armExists(this.client, this.readyPath, signal),
          retrying(signal),
        )
        if (ready.stat !== null) {
          await this.join(signal)
          return
        }
        await this.join(signal)
        const participants = await this.participants(signal)
        if (participants.length >= this.count) {
          await this.markReady(signal)
          return
        }
        const end = await raceAbort(
          Promise.race([ready.fired.then(() => 'ready' as const), session.ended]),
          signal,
        )
        if (end === 'ready') return
        // The session was lost (and our node with it): enter again in the next one.
      } finally {
        session.dispose()
      }
    }
  }

  /**
   * leave removes this participant and resolves once every participant has left (the
   * ZooKeeper recipe: the lowest waits for the highest; the others leave and wait for
   * the lowest, so nobody waits on everyone).
   */
  async leave(options: { signal?: AbortSignal } = {}): Promise<void> {
    const signal = options.signal
    await retry(() => deleteIfThere(this.client, this.readyPath, signal), {
      ...retrying(signal),
      idempotent: true,
    })
    for (;;) {
      throwIfAborted(signal)
      const names = (await this.participants(signal)).sort()
      if (names.length === 0) return
      if (names.length === 1 && names[0] === this.id) {
        await deleteNode(this.client, this.ownPath)
        return
      }
      const lowest = names[0]!
      const highest = names[names.length - 1]!
      if (lowest === this.id) {
        await waitUntilGone(this.client, childOf(this.path, highest), signal)
        continue
      }
      if (names.includes(this.id)) await deleteNode(this.client, this.ownPath)
      await waitUntilGone(this.client, childOf(this.path, lowest), signal)
    }
  }

  private async join(signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      try {
        await retry(
          () =>
            this.client.create(this.ownPath, '', { mode: 'ephemeral', ...signalOption(signal) }),
          { ...retrying(signal), idempotent: true },
        )
        return
      } catch (error) {
        if (error instanceof NoNodeError) {
          await ensureContainer(this.client, this.path, signal)
          continue
        }
        // Ours already (a create whose reply was lost, then retried), or an id clash.
        if (error instanceof NodeExistsError) {
          const stat = await retry(
            () => this.client.exists(this.ownPath, signalOption(signal)),
            retrying(signal),
          )
          if (stat === null) continue
          if (stat.ephemeralOwner === this.client.sessionId) return
          throw new NodeExistsError(`participant ${this.ownPath} is held by another session`, {
            path: this.ownPath,
          })
        }
        throw error
      }
    }
  }

  private async participants(signal: AbortSignal | undefined): Promise<string[]> {
    try {
      const names = await retry(
        () => this.client.children(this.path, signalOption(signal)),
        retrying(signal),
      )
      return names.filter((name) => name !== READY)
    } catch (error) {
      if (error instanceof NoNodeError) return []
      throw error
    }
  }

  private async markReady(signal: AbortSignal | undefined): Promise<void> {
    await retry(
      async () => {
        try {
          await this.client.create(this.readyPath, '', signalOption(signal))
        } catch (error) {
          if (!(error instanceof NodeExistsError)) throw error
        }
      },
      { ...retrying(signal), idempotent: true },
    )
  }
}

/** READY is the child that marks a double barrier as entered by everyone. */
const READY = 'ready'

/** waitUntilGone resolves once `path` does not exist, across session losses. */
async function waitUntilGone(
  client: RecipeClient,
  path: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (;;) {
    throwIfAborted(signal)
    const session = watchSession(client, client.sessionId)
    try {
      const watch = await retry(() => armExists(client, path, signal), retrying(signal))
      if (watch.stat === null) return
      await raceAbort(Promise.race([watch.fired, session.ended]), signal)
    } finally {
      session.dispose()
    }
  }
}

async function deleteIfThere(
  client: RecipeClient,
  path: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    await client.delete(path, signalOption(signal))
  } catch (error) {
    if (!(error instanceof NoNodeError)) throw error
  }
}

/** barrier returns a handle on the barrier at `path`. */
export function barrier(client: RecipeClient, path: string): Barrier {
  return new Barrier(client, path)
}

/** doubleBarrier returns a participant's handle on the double barrier at `path` for `count` participants. */
export function doubleBarrier(
  client: RecipeClient,
  path: string,
  options: DoubleBarrierOptions,
): DoubleBarrier {
  return new DoubleBarrier(client, path, options)
}
