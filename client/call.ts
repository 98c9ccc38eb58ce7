/**
 * One call from issue to settlement: hands the request to the engine and races its
 * reply against the call's deadline and AbortSignal. A write given up after it was
 * sent may still take effect, so its error says `definite: false`.
 */
import type { Request, ResultOf } from '../protocol/index.js'
import type { TimerHandle } from './clock.js'
import {
  AbortedError,
  ClientClosedError,
  OperationTimeoutError,
  type ConclaveError,
} from './errors.js'
import { isWrite } from './pending.js'
import type { SessionEngine } from './session.js'

/** CallOptions are accepted by every call. */
export interface CallOptions {
  /** signal abandons the call when it aborts (AbortedError). */
  signal?: AbortSignal
  /** timeoutMs overrides the client's requestTimeoutMs for this call, waiting for a connection included. */
  timeoutMs?: number
}

/**
 * runCall issues `request` and resolves to its result, typed by the request's op
 * (protocol ResultMap). `onSuccess` runs synchronously when the reply arrives, before
 * any later event is routed, so a watch registered there cannot miss an event that
 * follows the reply.
 */
export function runCall<R extends Request>(
  engine: SessionEngine,
  request: R,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  onSuccess?: (result: ResultOf<R['op']>) => void,
): Promise<ResultOf<R['op']>> {
  if (engine.closed) return Promise.reject(new ClientClosedError('the client is closed'))
  if (signal?.aborted === true)
    return Promise.reject(new AbortedError(`${request.op} aborted before it was sent`))
  return new Promise<ResultOf<R['op']>>((resolve, reject) => {
    const clock = engine.clock
    let timer: TimerHandle | undefined
    let settled = false
    function settle(): void {
      settled = true
      clock.clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    const call = engine.issue(
      request,
      (reply) => {
        settle()
        // The one place a reply's result meets its request's type: replies are matched to
        // requests by xid, and a server answers each op with ResultMap's result for it (the
        // codec has checked the fields' types, not which op they belong to).
        const result = reply as ResultOf<R['op']>
        try {
          onSuccess?.(result)
        } finally {
          resolve(result)
        }
      },
      (error) => {
        settle()
        reject(error)
      },
    )
    if (settled) return
    function giveUp(error: ConclaveError): void {
      settle()
      engine.abandon(call)
      reject(error)
    }
    // A write that went out may be applied even though we stop waiting for it.
    const definite = () => !(isWrite(request) && call.sent)
    function onAbort(): void {
      giveUp(new AbortedError(`${request.op} aborted`, { definite: definite() }))
    }
    timer = clock.setTimeout(
      () =>
        giveUp(
          new OperationTimeoutError(`${request.op} timed out after ${timeoutMs} ms`, {
            definite: definite(),
          }),
        ),
      timeoutMs,
    )
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
