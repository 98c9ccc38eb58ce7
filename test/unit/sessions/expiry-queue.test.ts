/**
 * ExpiryQueue: the bucket structure behind session expiry. The tests check that drain
 * returns exactly the keys due, earliest bucket first, whether it walks tick by tick or
 * jumps far ahead, that moved and deleted keys leave no trace in their old bucket, and
 * that a deadline set in the already-drained past comes out at the next drain.
 */
import { describe, expect, it } from 'vitest'
import { ExpiryQueue } from '../../../server/sessions/index.js'

describe('ExpiryQueue', () => {
  it('drains due keys once, earliest bucket first', () => {
    const queue = new ExpiryQueue<string>()
    queue.set('c', 7)
    queue.set('a', 5)
    queue.set('b', 5)
    expect(queue.drain(4)).toEqual([])
    expect(queue.drain(7)).toEqual(['a', 'b', 'c'])
    expect(queue.drain(8)).toEqual([])
    expect(queue.size).toBe(0)
  })

  it('finds far buckets after a long jump without missing any', () => {
    const queue = new ExpiryQueue<number>()
    for (let key = 0; key < 50; key++) queue.set(key, 1000 + key * 1000)
    expect(queue.drain(10_500)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(queue.drain(1_000_000)).toHaveLength(40)
  })

  it('moves a key out of its old bucket and forgets deleted keys', () => {
    const queue = new ExpiryQueue<string>()
    queue.set('a', 3)
    queue.set('a', 9)
    queue.set('b', 3)
    expect(queue.delete('b')).toBe(true)
    expect(queue.delete('b')).toBe(false)
    expect(queue.drain(8)).toEqual([])
    expect(queue.deadlineOf('a')).toBe(9)
    expect(queue.drain(9)).toEqual(['a'])
  })

  it('puts a deadline in the drained past into the next drain', () => {
    const queue = new ExpiryQueue<string>()
    expect(queue.drain(10)).toEqual([])
    queue.set('late', 4)
    expect(queue.deadlineOf('late')).toBe(11)
    expect(queue.drain(10)).toEqual([])
    expect(queue.drain(11)).toEqual(['late'])
  })
})
