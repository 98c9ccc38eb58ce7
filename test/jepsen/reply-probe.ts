/**
 * ReplyProbe: what the SDK hears for each call, beyond what its public API returns.
 *
 * The history needs the zxid each reply carried (a read's server position for the
 * session checks, also when the read answered NO_NODE; a delete's txn zxid for the
 * lost-write count), and the public Client API hands back only results (`create`
 * gives just the path, `delete` nothing, an error no zxid). The probe wraps two steps
 * of the client's engine: `issue` (to learn each request's xid) and `onReply` (to note
 * the reply's zxid, error code and raw result). It observes only: requests, replies
 * and errors go through untouched. A worker has one call in flight at a time, so
 * `take(op, path)` right after the call settles is that call's reply.
 */
import type { Client } from '../../client/index.js'

/** ProbedReply is what one reply carried: header zxid, error code (0 = ok) and raw result. */
export interface ProbedReply {
  zxid: bigint
  err: number
  result: unknown
}

interface RequestLike {
  op: string
  path?: string
}
interface CallLike {
  xid: number
}
interface ReplyLike {
  xid: number
  zxid: bigint
  err: number
  result?: unknown
}
interface EngineLike {
  issue: (request: RequestLike, resolve: unknown, reject: unknown) => CallLike
  onReply: (connection: unknown, reply: ReplyLike) => void
}

/** ReplyProbe hands out the last reply per (op, path) of one client. */
export class ReplyProbe {
  private readonly replies = new Map<string, ProbedReply>()
  private readonly keyByXid = new Map<number, string>()

  /** constructor installs the probe on `client`; throws if the SDK's internals moved. */
  constructor(client: Client) {
    const engine = (client as unknown as { engine?: Partial<EngineLike> }).engine
    if (
      engine === undefined ||
      typeof engine.issue !== 'function' ||
      typeof engine.onReply !== 'function'
    ) {
      throw new Error(
        'ReplyProbe: the SDK engine has no issue/onReply any more; update test/jepsen/reply-probe.ts',
      )
    }
    const issue = engine.issue.bind(engine)
    const onReply = engine.onReply.bind(engine)
    engine.issue = (request, resolve, reject) => {
      const call = issue(request, resolve, reject)
      this.keyByXid.set(call.xid, keyOf(request.op, request.path))
      return call
    }
    engine.onReply = (connection, reply) => {
      const key = this.keyByXid.get(reply.xid)
      if (key !== undefined) {
        this.keyByXid.delete(reply.xid)
        this.replies.set(key, { zxid: reply.zxid, err: reply.err, result: reply.result })
      }
      onReply(connection, reply)
    }
  }

  /** take returns and forgets the last reply to `op` on `path`. */
  take(op: string, path: string): ProbedReply | undefined {
    const key = keyOf(op, path)
    const reply = this.replies.get(key)
    this.replies.delete(key)
    return reply
  }

  /** clear forgets every reply noted so far (call before issuing, so a stale one is never taken). */
  clear(): void {
    this.replies.clear()
  }
}

function keyOf(op: string, path: string | undefined): string {
  return `${op} ${path ?? ''}`
}
