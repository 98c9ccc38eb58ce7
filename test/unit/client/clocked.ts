/**
 * Running the SDK on a ManualClock in the client tests: connect, get past a reconnect
 * backoff, and close, without any step depending on how fast the machine is.
 */
import { Client, type ConnectOptions } from '../../../client/index.js'
import { backoffDelayMs } from '../../../client/connection.js'
import { waitFor } from '../../helpers/wait.js'
import type { ManualClock } from '../../helpers/manual-clock.js'

/** FIRST_BACKOFF_MAX_MS is the longest pause the reconnect loop takes after zero or one failed round. */
const FIRST_BACKOFF_MAX_MS = backoffDelayMs(1, Number.POSITIVE_INFINITY, () => 1)

/** startClocked creates a client running on `clock` and waits until it is connected (the handshake needs no time to pass). */
export async function startClocked(clock: ManualClock, options: ConnectOptions): Promise<Client> {
  const client = new Client(options, { clock })
  await client.start()
  return client
}

/**
 * passBackoff waits until the reconnect loop has gone to sleep in its first backoff
 * pause (a timer due within FIRST_BACKOFF_MAX_MS), then moves the clock past it, so the
 * next connection attempt starts. Only for a loop with no failed round or one behind it.
 */
export async function passBackoff(clock: ManualClock): Promise<void> {
  await waitFor(() => (clock.nextTimerInMs() ?? Number.POSITIVE_INFINITY) <= FIRST_BACKOFF_MAX_MS, {
    what: 'the reconnect loop to pause',
  })
  clock.advance(FIRST_BACKOFF_MAX_MS)
}

/** CLOSE_WAIT_MAX_MS is the longest close() waits for the closeSession reply (CLOSE_TIMEOUT_MS in client/options.ts). */
const CLOSE_WAIT_MAX_MS = 2000

/**
 * closeClocked closes a client on a ManualClock, for cleanup. close() waits for the
 * closeSession reply up to a deadline on the client's clock; moving the clock past it
 * means a test whose server never answers still gets its client closed.
 */
export async function closeClocked(client: Client, clock: ManualClock): Promise<void> {
  const closing = client.close()
  clock.advance(CLOSE_WAIT_MAX_MS)
  await closing
}

/**
 * advanceUntil moves the clock `stepMs` at a time, letting sockets and promises run
 * between steps, until `predicate` holds (or waitFor's real-time deadline passes). For
 * waits whose logical length the test does not assert, such as a reconnect that may
 * need a backoff pause or a handshake retry to pass first.
 */
export async function advanceUntil(
  clock: ManualClock,
  predicate: () => boolean,
  options: { stepMs?: number; what?: string } = {},
): Promise<void> {
  const stepMs = options.stepMs ?? 5
  await waitFor(
    () => {
      if (predicate()) return true
      clock.advance(stepMs)
      return false
    },
    { what: options.what ?? 'condition' },
  )
}
