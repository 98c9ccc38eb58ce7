/**
 * checkSessionGuarantees: the promises plain (locally served, possibly stale) reads
 * must keep even though they are not linearizable (design.md §1.3).
 *
 * Checks, each reported as a {@link SessionViolation} with the ops involved:
 * - `zxid-went-back`: within one session, an op called after another op returned
 *   observed a smaller zxid (single system image: a session never sees time go back,
 *   also across reconnects). Applies to every op with an observed zxid.
 * - `read-your-writes`: a read of p called after the session's own acknowledged write
 *   w to p returned carries a reply zxid below w's zxid.
 * - `stale-content`: the read's zxid is recent enough, but the node it shows is older
 *   than the session's own write w (by `mzxid`): a set/create not reflected, or a
 *   deleted node still shown. Also a node whose mzxid is above the reply zxid.
 * - `wrong-value-at-zxid`: a read shows mzxid m, and the history holds the successful
 *   write with zxid m on that path, but the value or version differs (or it was a delete).
 * - `duplicate-write-zxid`: two successful writes carry the same zxid.
 *
 * Ops are "earlier" only when their interval ends strictly before the later op's call;
 * overlapping ops of one session are not ordered by these checks.
 */
import { formatZxid, type Zxid } from '../../protocol/zxid.js'
import {
  observedZxid,
  validateHistory,
  type History,
  type Operation,
  type OpSuccess,
} from './history.js'

/** SessionViolationKind names the session guarantee that was broken. */
export type SessionViolationKind =
  | 'zxid-went-back'
  | 'read-your-writes'
  | 'stale-content'
  | 'wrong-value-at-zxid'
  | 'duplicate-write-zxid'

/** SessionViolation is one broken guarantee; `ops` lists the earlier op first, the offending op last. */
export interface SessionViolation {
  readonly kind: SessionViolationKind
  readonly sessionId: bigint
  readonly path?: string
  readonly ops: readonly Operation[]
  readonly message: string
}

/** SessionReport is the answer of {@link checkSessionGuarantees}. */
export interface SessionReport {
  readonly ok: boolean
  readonly violations: readonly SessionViolation[]
  /** checkedOperationCount counts ops that carried a zxid and so took part in the checks. */
  readonly checkedOperationCount: number
}

/** checkSessionGuarantees checks plain-read session guarantees; throws HistoryError on malformed input. */
export function checkSessionGuarantees(history: History): SessionReport {
  validateHistory(history)
  const withZxid = history.filter((op) => op.returnTime !== null && observedZxid(op) !== undefined)
  const violations: SessionViolation[] = [
    ...findDuplicateWriteZxids(withZxid),
    ...findWrongValues(withZxid),
  ]
  const flagged = new Set<number>()
  for (const ops of groupBy(withZxid, (op) => op.sessionId).values()) {
    for (const v of findReadYourWritesViolations(ops)) {
      violations.push(v)
      flagged.add((v.ops[v.ops.length - 1] as Operation).id)
    }
    for (const v of findZxidWentBack(ops))
      if (!flagged.has((v.ops[1] as Operation).id)) violations.push(v)
  }
  return { ok: violations.length === 0, violations, checkedOperationCount: withZxid.length }
}

function zxidOf(op: Operation): Zxid {
  return observedZxid(op) as Zxid
}

function successOf(op: Operation): OpSuccess | undefined {
  return op.output !== null && op.output.ok ? op.output : undefined
}

/**
 * sweepEarlier visits each target in call order together with the earlier op (one that
 * returned strictly before the target's call) with the largest `keyOf`, if any.
 */
function sweepEarlier(
  earlier: readonly Operation[],
  targets: readonly Operation[],
  keyOf: (op: Operation) => Zxid,
  visit: (target: Operation, best: Operation) => void,
): void {
  const byReturn = [...earlier].sort((a, b) => (a.returnTime as number) - (b.returnTime as number))
  const byCall = [...targets].sort((a, b) => a.callTime - b.callTime || a.id - b.id)
  let best: Operation | undefined
  let cursor = 0
  for (const target of byCall) {
    while (
      cursor < byReturn.length &&
      ((byReturn[cursor] as Operation).returnTime as number) < target.callTime
    ) {
      const candidate = byReturn[cursor] as Operation
      if (best === undefined || keyOf(candidate) > keyOf(best)) best = candidate
      cursor += 1
    }
    if (best !== undefined) visit(target, best)
  }
}

function findZxidWentBack(sessionOps: readonly Operation[]): SessionViolation[] {
  const violations: SessionViolation[] = []
  sweepEarlier(sessionOps, sessionOps, zxidOf, (op, seen) => {
    if (zxidOf(op) >= zxidOf(seen)) return
    violations.push({
      kind: 'zxid-went-back',
      sessionId: op.sessionId,
      path: op.input.path,
      ops: [seen, op],
      message: `session saw zxid ${formatZxid(zxidOf(seen))} (op #${seen.id}) and later zxid ${formatZxid(zxidOf(op))} (op #${op.id})`,
    })
  })
  return violations
}

function findReadYourWritesViolations(sessionOps: readonly Operation[]): SessionViolation[] {
  const violations: SessionViolation[] = []
  for (const ops of groupBy(sessionOps, (op) => op.input.path).values()) {
    const writes = ops.filter((op) => op.input.kind !== 'read' && successOf(op)?.zxid !== undefined)
    const reads = ops.filter((op) => op.input.kind === 'read')
    sweepEarlier(writes, reads, zxidOf, (read, write) => {
      const violation = judgeReadAfterOwnWrite(read, write)
      if (violation !== undefined) violations.push(violation)
    })
  }
  return violations
}

/** judgeReadAfterOwnWrite checks one read against the session's newest earlier write to the same path. */
function judgeReadAfterOwnWrite(read: Operation, write: Operation): SessionViolation | undefined {
  const base = { sessionId: read.sessionId, path: read.input.path, ops: [write, read] }
  const writeZxid = zxidOf(write)
  if (zxidOf(read) < writeZxid) {
    return {
      ...base,
      kind: 'read-your-writes',
      message: `read #${read.id} has zxid ${formatZxid(zxidOf(read))} below the session's own write #${write.id} at ${formatZxid(writeZxid)}`,
    }
  }
  const seen = successOf(read)
  if (seen?.exists !== true || seen.mzxid === undefined) return undefined
  if (write.input.kind === 'delete' && seen.mzxid <= writeZxid) {
    return {
      ...base,
      kind: 'stale-content',
      message: `read #${read.id} shows the node (mzxid ${formatZxid(seen.mzxid)}) the session deleted at ${formatZxid(writeZxid)} (op #${write.id})`,
    }
  }
  if (write.input.kind !== 'delete' && seen.mzxid < writeZxid) {
    return {
      ...base,
      kind: 'stale-content',
      message: `read #${read.id} shows mzxid ${formatZxid(seen.mzxid)}, older than the session's own write #${write.id} at ${formatZxid(writeZxid)}`,
    }
  }
  return undefined
}

/** findWrongValues matches reads' mzxid to the write with that zxid and compares contents. */
function findWrongValues(ops: readonly Operation[]): SessionViolation[] {
  const writesByZxid = new Map<Zxid, Operation>()
  for (const op of ops) {
    const zxid = op.input.kind === 'read' ? undefined : successOf(op)?.zxid
    if (zxid !== undefined && !writesByZxid.has(zxid)) writesByZxid.set(zxid, op)
  }
  const violations: SessionViolation[] = []
  for (const read of ops) {
    const seen = read.input.kind === 'read' ? successOf(read) : undefined
    if (seen?.exists !== true || seen.mzxid === undefined) continue
    const base = { sessionId: read.sessionId, path: read.input.path }
    if (seen.mzxid > zxidOf(read)) {
      violations.push({
        ...base,
        kind: 'stale-content',
        ops: [read],
        message: `read #${read.id} shows mzxid ${formatZxid(seen.mzxid)} above its own reply zxid ${formatZxid(zxidOf(read))}`,
      })
      continue
    }
    const write = writesByZxid.get(seen.mzxid)
    if (write === undefined || write.input.path !== read.input.path) continue
    const problem = contentMismatch(write, seen)
    if (problem !== undefined)
      violations.push({
        ...base,
        kind: 'wrong-value-at-zxid',
        ops: [write, read],
        message: `read #${read.id} at mzxid ${formatZxid(seen.mzxid)}: ${problem} (write #${write.id})`,
      })
  }
  return violations
}

function contentMismatch(write: Operation, seen: OpSuccess): string | undefined {
  if (write.input.kind === 'delete' || write.input.kind === 'read')
    return 'that zxid deleted the node'
  if (seen.value !== write.input.value)
    return `value ${JSON.stringify(seen.value)} but the write stored ${JSON.stringify(write.input.value)}`
  const written = successOf(write)?.version
  if (seen.version !== undefined && written !== undefined && seen.version !== written)
    return `version ${seen.version} but the write made ${written}`
  return undefined
}

function findDuplicateWriteZxids(ops: readonly Operation[]): SessionViolation[] {
  const firstByZxid = new Map<Zxid, Operation>()
  const violations: SessionViolation[] = []
  for (const op of ops) {
    const zxid = op.input.kind === 'read' ? undefined : successOf(op)?.zxid
    if (zxid === undefined) continue
    const first = firstByZxid.get(zxid)
    if (first === undefined) {
      firstByZxid.set(zxid, op)
      continue
    }
    violations.push({
      kind: 'duplicate-write-zxid',
      sessionId: op.sessionId,
      path: op.input.path,
      ops: [first, op],
      message: `writes #${first.id} and #${op.id} both got zxid ${formatZxid(zxid)}`,
    })
  }
  return violations
}

function groupBy<K>(ops: readonly Operation[], keyOf: (op: Operation) => K): Map<K, Operation[]> {
  const groups = new Map<K, Operation[]>()
  for (const op of ops) {
    const key = keyOf(op)
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [op])
    else group.push(op)
  }
  return groups
}
