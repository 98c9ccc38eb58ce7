/*
 * Goal: the session-creation rate limit admits a burst of `capacity`, then `perSecond`
 * on average, and a clock that goes back gives nothing away. Method: drive a
 * TokenBucket with explicit times.
 */
import { describe, expect, it } from 'vitest'
import { TokenBucket } from '../../../server/runtime/token-bucket.js'

const takeAll = (bucket: TokenBucket, nowMs: number) => {
  let n = 0
  while (bucket.take(nowMs)) n++
  return n
}

describe('TokenBucket', () => {
  it('admits a burst of its capacity, then refills at the rate, never past the capacity', () => {
    const bucket = new TokenBucket(10, 5)
    expect(takeAll(bucket, 1000)).toBe(5)
    expect(bucket.take(1099)).toBe(false) // 0.99 of a token
    expect(bucket.take(1100)).toBe(true)
    expect(takeAll(bucket, 1600)).toBe(5)
    expect(takeAll(bucket, 100_000)).toBe(5) // a long quiet spell still refills only the capacity
  })

  it('refills nothing when the clock goes back', () => {
    const bucket = new TokenBucket(1000, 2)
    expect(takeAll(bucket, 5000)).toBe(2)
    expect(bucket.take(1000)).toBe(false)
    expect(bucket.take(5000)).toBe(false)
    expect(bucket.take(5001)).toBe(true)
  })

  it('admits perSecond per second over a long run', () => {
    const bucket = new TokenBucket(50, 50)
    let admitted = 0
    for (let ms = 0; ms < 10_000; ms += 7) if (bucket.take(ms)) admitted++
    expect(admitted).toBeGreaterThanOrEqual(50 * 10)
    expect(admitted).toBeLessThanOrEqual(50 * 10 + 50)
  })
})
