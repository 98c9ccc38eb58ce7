/**
 * One call from issue to settlement: hands the request to the engine and races its
 * reply against the call's deadline and AbortSignal. A write given up after it was
 * sent may still take effect, so its error says `definite: false`.
 */
import type { Request } from '../protocol/index.js'
import type { TimerHandle } from './clock.js'
import { AbortedError, ClientClosedError, OperationTimeoutError, type ConclaveError } from './errors.js'
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
 * runCall issues `request` and resolves to its result. `onSuccess` runs synchronously
 * when the reply arrives, before any later event is routed, so a watch registered
 * there cannot miss an event that follows the reply.
 */
export function runCall(
  engine: SessionEngine,
  request: Request,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  onSuccess?: (result: unknown) => void,
): Promise<unknown> {
  if (engine.closed) return Promise.reject(new ClientClosedError('the client is closed'))
  if (signal?.aborted === true) return Promise.reject(new AbortedError(`${request.op} aborted before it was sent`))
  return new Promise<unknown>((resolve, reject) => {
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
      (result) => {
        settle()
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
    timer = clock.setTimeout(() => giveUp(new OperationTimeoutError(`${request.op} timed out after ${timeoutMs} ms`, { definite: definite() })), timeoutMs)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
