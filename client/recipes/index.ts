/**
 * Coordination recipes built on the public SDK: leader election, locks, semaphores,
 * group membership, a tree cache, barriers, a counter, a queue and a retry helper.
 * See docs/recipes.md.
 */
export type { RecipeClient } from './recipe-client.js'
export { LeaseEndedError, type LeaseEndReason } from './errors.js'
export { Lease, type LoseOn, type ReleaseOptions } from './lease.js'
export {
  election,
  Election,
  Leadership,
  type ElectionOptions,
  type LeaderInfo,
  type CampaignOptions,
} from './election.js'
export { retry, isRetryable, RETRY_DEFAULTS, type RetryOptions } from './retry.js'
export {
  mutex,
  readWriteLock,
  Lock,
  type LockOptions,
  type AcquireOptions,
  type ReadWriteLock,
} from './lock.js'
export { semaphore, Semaphore, type SemaphoreOptions } from './semaphore.js'
export { group, Group, Membership, type Member, type JoinOptions } from './group.js'
export { treeCache, TreeCache, type CachedNode, type TreeCacheEvent } from './tree-cache.js'
export type { GapReason } from './follow.js'
export {
  barrier,
  Barrier,
  doubleBarrier,
  DoubleBarrier,
  type DoubleBarrierOptions,
} from './barrier.js'
export { counter, Counter, type CounterOptions } from './counter.js'
export { queue, Queue } from './queue.js'
