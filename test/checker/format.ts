/**
 * Text renderings of histories and checker verdicts for test failures, and a JSON
 * form of histories for artifacts. Everything here is a pure function over strings:
 * callers decide where files go.
 */
import { formatZxid } from '../../protocol/zxid.js'
import {
  HistoryError,
  validateHistory,
  type History,
  type OpInput,
  type Operation,
  type OpOutput,
} from './history.js'
import type { IllegalWitness, LinearizabilityReport } from './linearizable.js'
import { describeOutcome, describeState } from './model.js'
import type { SessionReport, SessionViolation } from './session-guarantees.js'

/** HISTORY_FORMAT names the JSON document {@link saveHistory} writes. */
export const HISTORY_FORMAT = 'conclave-history'
/** HISTORY_FORMAT_VERSION is bumped when the JSON layout changes incompatibly. */
export const HISTORY_FORMAT_VERSION = 1

/** renderInput renders a request, e.g. `set /a "v3" if v2` or `delete /a any`. */
export function renderInput(input: OpInput): string {
  const expected = (v: number): string => (v === -1 ? 'any' : `if v${v}`)
  switch (input.kind) {
    case 'create':
      return `create ${input.path} ${JSON.stringify(input.value)}`
    case 'set':
      return `set ${input.path} ${JSON.stringify(input.value)} ${expected(input.expectedVersion)}`
    case 'delete':
      return `delete ${input.path} ${expected(input.expectedVersion)}`
    case 'read':
      return `read ${input.path}`
  }
}

/** renderOutput renders a reply, `?` for an unknown outcome. */
export function renderOutput(output: OpOutput | null): string {
  if (output === null) return '? (unknown outcome)'
  if (!output.ok) return output.code
  const parts: string[] = ['ok']
  if (output.exists === false) parts.push('absent')
  if (output.value !== undefined && output.value !== null) parts.push(JSON.stringify(output.value))
  if (output.version !== undefined) parts.push(`v${output.version}`)
  if (output.mzxid !== undefined) parts.push(`mzxid ${formatZxid(output.mzxid)}`)
  if (output.zxid !== undefined) parts.push(`zxid ${formatZxid(output.zxid)}`)
  return parts.join(' ')
}

/** renderOperation renders one op on one line: id, client, session, interval, request, reply. */
export function renderOperation(op: Operation): string {
  const returned = op.output === null || op.returnTime === null ? '?' : String(op.returnTime)
  const plain = op.plain === undefined ? '' : ` (plain @${formatZxid(op.plain.zxid)})`
  return `#${op.id} c${op.clientId} s0x${op.sessionId.toString(16)} [${op.callTime}..${returned}] ${renderInput(op.input)}${plain} -> ${renderOutput(op.output)}`
}

/** renderHistory renders a history by call time, optionally only one path. */
export function renderHistory(history: History, options: { path?: string } = {}): string {
  return [...history]
    .filter((op) => options.path === undefined || op.input.path === options.path)
    .sort((a, b) => a.callTime - b.callTime || a.id - b.id)
    .map(renderOperation)
    .join('\n')
}

/**
 * renderWitness explains an illegal path: the tail of the longest linearizable prefix
 * (the last `prefixTail` ops, default 10), the state it leaves, and each op that could
 * have come next with what the model expected of it.
 */
export function renderWitness(
  witness: IllegalWitness,
  options: { prefixTail?: number } = {},
): string {
  const tail = options.prefixTail ?? 10
  const shown = witness.prefix.slice(Math.max(0, witness.prefix.length - tail))
  const lines = [`path ${witness.path} is not linearizable.`]
  lines.push(
    `Longest linearizable prefix: ${witness.prefix.length} op(s)${shown.length < witness.prefix.length ? `, last ${shown.length}` : ''}:`,
  )
  for (const op of shown) lines.push(`  ${renderOperation(op)}`)
  lines.push(`State after the prefix: ${describeState(witness.stateAfterPrefix)}`)
  lines.push(`None of these could come next (${witness.unplaced.length} op(s) left unplaced):`)
  for (const c of witness.candidates) {
    const verdict = c.fits
      ? 'fits, but leads nowhere'
      : `model expected ${describeOutcome(c.expected)}`
    lines.push(`  ${renderOperation(c.op)}    <- ${verdict}`)
  }
  return lines.join('\n')
}

/** renderLinearizabilityReport renders the verdict, one line per non-ok path, and the witness. */
export function renderLinearizabilityReport(report: LinearizabilityReport): string {
  const lines = [
    `linearizability: ${report.result} (${report.checkedOperationCount} ops checked on ${report.perPath.length} path(s), ${report.skippedOperationCount} skipped)`,
  ]
  for (const p of report.perPath) {
    if (p.result === 'ok') continue
    const why = p.unknownReason === undefined ? '' : ` (${p.unknownReason})`
    lines.push(
      `  ${p.path}: ${p.result}${why} after ${p.steps} steps over ${p.operationCount} ops, ${p.unknownOutcomeCount} of unknown outcome`,
    )
  }
  if (report.witness !== undefined) lines.push(renderWitness(report.witness))
  return lines.join('\n')
}

/** renderSessionViolation renders one violation with the ops involved. */
export function renderSessionViolation(violation: SessionViolation): string {
  const lines = [
    `${violation.kind} in session 0x${violation.sessionId.toString(16)}: ${violation.message}`,
  ]
  for (const op of violation.ops) lines.push(`  ${renderOperation(op)}`)
  return lines.join('\n')
}

/** renderSessionReport renders the session-guarantee verdict and every violation. */
export function renderSessionReport(report: SessionReport): string {
  const head = `session guarantees: ${report.ok ? 'ok' : `${report.violations.length} violation(s)`} (${report.checkedOperationCount} ops with zxids)`
  return [head, ...report.violations.map(renderSessionViolation)].join('\n')
}

/** saveHistory renders a history as JSON, bigints as decimal strings. */
export function saveHistory(history: History): string {
  const operations = history.map((op) => ({
    id: op.id,
    clientId: op.clientId,
    sessionId: op.sessionId.toString(),
    input: op.input,
    callTime: op.callTime,
    returnTime: op.returnTime,
    output: op.output === null ? null : encodeOutput(op.output),
    ...(op.plain === undefined ? {} : { plain: { zxid: op.plain.zxid.toString() } }),
  }))
  return JSON.stringify(
    { format: HISTORY_FORMAT, version: HISTORY_FORMAT_VERSION, operations },
    null,
    1,
  )
}

function encodeOutput(output: OpOutput): Record<string, unknown> {
  if (!output.ok) return { ok: false, code: output.code }
  const { zxid, mzxid, ...rest } = output
  return {
    ...rest,
    ...(zxid === undefined ? {} : { zxid: zxid.toString() }),
    ...(mzxid === undefined ? {} : { mzxid: mzxid.toString() }),
  }
}

/** loadHistory parses what {@link saveHistory} wrote and validates it; throws HistoryError('BAD_FORMAT') otherwise. */
export function loadHistory(text: string): Operation[] {
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch (err) {
    throw new HistoryError('BAD_FORMAT', `not JSON: ${(err as Error).message}`)
  }
  const doc = document as { format?: unknown; version?: unknown; operations?: unknown }
  if (typeof document !== 'object' || document === null || doc.format !== HISTORY_FORMAT) {
    throw new HistoryError('BAD_FORMAT', `not a ${HISTORY_FORMAT} document`)
  }
  if (doc.version !== HISTORY_FORMAT_VERSION)
    throw new HistoryError('BAD_FORMAT', `unsupported version ${String(doc.version)}`)
  if (!Array.isArray(doc.operations))
    throw new HistoryError('BAD_FORMAT', 'operations must be an array')
  const history = doc.operations.map(decodeOperation)
  validateHistory(history)
  return history
}

function decodeOperation(raw: unknown): Operation {
  if (typeof raw !== 'object' || raw === null)
    throw new HistoryError('BAD_FORMAT', 'operation must be an object')
  const r = raw as Record<string, unknown>
  const op: Operation = {
    id: r.id as number,
    clientId: r.clientId as number,
    sessionId: parseBigint(r.sessionId, 'sessionId'),
    input: r.input as OpInput,
    callTime: r.callTime as number,
    returnTime: r.returnTime as number | null,
    output: r.output === null || r.output === undefined ? null : decodeOutput(r.output),
  }
  if (r.plain !== undefined)
    op.plain = { zxid: parseBigint((r.plain as { zxid?: unknown }).zxid, 'plain.zxid') }
  return op
}

function decodeOutput(raw: unknown): OpOutput {
  if (typeof raw !== 'object' || raw === null)
    throw new HistoryError('BAD_FORMAT', 'output must be an object or null')
  const r = raw as Record<string, unknown>
  if (r.ok !== true) return raw as OpOutput
  const { zxid, mzxid, ...rest } = r
  return {
    ...(rest as { ok: true }),
    ...(zxid === undefined ? {} : { zxid: parseBigint(zxid, 'zxid') }),
    ...(mzxid === undefined ? {} : { mzxid: parseBigint(mzxid, 'mzxid') }),
  }
}

function parseBigint(raw: unknown, field: string): bigint {
  if (typeof raw !== 'string' || !/^(?:0x[0-9a-f]+|\d+)$/i.test(raw)) {
    throw new HistoryError(
      'BAD_FORMAT',
      `${field} must be a decimal or 0x-hex string, got ${JSON.stringify(raw)}`,
    )
  }
  return BigInt(raw)
}
