/**
 * Peer frames and re-dial delays. A frame built from separately encoded messages must
 * decode to exactly those messages in order (so batching never reorders or merges
 * them), must never exceed the frame limit unless one message alone fills it, and
 * anything that is not an array of messages is refused without throwing. Re-dial
 * delays grow, stay within their cap, and keep jitter within bounds.
 *
 * Method: fast-check generates message lists (maps, arrays, strings, bytes, bigints)
 * and frame limits; the array-header boundaries (15/16, 65535/65536) are checked by hand.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeMessage } from '../../../protocol/codec.js'
import { backoffDelayMs } from '../../../server/net/peer-backoff.js'
import {
  arrayHeader,
  decodeFrame,
  encodePeerMessage,
  packFrame,
  takeFrame,
} from '../../../server/net/peer-frames.js'

const message = fc.oneof(
  fc.record({
    type: fc.constantFrom('proposal', 'ack', 'commit'),
    zxid: fc.bigInt({ min: 1n << 32n, max: (1n << 64n) - 1n }),
    epoch: fc.nat(),
  }),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 2000 }).map((b) => ({ type: 'data', bytes: b })),
  fc.array(fc.integer(), { maxLength: 20 }),
)

describe('packFrame / decodeFrame', () => {
  it('delivers exactly the messages packed, in order', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 40 }), (messages) => {
        const decoded = decodeFrame(packFrame(messages.map(encodePeerMessage)))
        expect(decoded).toEqual({ ok: true, messages })
      }),
    )
  })

  it('writes the same bytes as encoding the whole array, across header sizes', () => {
    for (const count of [0, 1, 15, 16, 65_535, 65_536]) {
      const messages = Array.from({ length: count }, (_, i) => i % 100)
      expect(
        Buffer.compare(packFrame(messages.map(encodePeerMessage)), encodeMessage(messages)),
      ).toBe(0)
    }
    expect(arrayHeader(15)).toEqual(Uint8Array.of(0x9f))
    expect(arrayHeader(16)).toEqual(Uint8Array.of(0xdc, 0, 16))
    expect(arrayHeader(65_536)).toEqual(Uint8Array.of(0xdd, 0, 1, 0, 0))
  })

  it('refuses garbage, truncation, trailing bytes and non-arrays without throwing', () => {
    const good = packFrame([encodePeerMessage({ a: 1 }), encodePeerMessage('b')])
    const cases = [
      Uint8Array.of(0xc1),
      good.subarray(0, good.length - 1),
      Buffer.concat([good, Uint8Array.of(1)]),
      encodeMessage({ type: 'proposal' }),
      encodeMessage('x'),
    ]
    for (const frame of cases) expect(decodeFrame(frame).ok).toBe(false)
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => void decodeFrame(junk)))
  })
})

describe('takeFrame', () => {
  it('takes the longest prefix that fits, at least one message, and leaves the rest in order', () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 64, max: 8192 }),
        (messages, frameBytesMax) => {
          const encoded = messages.map(encodePeerMessage)
          const queue = [...encoded]
          const delivered: unknown[] = []
          while (queue.length > 0) {
            const before = queue.length
            const { frame, count, payloadBytes } = takeFrame(queue, frameBytesMax)
            expect(count).toBe(before - queue.length)
            expect(count).toBeGreaterThanOrEqual(1)
            expect(frame.length - payloadBytes).toBe(arrayHeader(count).length)
            if (count > 1) expect(frame.length).toBeLessThanOrEqual(frameBytesMax)
            // Greedy: the next message would not have fit.
            const next = queue[0]
            if (next !== undefined)
              expect(arrayHeader(count + 1).length + payloadBytes + next.length).toBeGreaterThan(
                frameBytesMax,
              )
            const decoded = decodeFrame(frame)
            if (!decoded.ok) throw new Error(decoded.reason)
            delivered.push(...decoded.messages)
          }
          expect(delivered).toEqual(messages)
        },
      ),
    )
  })
})

describe('backoffDelayMs', () => {
  const policy = { baseMs: 50, capMs: 1000 }

  it('doubles from the base and stops at the cap', () => {
    const top = (attempt: number) => backoffDelayMs(attempt, policy, () => 0.999_999)
    expect([0, 1, 2, 3, 4, 5, 6, 50].map(top)).toEqual([50, 100, 200, 400, 800, 1000, 1000, 1000])
  })

  it('keeps jitter within [step/2, step]', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, r) => {
          const step = Math.min(1000, 50 * 2 ** attempt)
          const delay = backoffDelayMs(attempt, policy, () => r)
          expect(delay).toBeGreaterThanOrEqual(Math.floor(step / 2))
          expect(delay).toBeLessThanOrEqual(step)
        },
      ),
    )
  })
})
