/**
 * Leader election (Curator's LeaderLatch, etcd's Campaign/Observe): every candidate
 * creates a protected ephemeral sequential node under the election's path; the first
 * in line leads, and each other candidate waits on the one just ahead of it, so a
 * leader leaving wakes exactly one candidate. The leader's lease carries the fencing
 * token (its node's czxid), an AbortSignal that aborts when leadership is lost, and
 * `resign()`.
 */
import type { Data } from '../data.js'
import type { RecipeClient } from './recipe-client.js'
import {
  AbortedError,
  BadArgumentsError,
  ClientClosedError,
  ConclaveError,
  NoNodeError,
} from '../errors.js'
import { contend, firstInLine, retrying } from './line.js'
import { Lease, type LoseOn, type ReleaseOptions } from './lease.js'
import type { OwnNode } from './own-node.js'
import { checkedPath, childOf, sortedContenders } from './names.js'
import { retry, throwIfAborted } from './retry.js'
import { armExists, onChange, raceAbort, watchSession, signalOption } from './waits.js'

/** ElectionOptions configure one candidate. */
export interface ElectionOptions {
  /** id names the candidate (no newline); it is stored in its node, and `leader()` and `observe()` report it. */
  id: string
  /** data is stored with the id (for example the leader's address), and reported with it. */
  data?: Data
  /** loseOn is when a leadership counts as lost: 'lost' (default) or 'suspended'; see LoseOn. */
  loseOn?: LoseOn
}

/** LeaderInfo describes the current leader as any client sees it. */
export interface LeaderInfo {
  /** id is the leader's candidate id. */
  id: string
  /** token is the leader's fencing token (its node's czxid). */
  token: bigint
  /** path is the leader's node. */
  path: string
  /** data is what the leader passed as `data` (empty if nothing). */
  data: Uint8Array
}

/** CampaignOptions bound a campaign. */
export interface CampaignOptions {
  /** signal gives up the campaign (AbortedError) and withdraws the candidate; it has no effect once the campaign resolved. */
  signal?: AbortSignal
}

/** Leadership is the lease of an elected leader. */
export class Leadership extends Lease {
  /** id is this candidate's id. */
  readonly id: string

  /** constructor: see Lease; `election.campaign()` creates leaderships. */
  constructor(client: RecipeClient, own: OwnNode, loseOn: LoseOn, id: string) {
    super(client, own, loseOn)
    this.id = id
  }

  /** resign gives leadership up: the signal aborts, then the node is deleted and the next candidate leads. */
  resign(options: ReleaseOptions = {}): Promise<void> {
    return this.release(options)
  }
}

/** Election is one candidate's handle on an election; see `election()`. */
export class Election {
  private active = false
  private readonly loseOn: LoseOn

  /** constructor checks the arguments (BadArgumentsError); use `election()`. */
  constructor(
    private readonly client: RecipeClient,
    /** path is the election's node; candidates are its children. */
    readonly path: string,
    private readonly options: ElectionOptions,
  ) {
    checkedPath(path, 'election path')
    if (typeof options.id !== 'string' || options.id.includes('\n'))
      throw new BadArgumentsError('election id must be a string without a newline')
    this.loseOn = options.loseOn ?? 'lost'
  }

  /**
   * campaign joins the line and resolves once this candidate leads. One campaign per
   * handle at a time: a second call while campaigning or leading is a BadArgumentsError.
   * If the session is lost while waiting, the candidate joins again in the new session
   * (at the back of the line).
   */
  async campaign(options: CampaignOptions = {}): Promise<Leadership> {
    if (this.active)
      throw new BadArgumentsError(`already campaigning or leading in ${this.path}; resign first`)
    this.active = true
    try {
      const own = await contend({
        client: this.client,
        parent: this.path,
        kind: 'n',
        data: candidateData(this.options.id, this.options.data),
        decide: firstInLine,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      })
      if (own === null)
        throw new ConclaveError('SYSTEM_ERROR', 'a waiting campaign ended without holding')
      const leadership = new Leadership(this.client, own, this.loseOn, this.options.id)
      if (leadership.ended) this.active = false
      else leadership.signal.addEventListener('abort', () => (this.active = false), { once: true })
      return leadership
    } catch (error) {
      this.active = false
      throw error
    }
  }

  /** leader reads who leads now (null: no candidate). A plain read: call `client.sync(path)` first to be sure it is current. */
  async leader(options: { signal?: AbortSignal } = {}): Promise<LeaderInfo | null> {
    for (;;) {
      throwIfAborted(options.signal)
      let names: string[]
      try {
        names = await retry(
          () => this.client.children(this.path, signalOption(options.signal)),
          retrying(options.signal),
        )
      } catch (error) {
        if (error instanceof NoNodeError) return null
        throw error
      }
      const first = sortedContenders(names)[0]
      if (first === undefined) return null
      try {
        const path = childOf(this.path, first.name)
        const { data, stat } = await retry(
          () => this.client.get(path, signalOption(options.signal)),
          retrying(options.signal),
        )
        return leaderInfo(data, stat.czxid, path)
      } catch (error) {
        // The leader left between the two reads: look again.
        if (!(error instanceof NoNodeError)) throw error
      }
    }
  }

  /**
   * observe yields the leader (null while there is none) now and after every change of
   * leader, like etcd's Observe: always the latest, not every intermediate one. It
   * watches only the leader's node (or the empty election), so observers are not woken
   * by candidates joining. It ends when `signal` aborts or the client closes, and goes
   * on across session losses.
   */
  async *observe(
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<LeaderInfo | null, void, undefined> {
    const signal = options.signal
    let last: LeaderInfo | null | undefined
    try {
      for (;;) {
        throwIfAborted(signal)
        const session = watchSession(this.client, this.client.sessionId)
        try {
          const { leader, changed } = await this.leaderWithWatch(signal)
          if (last === undefined || leader?.path !== last?.path) {
            last = leader
            yield leader
          }
          if (changed !== null) await raceAbort(Promise.race([changed, session.ended]), signal)
        } finally {
          session.dispose()
        }
      }
    } catch (error) {
      if (error instanceof AbortedError && signal?.aborted === true) return
      if (error instanceof ClientClosedError) return
      throw error
    }
  }

  /**
   * firstCandidateWatch, while there is no candidate, watches the children: the first to
   * join is the change. A persistent watch registered before the read, not a one-shot one:
   * if a candidate joins before the read, the watch is removed at once instead of staying
   * armed on the server to wake this observer later, when other candidates join.
   */
  private async firstCandidateWatch(
    signal: AbortSignal | undefined,
  ): Promise<{ leader: LeaderInfo | null; changed: Promise<unknown> | null }> {
    const stop = new AbortController()
    const onAbort = () => stop.abort()
    signal?.addEventListener('abort', onAbort, { once: true })
    const ended = () => {
      signal?.removeEventListener('abort', onAbort)
      stop.abort()
    }
    const children = this.client.watch(this.path, { signal: stop.signal })[Symbol.asyncIterator]()
    try {
      const now = await retry(
        () => this.client.children(this.path, signalOption(signal)),
        retrying(signal),
      )
      if (sortedContenders(now).length > 0) {
        ended()
        return { leader: null, changed: null }
      }
      // Any end of the stream (a change, a lost session, a closed client) means: look again.
      const changed = children.next().then(ended, ended)
      return { leader: null, changed }
    } catch (error) {
      ended()
      if (error instanceof NoNodeError) return { leader: null, changed: null }
      throw error
    }
  }

  /** leaderWithWatch reads the leader and leaves a one-shot watch that fires when it may have changed (changed null: look again now). */
  private async leaderWithWatch(
    signal: AbortSignal | undefined,
  ): Promise<{ leader: LeaderInfo | null; changed: Promise<unknown> | null }> {
    const again = { leader: null, changed: null }
    let names: string[]
    try {
      names = await retry(
        () => this.client.children(this.path, signalOption(signal)),
        retrying(signal),
      )
    } catch (error) {
      if (!(error instanceof NoNodeError)) throw error
      const parent = await retry(() => armExists(this.client, this.path, signal), retrying(signal))
      return parent.stat === null ? { leader: null, changed: parent.fired } : again
    }
    const first = sortedContenders(names)[0]
    if (first === undefined) return this.firstCandidateWatch(signal)
    const path = childOf(this.path, first.name)
    let fire: () => void = () => {}
    const changed = new Promise<void>((resolve) => (fire = resolve))
    try {
      const { data, stat } = await retry(
        () => this.client.get(path, { watch: onChange(() => fire()), ...signalOption(signal) }),
        retrying(signal),
      )
      return { leader: leaderInfo(data, stat.czxid, path), changed }
    } catch (error) {
      if (error instanceof NoNodeError) return again
      throw error
    }
  }
}

/**
 * election returns a candidate's handle on the election at `path`:
 * `await election(client, '/services/api/leader', { id: 'host-1' }).campaign({ signal })`.
 */
export function election(client: RecipeClient, path: string, options: ElectionOptions): Election {
  return new Election(client, path, options)
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
/** NEWLINE separates the id from the data in a candidate's node: `<id>` or `<id>\n<data>`. */
const NEWLINE = 0x0a

/** candidateData is a candidate node's content: the id, then a newline and the data if there is any. */
function candidateData(id: string, data: Data | undefined): Uint8Array {
  const idBytes = encoder.encode(id)
  if (data === undefined) return idBytes
  const dataBytes = typeof data === 'string' ? encoder.encode(data) : data
  const out = new Uint8Array(idBytes.length + 1 + dataBytes.length)
  out.set(idBytes)
  out[idBytes.length] = NEWLINE
  out.set(dataBytes, idBytes.length + 1)
  return out
}

/** leaderInfo reads a candidate node's content back. */
function leaderInfo(content: Uint8Array, token: bigint, path: string): LeaderInfo {
  const newline = content.indexOf(NEWLINE)
  if (newline < 0) return { id: decoder.decode(content), token, path, data: new Uint8Array(0) }
  return {
    id: decoder.decode(content.subarray(0, newline)),
    token,
    path,
    data: content.slice(newline + 1),
  }
}
