/**
 * Lease: what a caller holds once a recipe grants it something (leadership, a lock, a
 * semaphore permit): the fencing token, an AbortSignal that aborts when the ownership
 * ends, and release.
 *
 * A lease alone cannot make work safe: between the moment code checks `signal` and the
 * moment its write lands somewhere, the process can stall (GC, SIGSTOP, a slow disk)
 * past the session timeout while someone else is granted the same thing. The `token`
 * (the czxid of the owner's node; it only grows from one owner to the next) lets the
 * storage refuse the late write; see docs/recipes.md.
 */
import type { MultiOp } from '../../protocol/index.js'
import type { ConnectionState } from '../session.js'
import { op } from '../multi-op.js'
import { isRetryable, sleep, backoffMs } from './retry.js'
import { LeaseEndedError, type LeaseEndReason } from './errors.js'
import { deleteNode, RETRY_BASE_MS, RETRY_CAP_MS, type OwnNode } from './own-node.js'
import type { RecipeClient } from './recipe-client.js'
import { onChange, raceAbort } from './waits.js'

/**
 * LoseOn is the connection policy of a lease (Curator's ConnectionStateErrorPolicy):
 * - 'lost' (default): `suspended` means "maybe lost" and `lost` means "gone". The lease
 *   survives a dropped connection (and a failover to another member) and ends when the
 *   session is lost. While the connection is down (`lease.suspended`) the owner must
 *   start no side effect, and its storage must check tokens: the server may expire the
 *   session before the client's own timer says so;
 * - 'suspended': the lease ends as soon as the connection drops, because the session
 *   may expire while the client cannot hear about it; the node is then deleted once
 *   the client reconnects, and the caller must acquire again (Curator's default).
 */
export type LoseOn = 'suspended' | 'lost'

/** ReleaseOptions bound the wait of `release`. */
export interface ReleaseOptions {
  /** signal stops waiting (AbortedError); the node is still deleted in the background. */
  signal?: AbortSignal
}

/** Lease is something owned through an ephemeral node; see the module comment. */
export class Lease {
  /** token is the fencing token: the czxid of the owner's node, larger for every later owner. */
  readonly token: bigint
  /** path is the owner's node. */
  readonly path: string
  /** sessionId is the session that owns the node. */
  readonly sessionId: bigint
  private readonly controller = new AbortController()
  private removal: Promise<void> | undefined
  private readonly onState = (state: ConnectionState) => this.stateChanged(state)

  /** constructor starts watching the connection and the node at once; recipes create leases. */
  constructor(
    private readonly client: RecipeClient,
    own: OwnNode,
    private readonly loseOn: LoseOn,
  ) {
    this.token = own.stat.czxid
    this.path = own.path
    this.sessionId = own.sessionId
    client.on('state', this.onState)
    if (client.state !== 'connected' || client.sessionId !== own.sessionId)
      this.stateChanged(client.state)
    // watchNode never rejects; it ends the lease itself when the node goes.
    if (!this.ended) void this.watchNode()
  }

  /** signal aborts when the lease ends, with a LeaseEndedError as its reason. */
  get signal(): AbortSignal {
    return this.controller.signal
  }

  /**
   * suspended is true while the client's connection is down: the lease may already be
   * lost without the client knowing. Start no side effect then (see LoseOn).
   */
  get suspended(): boolean {
    return !this.ended && this.client.state !== 'connected'
  }

  /** ended tells whether the lease has ended. */
  get ended(): boolean {
    return this.controller.signal.aborted
  }

  /**
   * ownerCheck is a multi op that fails (NO_NODE) unless the owner's node still exists:
   * `client.multi([lease.ownerCheck(), op.set(...)])` changes Conclave data only while
   * the lease holds, checked by the server itself.
   */
  ownerCheck(): MultiOp {
    return op.check(this.path)
  }

  /**
   * release ends the lease (its signal aborts first, so work stops before anyone else
   * can be granted the same thing) and resolves once the node is deleted, or its
   * session is over. A connection loss meanwhile does not lose the release: the delete
   * is retried after the reconnect. Idempotent.
   */
  async release(options: ReleaseOptions = {}): Promise<void> {
    this.end('released')
    await raceAbort(this.removal ?? Promise.resolve(), options.signal)
  }

  /** Symbol.asyncDispose releases the lease, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.release()
  }

  /** end ends the lease once; ends that leave the node in place (a drop, a release) delete it. */
  protected end(reason: LeaseEndReason): void {
    if (this.ended) return
    this.client.off('state', this.onState)
    if (reason === 'released' || reason === 'suspended')
      this.removal = deleteNode(this.client, this.path)
    this.controller.abort(new LeaseEndedError(reason, this.path))
  }

  private stateChanged(state: ConnectionState): void {
    switch (state) {
      case 'suspended':
        if (this.loseOn === 'suspended') this.end('suspended')
        return
      case 'lost':
        return this.end('lost')
      case 'closed':
        return this.end('closed')
      case 'connected':
        if (this.client.sessionId !== this.sessionId) this.end('lost')
        return
      case 'connecting':
        return
    }
  }

  /** watchNode ends the lease when someone deletes the node; re-armed after data changes and passing failures. */
  private async watchNode(): Promise<void> {
    const ended = new Promise<void>((resolve) =>
      this.signal.addEventListener('abort', () => resolve(), { once: true }),
    )
    for (let failures = 0; !this.ended;) {
      try {
        let fire: (type: string) => void = () => {}
        const fired = new Promise<string>((resolve) => (fire = resolve))
        const stat = await this.client.exists(this.path, {
          watch: onChange((event) => fire(event.type)),
        })
        if (stat === null) return this.end('deleted')
        failures = 0
        const type = await Promise.race([fired, ended])
        if (type === 'deleted') return this.end('deleted')
      } catch (error) {
        // A lost session or a closed client ends the lease through the state listener.
        if (!isRetryable(error, true)) return
        await sleep(backoffMs(++failures, RETRY_BASE_MS, RETRY_CAP_MS))
      }
    }
  }
}
