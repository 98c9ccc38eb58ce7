/**
 * The load generators' view of a client session, the same for Conclave and ZooKeeper:
 * a session pinned to one member, with a deadline on every call.
 */

/** BenchSession is one client session connected to one ensemble member. */
export interface BenchSession {
  /** set replaces a node's data (any version); rejects on error or after `timeoutMs`. */
  set(path: string, data: Uint8Array, timeoutMs: number): Promise<void>
  /** get reads a node's data; rejects on error or after `timeoutMs`. */
  get(path: string, timeoutMs: number): Promise<void>
  /** ensure creates a persistent node, doing nothing if it exists. */
  ensure(path: string, data: Uint8Array, timeoutMs: number): Promise<void>
  /** connected is true while the session has a live connection to its member. */
  connected(): boolean
  /** close ends the session, waiting at most a moment. */
  close(): Promise<void>
}

/** CallTimeoutError is a bench-side deadline that passed before the reply came. */
export class CallTimeoutError extends Error {
  override readonly name = 'CallTimeoutError'
}

/** withTimeout races `promise` against a deadline that rejects with CallTimeoutError. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CallTimeoutError(`${what}: no reply within ${timeoutMs} ms`)),
      timeoutMs,
    )
  })
  // A call abandoned at its deadline may still fail later; that failure is of no interest.
  promise.catch(() => {})
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}
