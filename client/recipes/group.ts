/**
 * Group membership (Curator's GroupMember, kazoo's Party): each member is an ephemeral
 * node `<group>/<id>` holding the member's data, so a member whose process dies leaves
 * the group when its session expires. `members()` reads the group, `watch()` follows it.
 *
 * A session loss ends a membership (the server deleted the node) unless the member
 * asked to `rejoin`: then it joins again in the new session, and its `token` (the
 * node's czxid, a membership epoch) changes so that others can tell the incarnations
 * apart. A dropped connection alone changes nothing: a member is not an exclusive owner.
 */
import type { Stat } from '../../protocol/index.js'
import { parentOf } from '../../protocol/index.js'
import {
  AbortedError,
  ClientClosedError,
  ConclaveError,
  NodeExistsError,
  NoNodeError,
} from '../errors.js'
import { op } from '../multi-op.js'
import type { Data } from '../data.js'
import type { RecipeClient } from './recipe-client.js'
import { LeaseEndedError, type LeaseEndReason } from './errors.js'
import { follow } from './follow.js'
import { Lease, type ReleaseOptions } from './lease.js'
import { retrying } from './line.js'
import { checkedName, checkedPath, childOf } from './names.js'
import {
  deleteNode,
  ensureContainer,
  RETRY_BASE_MS,
  RETRY_CAP_MS,
  type OwnNode,
} from './own-node.js'
import { backoffMs, isRetryable, retry, sleep, throwIfAborted } from './retry.js'
import { armExists, raceAbort, watchSession } from './waits.js'

/** Member is one member of a group as read from the server. */
export interface Member {
  id: string
  data: Uint8Array
  stat: Stat
}

/** JoinOptions shape a join. */
export interface JoinOptions {
  /** signal gives up joining (AbortedError); no effect once joined. */
  signal?: AbortSignal
  /** rejoin joins again in the new session after a session loss (or after someone deletes the node). Default false. */
  rejoin?: boolean
  /**
   * ifTaken is what to do when another live session holds the id: 'fail' (default,
   * NodeExistsError: two members with one id is a configuration error) or 'wait' until
   * that node goes (a restarted process whose previous session has not expired yet).
   */
  ifTaken?: 'fail' | 'wait'
}

/** Membership is this client's place in a group; see the module comment. */
export class Membership {
  private readonly controller = new AbortController()
  private lease: Lease | undefined
  private left = false
  /** rejoining is the rejoin under way after a session loss, which leave() waits for. */
  private rejoining: Promise<void> | undefined
  private readonly sessions = new Set<bigint>()

  /** constructor: `group.join()` creates memberships. */
  constructor(
    private readonly client: RecipeClient,
    /** path is the member's node. */
    readonly path: string,
    /** id is the member's id. */
    readonly id: string,
    private data: Data,
    private readonly options: JoinOptions,
  ) {}

  /** signal aborts when the membership ends for good, with a LeaseEndedError as its reason. */
  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** token is the czxid of the member's current node: it changes with every rejoin. */
  get token(): bigint {
    return this.lease?.token ?? 0n
  }

  /** update replaces the member's data (kept for later rejoins too). */
  async update(data: Data, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.data = data
    await retry(
      () =>
        this.client.set(
          this.path,
          data,
          options.signal === undefined ? {} : { signal: options.signal },
        ),
      { ...retrying(options.signal), idempotent: true },
    )
  }

  /** leave ends the membership and resolves once the node is deleted (retried across a dropped connection). */
  async leave(options: ReleaseOptions = {}): Promise<void> {
    this.left = true
    const lease = this.lease
    this.end('released')
    if (lease !== undefined) await lease.release(options)
    // A rejoin under way may have created a node already; it deletes it on seeing `left`.
    if (this.rejoining !== undefined) await raceAbort(this.rejoining, options.signal)
  }

  /** Symbol.asyncDispose leaves the group, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.leave()
  }

  /** attach makes `own` the member's current node and follows it (used by `Group.join`). */
  attach(own: OwnNode): void {
    this.sessions.add(own.sessionId)
    const lease = new Lease(this.client, own, 'lost')
    this.lease = lease
    const onEnd = () => {
      const reason = (lease.signal.reason as LeaseEndedError).reason
      if (this.left || this.signal.aborted) return
      // rejoin never rejects: it ends the membership itself when it cannot rejoin.
      if (this.options.rejoin === true && (reason === 'lost' || reason === 'deleted'))
        this.rejoining = this.rejoin()
      else this.end(reason)
    }
    if (lease.ended) onEnd()
    else lease.signal.addEventListener('abort', onEnd, { once: true })
  }

  private async rejoin(): Promise<void> {
    try {
      const own = await createMember(
        this.client,
        this.path,
        this.data,
        { ...this.options, ifTaken: 'wait', signal: this.signal },
        this.sessions,
      )
      // Left (or ended) while the node was being made: it must not stay behind.
      if (this.left || this.signal.aborted) return await deleteNode(this.client, own.path)
      this.attach(own)
    } catch (error) {
      if (error instanceof ClientClosedError) this.end('closed')
      else if (!(error instanceof AbortedError)) this.end('lost')
    }
  }

  private end(reason: LeaseEndReason): void {
    if (!this.signal.aborted) this.controller.abort(new LeaseEndedError(reason, this.path))
  }
}

/** Group is a handle on the group at a path; see `group()`. */
export class Group {
  /** constructor checks the path (BadArgumentsError); use `group()`. */
  constructor(
    private readonly client: RecipeClient,
    /** path is the group's node; members are its children. */
    readonly path: string,
  ) {
    checkedPath(path, 'group path')
  }

  /** join adds this client to the group as `id` (one path segment) with `data`. */
  async join(id: string, data: Data = '', options: JoinOptions = {}): Promise<Membership> {
    checkedName(id, 'member id')
    const path = childOf(this.path, id)
    const own = await createMember(this.client, path, data, options, new Set())
    const membership = new Membership(this.client, path, id, data, options)
    membership.attach(own)
    return membership
  }

  /** members reads the group (a plain read: `client.sync(path)` first for the latest). */
  async members(options: { signal?: AbortSignal } = {}): Promise<Member[]> {
    const signal = options.signal
    const callOptions = signal === undefined ? {} : { signal }
    let ids: string[]
    try {
      ids = await retry(() => this.client.children(this.path, callOptions), retrying(signal))
    } catch (error) {
      if (error instanceof NoNodeError) return []
      throw error
    }
    const read = await Promise.all(
      ids.map(async (id): Promise<Member | null> => {
        try {
          const { data, stat } = await retry(
            () => this.client.get(childOf(this.path, id), callOptions),
            retrying(signal),
          )
          return { id, data, stat }
        } catch (error) {
          if (error instanceof NoNodeError) return null // left between the two reads
          throw error
        }
      }),
    )
    return read.filter((m): m is Member => m !== null)
  }

  /**
   * watch yields the members now and again after every change (a member joining,
   * leaving or updating its data); changes that come fast may be reported together.
   * It follows the group across dropped connections and session losses (re-reading
   * after each), and ends when `signal` aborts or the client closes.
   */
  async *watch(options: { signal?: AbortSignal } = {}): AsyncGenerator<Member[], void, undefined> {
    const signal = options.signal
    let dirty = true
    let wake: () => void = () => {}
    const touch = () => {
      dirty = true
      wake()
    }
    const following = follow(
      this.client,
      this.path,
      { recursive: true, ...(signal === undefined ? {} : { signal }) },
      {
        event: (event) => {
          if (event.path === this.path || parentOf(event.path) === this.path) touch()
        },
        gap: () => touch(),
      },
    )
    let stopped = false
    let failure: Error | undefined
    // Not awaited: the loop below waits on `wake`, which this settles.
    void following.done.then(
      () => ((stopped = true), wake()),
      (error: unknown) => (
        (stopped = true),
        (failure = error instanceof Error ? error : new Error(String(error))),
        wake()
      ),
    )
    let last: string | undefined
    try {
      for (;;) {
        if (!dirty) await new Promise<void>((resolve) => (wake = resolve))
        if (failure !== undefined) throw failure
        if (stopped || signal?.aborted === true) return
        if (!dirty) continue
        dirty = false
        let members: Member[]
        try {
          members = await this.members(signal === undefined ? {} : { signal })
        } catch (error) {
          if (error instanceof AbortedError || error instanceof ClientClosedError) return
          // A session loss: the gap after the new session triggers the next read.
          if (error instanceof ConclaveError && error.code === 'SESSION_EXPIRED') continue
          throw error
        }
        const key = members.map((m) => `${m.id}:${m.stat.czxid}:${m.stat.mzxid}`).join(',')
        if (key === last) continue
        last = key
        yield members
      }
    } finally {
      following.stop()
    }
  }
}

/**
 * createMember creates the member's ephemeral node. A node already there is adopted if
 * this session owns it (a create whose reply was lost), deleted if an earlier session
 * of this membership owns it, and otherwise `ifTaken` decides.
 */
async function createMember(
  client: RecipeClient,
  path: string,
  data: Data,
  options: JoinOptions,
  earlierSessions: ReadonlySet<bigint>,
): Promise<OwnNode> {
  const signal = options.signal
  const callOptions = signal === undefined ? {} : { signal }
  for (let failures = 0; ;) {
    throwIfAborted(signal)
    try {
      const [result] = await client.multi(
        [op.create(path, data, { mode: 'ephemeral' })],
        callOptions,
      )
      return {
        path,
        name: path.slice(path.lastIndexOf('/') + 1),
        stat: result!.stat!,
        sessionId: result!.stat!.ephemeralOwner,
        protectionId: '',
      }
    } catch (error) {
      if (error instanceof NoNodeError) {
        await ensureContainer(client, parentOf(path), signal)
        continue
      }
      if (error instanceof NodeExistsError) {
        const sessionId = client.sessionId
        const watch = await retry(() => armExists(client, path, signal), retrying(signal))
        if (watch.stat === null) continue
        const owner = watch.stat.ephemeralOwner
        if (owner === client.sessionId)
          return {
            path,
            name: path.slice(path.lastIndexOf('/') + 1),
            stat: watch.stat,
            sessionId: owner,
            protectionId: '',
          }
        if (earlierSessions.has(owner)) {
          await retry(() => client.delete(path, { version: watch.stat!.version, ...callOptions }), {
            ...retrying(signal),
            idempotent: true,
          }).catch(() => {})
          continue
        }
        if (options.ifTaken !== 'wait')
          throw new NodeExistsError(`member ${path} is held by another session`, { path })
        // The watch goes with a lost session; then look again in the next one.
        const session = watchSession(client, sessionId)
        try {
          await raceAbort(Promise.race([watch.fired, session.ended]), signal)
        } finally {
          session.dispose()
        }
        continue
      }
      if (!isRetryable(error, true)) throw error
      await sleep(backoffMs(++failures, RETRY_BASE_MS, RETRY_CAP_MS), signal)
    }
  }
}

/** group returns a handle on the group at `path`: `await group(client, '/services/api').join('host-1', 'host-1:8080')`. */
export function group(client: RecipeClient, path: string): Group {
  return new Group(client, path)
}
