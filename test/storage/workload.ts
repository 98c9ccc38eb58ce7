/**
 * A seeded generator of valid txns for storage tests: sessions, creates (some
 * ephemeral, some nested), sets, deletes and session closes, each built against a
 * DataTree it also applies to, the way the leader's TxnBuilder would produce them.
 */
import type { Txn, TxnOp } from '../../protocol/txn.js'
import { makeZxid, type Zxid } from '../../protocol/zxid.js'
import { OPEN_ACL_UNSAFE } from '../../protocol/types.js'
import { DataTree } from '../../server/tree/data-tree.js'
import { SessionTable } from '../../server/sessions/session-table.js'
import { mulberry32 } from '../helpers/mulberry32.js'

export { mulberry32 }

/** SESSION_OPTIONS are the session table settings storage tests use. */
export const SESSION_OPTIONS = { tickMs: 100, minTimeoutMs: 200, maxTimeoutMs: 60_000 }

/** Workload produces txns one at a time and keeps the tree and sessions they lead to. */
export class Workload {
  readonly tree = new DataTree()
  readonly sessions = new SessionTable(SESSION_OPTIONS)
  readonly txns: Txn[] = []
  private readonly random: () => number
  private counter = 0
  private nextSession = 1n
  private readonly paths: string[] = []

  constructor(
    seed: number,
    private readonly epoch = 1,
  ) {
    this.random = mulberry32(seed)
  }

  /** next builds, applies and returns the next txn. */
  next(): Txn {
    const zxid: Zxid = makeZxid(this.epoch, ++this.counter)
    const txn: Txn = {
      zxid,
      timeMs: 1_700_000_000_000 + this.counter,
      sessionId: 0n,
      xid: this.counter,
      op: this.pickOp(),
    }
    this.tree.apply(txn)
    this.sessions.apply(txn)
    this.txns.push(txn)
    if (txn.op.type === 'create') this.paths.push(txn.op.path)
    return txn
  }

  /** take returns the next `count` txns. */
  take(count: number): Txn[] {
    return Array.from({ length: count }, () => this.next())
  }

  private pickOp(): TxnOp {
    const roll = this.random()
    const live = this.sessions.all()
    if (roll < 0.05 || live.length === 0) {
      return {
        type: 'createSession',
        sessionId: this.nextSession++,
        timeoutMs: 4000,
        password: new Uint8Array([1, 2, 3, Number(this.nextSession % 250n)]),
      }
    }
    if (roll < 0.08 && live.length > 1) {
      const session = live[Math.floor(this.random() * live.length)]!
      return {
        type: 'closeSession',
        sessionId: session.id,
        deletePaths: this.tree.ephemeralsOf(session.id),
      }
    }
    const existing = this.paths.filter((p) => this.tree.getNode(p) !== undefined)
    if (roll < 0.45 || existing.length === 0) return this.create(existing, live[0]!.id)
    const path = existing[Math.floor(this.random() * existing.length)]!
    const node = this.tree.getNode(path)!
    if (roll < 0.55 && node.children.size === 0) return { type: 'delete', path }
    const data = new TextEncoder().encode(
      `value ${this.counter} ${'x'.repeat(Math.floor(this.random() * 40))}`,
    )
    return { type: 'set', path, data, version: node.version + 1 }
  }

  private create(existing: string[], sessionId: bigint): TxnOp {
    const parents = existing.filter((p) => this.tree.getNode(p)!.ephemeralOwner === 0n)
    const parent =
      parents.length > 0 && this.random() < 0.4
        ? parents[Math.floor(this.random() * parents.length)]!
        : '/'
    const path = `${parent === '/' ? '' : parent}/n${this.counter}`
    const ephemeral = this.random() < 0.2
    const parentNode = this.tree.getNode(parent)!
    return {
      type: 'create',
      path,
      data: new TextEncoder().encode(`created ${this.counter}`),
      acl: [...OPEN_ACL_UNSAFE],
      ephemeralOwner: ephemeral ? sessionId : 0n,
      container: false,
      ttlMs: 0,
      parentCversion: parentNode.cversion + 1,
    }
  }
}

/** digestOfReplay is the digest of a fresh tree with `txns` applied in order. */
export function digestOfReplay(txns: readonly Txn[]): bigint {
  const tree = new DataTree()
  for (const txn of txns) tree.apply(txn)
  return tree.digest()
}
