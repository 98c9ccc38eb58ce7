/**
 * ForwardPayload: what a member hands the leader inside a ForwardedRequest (the core
 * never looks inside). It crosses the network, so the leader checks its shape before
 * preparing anything: a malformed payload becomes an error txn that answers the
 * client, never an exception.
 */
import { ErrorCode, checkRequest, type SessionId } from '../../protocol/index.js'
import { isRecord } from '../../protocol/schema.js'
import type { AuthId, WriteRequest } from '../requests/index.js'

/**
 * ForwardPayload is one forwarded client action:
 * - `write`: a create, set, delete, setAcl or multi to prepare, with the identities of
 *   the connection that sent it (ZooKeeper's authInfo): the leader checks the ACLs;
 * - `createSession`: open a session with the id the member chose and this password;
 * - `closeSession`: the client closes its session;
 * - `claimSession`: the client resumed its session on the origin member, which now
 *   owns it; later requests of the session arriving through another member fail with
 *   SESSION_MOVED. Claims make no txn.
 */
export type ForwardPayload =
  | { kind: 'write'; request: WriteRequest; identities: readonly AuthId[] }
  | { kind: 'createSession'; timeoutMs: number; password: Uint8Array }
  | { kind: 'closeSession' }
  | { kind: 'claimSession' }

/** PayloadProblem says why a forwarded payload cannot be prepared, with the error code to answer. */
export interface PayloadProblem {
  code: number
  reason: string
}

const WRITE_OPS_FORWARDED = new Set(['create', 'set', 'delete', 'setAcl', 'multi'])

/** IDENTITIES_MAX bounds the identities one forwarded write carries (a connection may addAuth that many). */
export const IDENTITIES_MAX = 16

/** NO_IDENTITIES is the identities of a write from a connection that never authenticated (the usual case). */
const NO_IDENTITIES: readonly AuthId[] = Object.freeze([])

function checkIdentities(value: unknown): readonly AuthId[] | null {
  if (value === undefined) return NO_IDENTITIES
  if (!Array.isArray(value) || value.length > IDENTITIES_MAX) return null
  if (value.length === 0) return NO_IDENTITIES
  const out: AuthId[] = []
  for (const item of value as unknown[]) {
    if (!isRecord(item) || typeof item.scheme !== 'string' || typeof item.id !== 'string')
      return null
    if (item.scheme.length > 64 || item.id.length > 1024) return null
    out.push({ scheme: item.scheme, id: item.id })
  }
  return out
}

/** checkForwardPayload returns the payload when it is well-formed, or the problem to answer with. */
export function checkForwardPayload(value: unknown): ForwardPayload | PayloadProblem {
  if (!isRecord(value))
    return { code: ErrorCode.MARSHALLING_ERROR, reason: 'forwarded payload is not a map' }
  switch (value.kind) {
    case 'write': {
      const request = checkRequest(value.request)
      if (request instanceof Error)
        return { code: request.code, reason: `forwarded write: ${request.message}` }
      if (!WRITE_OPS_FORWARDED.has(request.op))
        return {
          code: ErrorCode.BAD_ARGUMENTS,
          reason: `forwarded write: '${request.op}' is not a write`,
        }
      const identities = checkIdentities(value.identities)
      if (identities === null)
        return {
          code: ErrorCode.MARSHALLING_ERROR,
          reason: 'forwarded write: malformed identities',
        }
      return { kind: 'write', request: request as WriteRequest, identities }
    }
    case 'createSession': {
      const { timeoutMs, password } = value
      if (!Number.isSafeInteger(timeoutMs) || (timeoutMs as number) < 0)
        return {
          code: ErrorCode.BAD_ARGUMENTS,
          reason: 'createSession: timeoutMs is not a non-negative integer',
        }
      if (!(password instanceof Uint8Array) || password.length === 0 || password.length > 64) {
        return {
          code: ErrorCode.BAD_ARGUMENTS,
          reason: 'createSession: password must be 1-64 bytes',
        }
      }
      return { kind: 'createSession', timeoutMs: timeoutMs as number, password }
    }
    case 'closeSession':
      return { kind: 'closeSession' }
    case 'claimSession':
      return { kind: 'claimSession' }
    default:
      return {
        code: ErrorCode.MARSHALLING_ERROR,
        reason: `unknown forwarded payload kind '${String(value.kind).slice(0, 64)}'`,
      }
  }
}

/** isPayloadProblem tells a PayloadProblem from a ForwardPayload. */
export function isPayloadProblem(value: ForwardPayload | PayloadProblem): value is PayloadProblem {
  return 'code' in value
}

/** requestKey is how a member finds a forwarded request again when its txn commits: session id and xid. */
export function requestKey(sessionId: SessionId, xid: number): string {
  return `${sessionId.toString(16)}:${xid}`
}
