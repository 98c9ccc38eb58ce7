/**
 * Locks: a fair (first come, first served) cross-process mutex and read/write lock
 * (Curator's InterProcessMutex and InterProcessReadWriteLock, kazoo's Lock,
 * ReadLock and WriteLock). Each acquire is one protected ephemeral sequential node;
 * the order of the nodes is the order of service. A waiter watches only the node
 * whose deletion can let it in: a writer (or mutex waiter) the node just ahead, a
 * reader the last writer ahead, so a release wakes only who it lets in.
 *
 * Not re-entrant: a second acquire through the same handle queues behind the first
 * and waits until it is released.
 */
import { ConclaveError } from '../errors.js'
import type { Data } from '../data.js'
import type { RecipeClient } from './recipe-client.js'
import { Lease, type LoseOn } from './lease.js'
import { contend, firstInLine, type Decide, type Decision } from './line.js'
import { checkedPath, type Contender } from './names.js'

/** LockOptions configure a lock handle. */
export interface LockOptions {
  /** loseOn is when a held lock counts as lost: 'lost' (default) or 'suspended'; see LoseOn. */
  loseOn?: LoseOn
  /** data is stored in each of this handle's nodes (for example the owner's host name), for operators. */
  data?: Data
}

/** AcquireOptions bound an acquire. */
export interface AcquireOptions {
  /** signal gives up waiting (AbortedError) and leaves the line; no effect once acquired. */
  signal?: AbortSignal
}

/** Lock is one kind of contender of a lock path: the mutex, or the read or write side of a read/write lock. */
export class Lock {
  private readonly loseOn: LoseOn
  private readonly data: Data

  /** constructor checks the path (BadArgumentsError); use `mutex()` or `readWriteLock()`. */
  constructor(
    private readonly client: RecipeClient,
    /** path is the lock's node; contenders are its children. */
    readonly path: string,
    private readonly kind: string,
    private readonly decide: Decide,
    options: LockOptions = {},
  ) {
    checkedPath(path, 'lock path')
    this.loseOn = options.loseOn ?? 'lost'
    this.data = options.data ?? ''
  }

  /** acquire waits in line and resolves to the lease once the lock is held. */
  async acquire(options: AcquireOptions = {}): Promise<Lease> {
    const own = await contend({
      client: this.client,
      parent: this.path,
      kind: this.kind,
      data: this.data,
      decide: this.decide,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })
    if (own === null)
      throw new ConclaveError('SYSTEM_ERROR', 'a waiting acquire ended without holding')
    return new Lease(this.client, own, this.loseOn)
  }

  /** tryAcquire takes the lock if nobody is in the way right now, else resolves to null (and leaves no node behind). */
  async tryAcquire(options: AcquireOptions = {}): Promise<Lease | null> {
    const own = await contend({
      client: this.client,
      parent: this.path,
      kind: this.kind,
      data: this.data,
      decide: this.decide,
      wait: false,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })
    return own === null ? null : new Lease(this.client, own, this.loseOn)
  }
}

/** ReadWriteLock is the pair of sides of one read/write lock (Curator's readLock() and writeLock()). */
export interface ReadWriteLock {
  /** read is the shared side: it holds while no writer is ahead in line. */
  read(): Lock
  /** write is the exclusive side: it holds when first in line. */
  write(): Lock
}

/**
 * readerDecision: a reader holds when no writer is ahead of it, and otherwise waits on
 * the last writer ahead. Sequential children that are not ours (no `read` kind) count
 * as writers, the safe side.
 */
export function readerDecision(line: readonly Contender[], index: number): Decision {
  for (let i = index - 1; i >= 0; i--) {
    if (line[i]!.kind !== 'read') return { holds: false, waitOn: [{ name: line[i]!.name }] }
  }
  return { holds: true }
}

/** mutex returns a handle on the fair mutex at `path`: `await using lease = await mutex(client, '/locks/db').acquire()`. */
export function mutex(client: RecipeClient, path: string, options: LockOptions = {}): Lock {
  return new Lock(client, path, 'lock', firstInLine, options)
}

/**
 * readWriteLock returns both sides of the fair read/write lock at `path`. A writer
 * waits for everyone ahead of it; readers share, but queue behind a writer that
 * arrived before them, so writers are not starved. No upgrade: a holder of the read
 * side that asks for the write side waits for itself.
 */
export function readWriteLock(
  client: RecipeClient,
  path: string,
  options: LockOptions = {},
): ReadWriteLock {
  const read = new Lock(client, path, 'read', readerDecision, options)
  const write = new Lock(client, path, 'write', firstInLine, options)
  return { read: () => read, write: () => write }
}
