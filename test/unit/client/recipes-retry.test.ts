/*
 * Goal: the retry helper retries what is safe to retry and nothing else. Method: fake
 * operations failing with chosen errors; tiny delays so the test runs in milliseconds.
 */
import { describe, expect, it } from 'vitest'
import {
  AbortedError,
  ConnectionLossError,
  NoNodeError,
  OperationTimeoutError,
  SessionExpiredError,
  retry,
  isRetryable,
} from '../../../client/index.js'
import { backoffMs } from '../../../client/recipes/retry.js'

const fast = { baseDelayMs: 1, maxDelayMs: 2 }

function failing(
  errors: Error[],
  value = 'ok',
): { operation: () => Promise<string>; calls: () => number } {
  let calls = 0
  return {
    operation: async () => {
      const error = errors[calls++]
      if (error !== undefined) throw error
      return value
    },
    calls: () => calls,
  }
}

describe('retry', () => {
  it('retries passing failures until the operation succeeds', async () => {
    const op = failing([new ConnectionLossError('drop'), new OperationTimeoutError('slow')])
    expect(await retry(op.operation, fast)).toBe('ok')
    expect(op.calls()).toBe(3)
  })

  it('does not retry a write of unknown outcome unless told it is idempotent', async () => {
    const unknown = () =>
      new ConnectionLossError('drop with a write in flight', { definite: false })
    const once = failing([unknown()])
    await expect(retry(once.operation, fast)).rejects.toMatchObject({
      code: 'CONNECTION_LOSS',
      definite: false,
    })
    expect(once.calls()).toBe(1)
    const idempotent = failing([unknown()])
    expect(await retry(idempotent.operation, { ...fast, idempotent: true })).toBe('ok')
  })

  it('never retries a lost session or a final error', async () => {
    for (const error of [
      new SessionExpiredError('gone'),
      new NoNodeError('no'),
      new Error('plain'),
    ]) {
      const op = failing([error])
      await expect(retry(op.operation, fast)).rejects.toBe(error)
      expect(op.calls()).toBe(1)
    }
    expect(isRetryable(new SessionExpiredError('gone'), true)).toBe(false)
  })

  it('stops after maxAttempts with the last error, and when the signal aborts', async () => {
    const op = failing([
      new ConnectionLossError('1'),
      new ConnectionLossError('2'),
      new ConnectionLossError('3'),
    ])
    await expect(retry(op.operation, { ...fast, maxAttempts: 2 })).rejects.toMatchObject({
      message: '2',
    })
    const controller = new AbortController()
    const slow = retry(
      async () => {
        throw new ConnectionLossError('drop')
      },
      { baseDelayMs: 10_000, maxDelayMs: 10_000, signal: controller.signal },
    )
    controller.abort()
    await expect(slow).rejects.toBeInstanceOf(AbortedError)
  })

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffMs(1, 100, 1000, () => 0)).toBe(50)
    expect(backoffMs(1, 100, 1000, () => 1)).toBe(100)
    expect(backoffMs(3, 100, 1000, () => 1)).toBe(400)
    expect(backoffMs(30, 100, 1000, () => 1)).toBe(1000)
  })
})
