/**
 * A distributed FIFO queue (kazoo's Queue, Curator's SimpleDistributedQueue): items
 * are persistent sequential children, taken in order by deleting them.
 *
 * Exactly once, also when the connection drops mid-call:
 * - `put` creates its item with a protection prefix, so a create whose reply was lost
 *   is found instead of being made twice;
 * - `take` deletes the item in a multi that also creates an ephemeral receipt of its
 *   own; when the outcome is unknown, the receipt tells whether this taker got the
 *   item (the receipt is then deleted).
 * Consumers of an empty queue wait on the queue's children, so one put wakes every
 * idle consumer (they race, one wins); many consumers on one queue pay for that.
 * An item taken is gone: a consumer that dies before finishing it loses it; put it
 * back, or use a lock per item, if work must survive a crash.
 */
import { ConclaveError, NoNodeError } from '../errors.js'
import { op } from '../multi-op.js'
import type { Data } from '../data.js'
import type { RecipeClient } from './recipe-client.js'
import { retrying } from './line.js'
import { checkedPath, childOf, newProtectionId, sortedContenders } from './names.js'
import { createContender, deleteNode, ensureContainer } from './own-node.js'
import { retry, throwIfAborted } from './retry.js'
import { onChange, raceAbort, watchSession, signalOption } from './waits.js'

/** RECEIPT_PREFIX starts the name of a take's receipt; the queue ignores such children. */
const RECEIPT_PREFIX = 'receipt-'

/** Queue is a handle on the queue at a path; see `queue()`. */
export class Queue {
  /** constructor checks the path (BadArgumentsError); use `queue()`. */
  constructor(
    private readonly client: RecipeClient,
    /** path is the queue's node; items are its children. */
    readonly path: string,
  ) {
    checkedPath(path, 'queue path')
  }

  /** put appends an item and resolves to its node's path. */
  async put(data: Data, options: { signal?: AbortSignal } = {}): Promise<string> {
    // A protected create, persistent: the same lost-reply handling as a contender's node.
    const own = await createContender(this.client, this.path, 'item', data, {
      mode: 'persistent-sequential',
      ensureParent: () => ensureContainer(this.client, this.path, options.signal),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })
    return own.path
  }

  /** take removes the first item and resolves to its data, waiting while the queue is empty. */
  async take(options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const signal = options.signal
    for (;;) {
      throwIfAborted(signal)
      const session = watchSession(this.client, this.client.sessionId)
      try {
        let fire: () => void = () => {}
        const changed = new Promise<void>((resolve) => (fire = resolve))
        let names: string[]
        try {
          names = await retry(
            () =>
              this.client.children(this.path, {
                watch: onChange(() => fire()),
                ...signalOption(signal),
              }),
            retrying(signal),
          )
        } catch (error) {
          if (!(error instanceof NoNodeError)) throw error
          await ensureContainer(this.client, this.path, signal)
          continue
        }
        for (const item of this.items(names)) {
          const data = await this.tryTake(item, signal)
          if (data !== null) return data
        }
        if (this.items(names).length === 0)
          await raceAbort(Promise.race([changed, session.ended]), signal)
      } finally {
        session.dispose()
      }
    }
  }

  /** peek reads the first item without taking it (null when empty). */
  async peek(options: { signal?: AbortSignal } = {}): Promise<Uint8Array | null> {
    for (;;) {
      const names = await this.list(options.signal)
      const first = this.items(names)[0]
      if (first === undefined) return null
      try {
        return (
          await retry(
            () => this.client.get(childOf(this.path, first), signalOption(options.signal)),
            retrying(options.signal),
          )
        ).data
      } catch (error) {
        if (!(error instanceof NoNodeError)) throw error
      }
    }
  }

  /** size counts the items now. */
  async size(options: { signal?: AbortSignal } = {}): Promise<number> {
    return this.items(await this.list(options.signal)).length
  }

  private async list(signal: AbortSignal | undefined): Promise<string[]> {
    try {
      return await retry(
        () => this.client.children(this.path, signalOption(signal)),
        retrying(signal),
      )
    } catch (error) {
      if (error instanceof NoNodeError) return []
      throw error
    }
  }

  private items(names: string[]): string[] {
    return sortedContenders(names.filter((name) => !name.startsWith(RECEIPT_PREFIX))).map(
      (c) => c.name,
    )
  }

  /** tryTake takes one item: its data, or null when another consumer got it first. */
  private async tryTake(name: string, signal: AbortSignal | undefined): Promise<Uint8Array | null> {
    const path = childOf(this.path, name)
    let data: Uint8Array
    let version: number
    try {
      const read = await retry(() => this.client.get(path, signalOption(signal)), retrying(signal))
      data = read.data
      version = read.stat.version
    } catch (error) {
      if (error instanceof NoNodeError) return null
      throw error
    }
    const receipt = childOf(this.path, `${RECEIPT_PREFIX}${newProtectionId()}`)
    const sessionId = this.client.sessionId
    try {
      await this.client.multi(
        [op.delete(path, { version }), op.create(receipt, '', { mode: 'ephemeral' })],
        signalOption(signal),
      )
    } catch (error) {
      if (!(error instanceof ConclaveError)) throw error
      if (error.definite) {
        if (error.code === 'NO_NODE' || error.code === 'BAD_VERSION') return null // someone else took it
        throw error
      }
      // Unknown outcome: our receipt exists exactly if our multi was applied, as long
      // as the session that would own it lives (a lost session took the receipt along).
      const stat = await retry(() => this.client.exists(receipt), retrying(undefined))
      if (this.client.sessionId !== sessionId) throw error
      if (stat === null) return null
    }
    // The receipt has done its job; delete it in the background (deleteNode never rejects).
    void deleteNode(this.client, receipt)
    return data
  }
}

/** queue returns a handle on the FIFO queue at `path`. */
export function queue(client: RecipeClient, path: string): Queue {
  return new Queue(client, path)
}
