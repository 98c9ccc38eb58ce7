/**
 * The client codec: every message round-trips, and every kind of malformed frame
 * (not msgpack, wrong shape, unknown op, bad values) comes back as a typed
 * ProtocolError with the right code, never an exception. Requests whose xid can be
 * read report it so the server can answer instead of dropping the connection.
 */
import { describe, expect, it } from 'vitest'
import { Packr } from 'msgpackr'
import {
  DATA_BYTES_MAX,
  ErrorCode,
  ProtocolError,
  decodeClientMessage,
  decodeMessage,
  decodeServerMessage,
  encodeClientMessage,
  extensionOffset,
  encodeMessage,
  encodeMessageAfterRoom,
  encodeServerMessage,
  type ClientMessage,
  type ServerMessage,
  type Stat,
} from '../../../protocol/index.js'

const raw = new Packr({ useRecords: false })
const bytes = (s: string) => new TextEncoder().encode(s)

const stat: Stat = {
  czxid: (1n << 32n) | 5n,
  mzxid: (1n << 32n) | 7n,
  pzxid: (1n << 32n) | 5n,
  ctime: 1_700_000_000_000,
  mtime: 1_700_000_000_123,
  version: 2,
  cversion: 0,
  aversion: 0,
  ephemeralOwner: 0x0100_0000_0000_0001n,
  dataLength: 5,
  numChildren: 0,
}

describe('client messages round-trip', () => {
  const messages: ClientMessage[] = [
    {
      type: 'connect',
      protocolVersion: 1,
      sessionId: 0xff00_0000_0000_0001n,
      password: new Uint8Array(16).fill(7),
      lastZxidSeen: (3n << 32n) | 9n,
      timeoutMs: 10_000,
      readOnly: false,
    },
    { type: 'ping' },
    {
      type: 'request',
      xid: 1,
      request: { op: 'create', path: '/a/', data: bytes('x'), mode: 'ephemeral-sequential' },
    },
    {
      type: 'request',
      xid: 2,
      request: {
        op: 'create',
        path: '/t',
        data: bytes(''),
        mode: 'persistent',
        ttlMs: 5000,
        makeParents: true,
      },
    },
    { type: 'request', xid: 3, request: { op: 'delete', path: '/a', version: 3 } },
    {
      type: 'request',
      xid: 4,
      request: { op: 'get', path: '/a', watch: true, linearizable: true },
    },
    { type: 'request', xid: 5, request: { op: 'set', path: '/a', data: bytes('y'), version: -1 } },
    {
      type: 'request',
      xid: 6,
      request: { op: 'children', path: '/', watch: false, withStat: true },
    },
    {
      type: 'request',
      xid: 7,
      request: {
        op: 'multi',
        ops: [
          { op: 'check', path: '/a', version: 1 },
          { op: 'create', path: '/b', data: bytes('b'), mode: 'persistent' },
          { op: 'set', path: '/c', data: bytes('c'), version: -1 },
          { op: 'delete', path: '/d', version: -1 },
        ],
      },
    },
    {
      type: 'request',
      xid: 8,
      request: {
        op: 'setWatches',
        relativeZxid: 42n,
        data: ['/a'],
        exist: ['/b'],
        child: ['/'],
      },
    },
    {
      type: 'request',
      xid: 9,
      request: { op: 'addWatch', path: '/a', mode: 'persistentRecursive' },
    },
    { type: 'request', xid: 10, request: { op: 'closeSession' } },
  ]
  for (const message of messages) {
    it(`${message.type}${message.type === 'request' ? ' ' + message.request.op : ''}`, () => {
      const decoded = decodeClientMessage(encodeClientMessage(message))
      expect(decoded).toEqual({ ok: true, message })
    })
  }

  it('server messages', () => {
    const serverMessages: ServerMessage[] = [
      {
        type: 'connected',
        sessionId: 5n,
        password: new Uint8Array(16),
        timeoutMs: 4000,
        serverId: 1,
        zxid: 77n,
        readOnly: false,
      },
      { type: 'connectRefused', code: ErrorCode.SESSION_EXPIRED, message: 'gone' },
      { type: 'reply', xid: 3, zxid: 9n, err: 0, result: { data: bytes('hi'), stat } },
      { type: 'reply', xid: 4, zxid: 9n, err: 0, result: { stat: null } },
      { type: 'reply', xid: 5, zxid: 9n, err: ErrorCode.NO_NODE, message: 'NO_NODE: /x' },
      { type: 'event', zxid: 10n, index: 0, event: 'childrenChanged', path: '/a' },
      { type: 'event', zxid: 11n, index: 3, event: 'created', path: '/b', oneShotOnly: true },
      { type: 'pong', zxid: 10n },
    ]
    for (const message of serverMessages) {
      const decoded = decodeServerMessage(encodeServerMessage(message))
      expect(decoded.ok).toBe(true)
      if (decoded.ok) expect(decoded.message).toEqual(message)
    }
  })
})

describe('malformed client frames', () => {
  const refused = (frame: Uint8Array) => {
    const decoded = decodeClientMessage(frame)
    expect(decoded.ok).toBe(false)
    if (decoded.ok) throw new Error('unreachable')
    expect(decoded.error).toBeInstanceOf(ProtocolError)
    return decoded
  }

  it('random bytes and truncated msgpack are MARSHALLING_ERROR', () => {
    expect(refused(new Uint8Array([0xc1])).error.code).toBe(ErrorCode.MARSHALLING_ERROR)
    const whole = encodeClientMessage({ type: 'ping' })
    expect(refused(whole.subarray(0, whole.length - 1)).error.code).toBe(
      ErrorCode.MARSHALLING_ERROR,
    )
    expect(refused(new Uint8Array(0)).error.code).toBe(ErrorCode.MARSHALLING_ERROR)
  })

  it('two values in one frame are refused', () => {
    const two = new Uint8Array([
      ...encodeMessage({ type: 'ping' }),
      ...encodeMessage({ type: 'ping' }),
    ])
    expect(refused(two).error.code).toBe(ErrorCode.MARSHALLING_ERROR)
  })

  it('deeply nested arrays do not blow the stack out of the decoder', () => {
    expect(refused(new Uint8Array(200_000).fill(0x91)).error.code).toBe(ErrorCode.MARSHALLING_ERROR)
  })

  it('wrong field types are MARSHALLING_ERROR and keep the xid', () => {
    const decoded = refused(raw.pack({ type: 'request', xid: 12, request: { op: 'get', path: 5 } }))
    expect(decoded.error.code).toBe(ErrorCode.MARSHALLING_ERROR)
    expect(decoded.xid).toBe(12)
    expect(decoded.error.message).toMatch(/message\.request\.path/)
  })

  it('an error names the item of an array it is in (checked again with names after a quick pass)', () => {
    const ops = [
      { op: 'check', path: '/a', version: 1 },
      { op: 'set', path: '/b', data: new Uint8Array(1), version: 'x' },
    ]
    const decoded = refused(raw.pack({ type: 'request', xid: 14, request: { op: 'multi', ops } }))
    expect(decoded.error.code).toBe(ErrorCode.MARSHALLING_ERROR)
    expect(decoded.error.message).toBe(
      'message.request.ops[1].version: expected integer, got string',
    )
  })

  it('unknown ops are UNIMPLEMENTED and keep the xid', () => {
    const decoded = refused(raw.pack({ type: 'request', xid: 13, request: { op: 'reconfig' } }))
    expect(decoded.error.code).toBe(ErrorCode.UNIMPLEMENTED)
    expect(decoded.xid).toBe(13)
  })

  it('invalid paths, oversized data and out-of-range numbers are BAD_ARGUMENTS', () => {
    for (const path of ['a', '/a/', '//a', '/a/./b', '/a/../b', '/a\u0000b', '/\ud800']) {
      const decoded = refused(raw.pack({ type: 'request', xid: 1, request: { op: 'get', path } }))
      expect(decoded.error.code, path).toBe(ErrorCode.BAD_ARGUMENTS)
    }
    const big = refused(
      raw.pack({
        type: 'request',
        xid: 2,
        request: { op: 'set', path: '/a', data: new Uint8Array(DATA_BYTES_MAX + 1), version: -1 },
      }),
    )
    expect(big.error.code).toBe(ErrorCode.BAD_ARGUMENTS)
    const version = refused(
      raw.pack({ type: 'request', xid: 3, request: { op: 'delete', path: '/a', version: -2 } }),
    )
    expect(version.error.code).toBe(ErrorCode.BAD_ARGUMENTS)
  })

  it('unknown message types and non-map frames carry no xid', () => {
    expect(refused(raw.pack({ type: 'hello' })).xid).toBeUndefined()
    expect(refused(raw.pack([1, 2, 3])).xid).toBeUndefined()
    expect(refused(raw.pack('connect')).xid).toBeUndefined()
  })

  it('a sequential create may end in /, other ops may not', () => {
    expect(
      decodeClientMessage(
        raw.pack({
          type: 'request',
          xid: 1,
          request: {
            op: 'create',
            path: '/q/',
            data: new Uint8Array(),
            mode: 'persistent-sequential',
          },
        }),
      ).ok,
    ).toBe(true)
    expect(
      refused(
        raw.pack({
          type: 'request',
          xid: 1,
          request: { op: 'set', path: '/q/', data: new Uint8Array(), version: -1 },
        }),
      ).error.code,
    ).toBe(ErrorCode.BAD_ARGUMENTS)
  })
})

describe('msgpack extension types are refused on every decoder', () => {
  // A packer with msgpackr's extensions on (records, structured clone), as an attacker would use.
  const hostile = new Packr({ useRecords: true, structuredClone: true, moreTypes: true })
  const request = (value: unknown) => ({
    type: 'request',
    xid: 9,
    request: { op: 'create', path: '/x', data: value, mode: 'persistent' },
  })
  const cases: [string, unknown][] = [
    ['RegExp', /(a+)+$/],
    ['Error', new Error('boom')],
    ['Set', new Set([1, 2])],
    ['Date', new Date(0)],
    ['Float64Array', new Float64Array(4)],
    ['a record', { a: 1, b: 2 }],
  ]
  for (const [name, value] of cases) {
    it(`${name} inside a client frame is MARSHALLING_ERROR before anything is built from it`, () => {
      const frame = hostile.pack(request(value))
      expect(extensionOffset(frame)).toBeGreaterThanOrEqual(0)
      for (const decode of [decodeClientMessage, decodeServerMessage, decodeMessage]) {
        const decoded = decode(frame)
        expect(decoded.ok).toBe(false)
        if (!decoded.ok)
          expect(decoded.error).toMatchObject({
            code: ErrorCode.MARSHALLING_ERROR,
            message: expect.stringMatching(/extension types are not accepted/),
          })
      }
    })
  }

  it('every extension format (fixext 1-16, ext 8/16/32) is found, also after payloads that hold extension bytes', () => {
    const formats: number[][] = [
      [0xd4, 0x73, 0],
      [0xd5, 0x73, 0, 0],
      [0xd6, 0x73, 0, 0, 0, 0],
      [0xd7, 0x73, ...new Array(8).fill(0)],
      [0xd8, 0x73, ...new Array(16).fill(0)],
      [0xc7, 1, 0x78, 0],
      [0xc8, 0, 1, 0x78, 0],
      [0xc9, 0, 0, 0, 1, 0x78, 0],
    ]
    for (const ext of formats) {
      // [bin8 holding 0xd4 bytes, str8 holding 0xc7, 3.5 as float64, ext]: the walk skips payloads, not inspects them.
      const frame = new Uint8Array([
        0x94,
        0xc4,
        2,
        0xd4,
        0xd4,
        0xd9,
        1,
        0xc7,
        0xcb,
        0x40,
        0x0c,
        0,
        0,
        0,
        0,
        0,
        0,
        ...ext,
      ])
      expect(extensionOffset(frame), `format 0x${ext[0]!.toString(16)}`).toBe(17)
      expect(decodeClientMessage(frame)).toMatchObject({
        ok: false,
        error: { code: ErrorCode.MARSHALLING_ERROR },
      })
    }
  })

  it('our own encodings hold no extension, so nothing legitimate is refused', () => {
    const frames = [
      encodeServerMessage({
        type: 'connected',
        sessionId: 2n ** 63n + 5n,
        password: new Uint8Array(16).fill(255),
        timeoutMs: 1,
        serverId: 1,
        zxid: 2n ** 40n,
        readOnly: false,
      }),
      encodeClientMessage({
        type: 'request',
        xid: 1,
        request: {
          op: 'create',
          path: '/x',
          data: new Uint8Array(70_000).fill(0xc7),
          mode: 'persistent',
        },
      }),
      encodeMessage({
        big: -(2n ** 63n),
        neg: -5,
        float: 0.5,
        s: 'x'.repeat(70_000),
        m: new Array(70_000).fill(0xd4),
      }),
      // Payload bytes that look like extension headers: UTF-8 lead bytes 0xc7-0xd8 in short strings, 0xd4 inside a float64.
      encodeMessage({
        path: '/\u01c5\u01c7\u0600',
        ['\u01c5']: 20480.5,
        n: [0xd8, -0x29, 65_535, 2 ** 32],
      }),
      // An optional field left undefined: msgpackr writes it as fixext1 type 0 (d4 00 00).
      encodeMessage({ type: 'request', ttlMs: undefined, n: [undefined, 1] }),
    ]
    for (const frame of frames) expect(extensionOffset(frame)).toBe(-1)
    expect(decodeMessage(encodeMessage({ a: undefined, b: 1 }))).toEqual({
      ok: true,
      value: { a: undefined, b: 1 },
    })
    // Only that exact token: type 0 with other data, or data 0 with another type, is an extension.
    expect(extensionOffset(Uint8Array.of(0xd4, 0x00, 0x01))).toBe(0)
    expect(extensionOffset(Uint8Array.of(0xd4, 0x01, 0x00))).toBe(0)
  })
})

describe('encodeMessageAfterRoom', () => {
  it('packs the value after the room asked for, and later packs leave it intact', () => {
    const value = { zxid: 7n, path: '/a', data: new Uint8Array([1, 2, 3]) }
    const packed = encodeMessageAfterRoom(value, 16)
    packed.fill(0xee, 0, 16)
    const alone = [...encodeMessage(value)]
    expect([...packed.subarray(16)]).toEqual(alone)
    // msgpackr packs into a shared buffer: what was handed out must survive later packs.
    for (let i = 0; i < 2000; i++) encodeMessage({ filler: new Uint8Array(100) })
    expect([...packed.subarray(16)]).toEqual(alone)
    expect(packed.subarray(0, 16).every((b) => b === 0xee)).toBe(true)
    expect([...encodeMessageAfterRoom(value, 0)]).toEqual(alone)
  })

  it('keeps the room when the value outgrows the shared buffer', () => {
    const big = { zxid: 8n, data: new Uint8Array(300_000).fill(7) }
    const packed = encodeMessageAfterRoom(big, 16)
    expect(packed.length).toBe(16 + encodeMessage(big).length)
    expect(Buffer.from(packed.subarray(16)).equals(Buffer.from(encodeMessage(big)))).toBe(true)
  })

  it('refuses room outside 0-255', () => {
    expect(() => encodeMessageAfterRoom(1, 256)).toThrow(RangeError)
    expect(() => encodeMessageAfterRoom(1, -1)).toThrow(RangeError)
  })
})
