/**
 * HistoryBuilder: terse hand-written histories for tests of the checkers (here and in
 * test/sim), so a test reads like the timeline it describes.
 *
 * ```ts
 * const h = new HistoryBuilder()
 * h.add(1, [0, 10], create('/a', 'x'), ok(0))
 * h.add(2, [20, 30], read('/a'), saw('x', 0))
 * h.unknown(3, 5, set('/a', 'y'))
 * ```
 */
import type { Zxid } from '../../protocol/zxid.js'
import type { FailureCode, History, OpInput, Operation, OpOutput, OpSuccess } from './history.js'

/** create builds a create input. */
export function create(path: string, value: string): OpInput {
  return { kind: 'create', path, value }
}

/** set builds a set input; `expectedVersion` defaults to -1 (any). */
export function set(path: string, value: string, expectedVersion = -1): OpInput {
  return { kind: 'set', path, value, expectedVersion }
}

/** del builds a delete input; `expectedVersion` defaults to -1 (any). */
export function del(path: string, expectedVersion = -1): OpInput {
  return { kind: 'delete', path, expectedVersion }
}

/** read builds a read input. */
export function read(path: string): OpInput {
  return { kind: 'read', path }
}

/** ok builds a successful write reply, with the resulting version and zxid when given. */
export function ok(version?: number, zxid?: Zxid): OpSuccess {
  return {
    ok: true,
    ...(version === undefined ? {} : { version }),
    ...(zxid === undefined ? {} : { zxid }),
  }
}

/** saw builds a successful read of an existing node; `extra` adds zxid/mzxid. */
export function saw(
  value: string,
  version?: number,
  extra: { zxid?: Zxid; mzxid?: Zxid } = {},
): OpSuccess {
  return { ok: true, exists: true, value, ...(version === undefined ? {} : { version }), ...extra }
}

/** absent builds a successful read that found no node. */
export function absent(zxid?: Zxid): OpSuccess {
  return { ok: true, exists: false, ...(zxid === undefined ? {} : { zxid }) }
}

/** fail builds a definite failure reply. */
export function fail(code: FailureCode): OpOutput {
  return { ok: false, code }
}

/** HistoryBuilder collects operations with increasing ids. */
export class HistoryBuilder {
  private readonly ops: Operation[] = []

  /** add records an op by `clientId` (also its session, unless `sessionId` is given) over [call, return]. */
  add(
    clientId: number,
    [callTime, returnTime]: [number, number],
    input: OpInput,
    output: OpOutput,
    sessionId?: bigint,
  ): Operation {
    return this.push({
      clientId,
      sessionId: sessionId ?? BigInt(clientId),
      input,
      callTime,
      returnTime,
      output,
    })
  }

  /** unknown records an op whose reply never came. */
  unknown(clientId: number, callTime: number, input: OpInput, sessionId?: bigint): Operation {
    return this.push({
      clientId,
      sessionId: sessionId ?? BigInt(clientId),
      input,
      callTime,
      returnTime: null,
      output: null,
    })
  }

  /** plain records a plain (possibly stale) read answered at reply zxid `zxid`. */
  plain(
    clientId: number,
    [callTime, returnTime]: [number, number],
    path: string,
    output: OpOutput,
    zxid: Zxid,
    sessionId?: bigint,
  ): Operation {
    return this.push({
      clientId,
      sessionId: sessionId ?? BigInt(clientId),
      input: read(path),
      callTime,
      returnTime,
      output,
      plain: { zxid },
    })
  }

  /** history returns the operations recorded so far. */
  history(): History {
    return this.ops
  }

  private push(op: Omit<Operation, 'id'>): Operation {
    const full: Operation = { id: this.ops.length + 1, ...op }
    this.ops.push(full)
    return full
  }
}
