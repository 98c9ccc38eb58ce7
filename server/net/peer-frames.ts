/**
 * Frames on an authenticated peer link. A frame is one WebSocket binary message
 * holding one msgpack array of peer messages, so batching is natural: everything the
 * runtime sent to a peer since the last flush goes out in as few frames as fit.
 *
 * Messages are encoded once, when sent (protocol/codec.ts encodeMessage), so their size
 * is known up front and the send queue can be bounded in bytes. A msgpack array is just
 * a header followed by its elements, so a frame is built by writing the array header
 * and concatenating the encoded messages, without encoding them again.
 */
import { decodeMessage, encodeMessage } from '../../protocol/codec.js'

/** ARRAY_HEADER_BYTES_MAX is the largest msgpack array header (0xdd + u32 count). */
export const ARRAY_HEADER_BYTES_MAX = 5

/** encodePeerMessage packs one peer message; the bytes later go into a frame unchanged. */
export function encodePeerMessage(message: unknown): Uint8Array {
  return encodeMessage(message)
}

/** arrayHeader is the msgpack header of an array of `count` elements. */
export function arrayHeader(count: number): Uint8Array {
  if (count < 16) return Uint8Array.of(0x90 | count)
  if (count < 0x1_0000) return Uint8Array.of(0xdc, count >> 8, count & 0xff)
  const header = new Uint8Array(5)
  header[0] = 0xdd
  new DataView(header.buffer).setUint32(1, count)
  return header
}

/** frameBytes is the size of a frame holding messages of the given encoded sizes. */
export function frameBytes(count: number, payloadBytes: number): number {
  return arrayHeader(count).length + payloadBytes
}

/** packFrame builds one frame from already-encoded messages, in order. */
export function packFrame(encoded: readonly Uint8Array[]): Uint8Array {
  const header = arrayHeader(encoded.length)
  let total = header.length
  for (const m of encoded) total += m.length
  const frame = new Uint8Array(total)
  frame.set(header, 0)
  let offset = header.length
  for (const m of encoded) {
    frame.set(m, offset)
    offset += m.length
  }
  return frame
}

/** TakenFrame is a packed frame with the number of messages in it and their encoded size. */
export interface TakenFrame {
  frame: Uint8Array
  count: number
  payloadBytes: number
}

/**
 * takeFrame removes from the front of `queue` the longest run of messages that fits in
 * `frameBytesMax` (at least one: callers never queue a message that cannot fit alone)
 * and returns it packed as a frame.
 */
export function takeFrame(queue: Uint8Array[], frameBytesMax: number): TakenFrame {
  let count = 0
  let payloadBytes = 0
  while (count < queue.length) {
    const next = queue[count] as Uint8Array
    if (count > 0 && frameBytes(count + 1, payloadBytes + next.length) > frameBytesMax) break
    payloadBytes += next.length
    count++
  }
  return { frame: packFrame(queue.splice(0, count)), count, payloadBytes }
}

/** FrameDecodeResult is the messages of a frame, in order, or why the frame was refused. */
export type FrameDecodeResult = { ok: true; messages: unknown[] } | { ok: false; reason: string }

/**
 * decodeFrame unpacks a frame into its messages. Never throws: a frame that is not
 * msgpack, or not an array, is refused with a reason (the link is then closed).
 */
export function decodeFrame(frame: Uint8Array): FrameDecodeResult {
  const unpacked = decodeMessage(frame)
  if (!unpacked.ok) return { ok: false, reason: unpacked.error.message }
  if (!Array.isArray(unpacked.value))
    return { ok: false, reason: 'frame is not an array of peer messages' }
  return { ok: true, messages: unpacked.value }
}
