/**
 * The client wire codec: msgpack (msgpackr) plus a shape check of every decoded
 * message. Decoding never throws; a bad frame comes back as a ProtocolError with a
 * stable code, and, when the frame was a request whose `xid` could be read, that xid
 * so the server can answer the request instead of dropping the connection.
 */
import { Packr, RESERVE_START_SPACE } from 'msgpackr'
import { ErrorCode } from './error-codes.js'
import {
  DATA_BYTES_MAX,
  MULTI_OPS_MAX,
  PATH_BYTES_MAX,
  SET_WATCHES_PATHS_MAX,
  TTL_MS_MAX,
} from './limits.js'
import { NODE_MODES, type Acl, type Stat } from './types.js'
import type {
  ClientMessage,
  MultiOp,
  MultiResult,
  Request,
  ServerMessage,
} from './client-messages.js'
import {
  ShapeError,
  arrayOf,
  bool,
  bytes,
  int,
  isRecord,
  object,
  oneOf,
  optional,
  path,
  str,
  tagged,
  u64,
  withDefault,
  UNNAMED,
  fieldAt,
  type Check,
} from './schema.js'

/** ProtocolError is a frame that could not be decoded or had the wrong shape. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError'
  /** code is MARSHALLING_ERROR (not msgpack / wrong shape), BAD_ARGUMENTS (invalid value) or UNIMPLEMENTED (unknown op). */
  readonly code: number
  constructor(code: number, message: string) {
    super(message)
    this.code = code
  }
}

/** DecodeResult is a decoded message, or the reason it was refused and the request xid if one was readable. */
export type DecodeResult<T> =
  { ok: true; message: T } | { ok: false; error: ProtocolError; xid?: number }

/** packr is shared by both directions: plain maps, bigint for 64-bit integers, no records. */
const packr = new Packr({
  useRecords: false,
  int64AsType: 'bigint',
  mapsAsObjects: true,
  variableMapSize: true,
})

/** encodeMessage packs any protocol value to bytes. */
export function encodeMessage(value: unknown): Uint8Array {
  return packr.pack(value)
}

/** HEADER_ROOM_BYTES_MAX is the most room encodeMessageAfterRoom leaves. */
export const HEADER_ROOM_BYTES_MAX = 255

/**
 * encodeMessageAfterRoom packs a value after `roomBytes` bytes (at most 255) left
 * for the caller to fill with its own header: a framed record costs no second buffer
 * and no copy. The room's bytes are undefined until the caller writes them.
 */
export function encodeMessageAfterRoom(value: unknown, roomBytes: number): Uint8Array {
  if (!Number.isInteger(roomBytes) || roomBytes < 0 || roomBytes > HEADER_ROOM_BYTES_MAX)
    throw new RangeError(`header room of ${roomBytes} bytes: must be 0-${HEADER_ROOM_BYTES_MAX}`)
  return packr.pack(value, RESERVE_START_SPACE | roomBytes)
}

/**
 * extensionOffset finds the first msgpack extension (ext 8/16/32, fixext 1-16) in a
 * frame, walking its tokens without decoding them, or returns -1. msgpackr decodes its
 * extension types (RegExp, Error, Set, typed arrays, Date, records, structured-clone
 * references) in every Unpackr of the process with no option to turn them off, and no
 * Conclave message uses one: so frames holding one are refused before msgpackr sees them.
 * The one exception is fixext1 type 0 with data 0, which is how msgpackr itself encodes
 * `undefined` (an optional field left undefined by our own encoder must not get a
 * message refused).
 * A truncated frame ends the walk; msgpackr then refuses it.
 */
export function extensionOffset(frame: Uint8Array): number {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength)
  let at = 0
  while (at < frame.length) {
    const b = frame[at]!
    if (b <= 0x9f || b >= 0xe0 || b === 0xc0 || b === 0xc1 || b === 0xc2 || b === 0xc3) at += 1
    else if (b <= 0xbf) at += 1 + (b & 0x1f)
    else if (b === 0xd4 && frame[at + 1] === 0x00 && frame[at + 2] === 0x00)
      at += 3 // msgpackr's own `undefined`: decodes to undefined, nothing else
    else if ((b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8)) return at
    else if (b === 0xc4 || b === 0xd9) at += at + 1 < frame.length ? 2 + frame[at + 1]! : 2
    else if (b === 0xc5 || b === 0xda) at += at + 2 < frame.length ? 3 + view.getUint16(at + 1) : 3
    else if (b === 0xc6 || b === 0xdb) at += at + 4 < frame.length ? 5 + view.getUint32(at + 1) : 5
    else at += FIXED_TOKEN_BYTES[b] ?? 1
  }
  return -1
}

/** FIXED_TOKEN_BYTES is the size of the msgpack tokens whose size the first byte fixes (numbers, container headers). */
const FIXED_TOKEN_BYTES: Readonly<Record<number, number>> = {
  0xca: 5,
  0xcb: 9,
  0xcc: 2,
  0xcd: 3,
  0xce: 5,
  0xcf: 9,
  0xd0: 2,
  0xd1: 3,
  0xd2: 5,
  0xd3: 9,
  0xdc: 3,
  0xdd: 5,
  0xde: 3,
  0xdf: 5,
}

/** unpackFrame unpacks one msgpack value that must fill the whole frame; extension types are refused. */
function unpackFrame(
  frame: Uint8Array,
): { ok: true; value: unknown } | { ok: false; error: ProtocolError } {
  const extension = extensionOffset(frame)
  if (extension >= 0) {
    return {
      ok: false,
      error: new ProtocolError(
        ErrorCode.MARSHALLING_ERROR,
        `msgpack extension types are not accepted (one at byte ${extension})`,
      ),
    }
  }
  try {
    return { ok: true, value: packr.unpack(frame) }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    return {
      ok: false,
      error: new ProtocolError(ErrorCode.MARSHALLING_ERROR, `not a msgpack frame: ${reason}`),
    }
  }
}

// ---------------------------------------------------------------- shared shapes

const data = bytes(DATA_BYTES_MAX)
const version = int(-1, 0x7fff_ffff)
const ttlMs = optional(int(1, TTL_MS_MAX))
const acl: Check<Acl> = object<Acl>({ perms: int(0, 31), scheme: str(64), id: str(1024) })
const aclList = optional(arrayOf(acl, 64))
const mode = oneOf(NODE_MODES)
/** pathList is one setWatches list: longer ones are refused before any path is checked (the server also caps the lists' total). */
const pathList = arrayOf(path(), SET_WATCHES_PATHS_MAX)

const stat: Check<Stat> = object<Stat>({
  czxid: u64,
  mzxid: u64,
  pzxid: u64,
  ctime: int(),
  mtime: int(),
  version: int(),
  cversion: int(),
  aversion: int(),
  ephemeralOwner: u64,
  dataLength: int(0),
  numChildren: int(0),
})

const unknownOp = (op: string) =>
  new ProtocolError(ErrorCode.UNIMPLEMENTED, `unknown op '${op.slice(0, 64)}'`)

const multiOp: Check<MultiOp> = tagged<MultiOp>(
  'op',
  {
    check: object({ op: oneOf(['check'] as const), path: path(), version }),
    create: object({
      op: oneOf(['create'] as const),
      path: path(true),
      data,
      mode,
      ttlMs,
      acl: aclList,
    }),
    set: object({ op: oneOf(['set'] as const), path: path(), data, version }),
    delete: object({ op: oneOf(['delete'] as const), path: path(), version }),
  },
  unknownOp,
)

const request: Check<Request> = tagged<Request>(
  'op',
  {
    create: object({
      op: oneOf(['create'] as const),
      path: path(true),
      data,
      mode: withDefault(mode, 'persistent'),
      ttlMs,
      acl: aclList,
      makeParents: optional(bool),
    }),
    delete: object({
      op: oneOf(['delete'] as const),
      path: path(),
      version: withDefault(version, -1),
    }),
    exists: object({
      op: oneOf(['exists'] as const),
      path: path(),
      watch: withDefault(bool, false),
    }),
    get: object({
      op: oneOf(['get'] as const),
      path: path(),
      watch: withDefault(bool, false),
      linearizable: optional(bool),
    }),
    set: object({
      op: oneOf(['set'] as const),
      path: path(),
      data,
      version: withDefault(version, -1),
    }),
    children: object({
      op: oneOf(['children'] as const),
      path: path(),
      watch: withDefault(bool, false),
      withStat: optional(bool),
    }),
    multi: object({ op: oneOf(['multi'] as const), ops: arrayOf(multiOp, MULTI_OPS_MAX) }),
    sync: object({ op: oneOf(['sync'] as const), path: withDefault(path(), '/') }),
    getEphemerals: object({
      op: oneOf(['getEphemerals'] as const),
      prefix: withDefault(str(PATH_BYTES_MAX), '/'),
    }),
    childCount: object({ op: oneOf(['childCount'] as const), path: path() }),
    getAcl: object({ op: oneOf(['getAcl'] as const), path: path() }),
    setAcl: object({
      op: oneOf(['setAcl'] as const),
      path: path(),
      acl: arrayOf(acl, 64),
      version: withDefault(version, -1),
    }),
    auth: object({
      op: oneOf(['auth'] as const),
      scheme: str(64),
      credentials: str(1024),
    }),
    addWatch: object({
      op: oneOf(['addWatch'] as const),
      path: path(),
      mode: oneOf(['persistent', 'persistentRecursive'] as const),
      fromZxid: optional(u64),
      afterIndex: optional(int(0, 0x7fff_ffff)),
    }),
    removeWatches: object({
      op: oneOf(['removeWatches'] as const),
      path: path(),
      kind: oneOf(['data', 'children', 'any', 'persistent', 'persistentRecursive'] as const),
    }),
    setWatches: object({
      op: oneOf(['setWatches'] as const),
      relativeZxid: u64,
      data: withDefault(pathList, []),
      exist: withDefault(pathList, []),
      child: withDefault(pathList, []),
    }),
    closeSession: object({ op: oneOf(['closeSession'] as const) }),
  },
  unknownOp,
)

const clientMessage: Check<ClientMessage> = tagged<ClientMessage>(
  'type',
  {
    connect: object({
      type: oneOf(['connect'] as const),
      protocolVersion: int(0, 0xffff),
      sessionId: withDefault(u64, 0n),
      password: withDefault(bytes(64), new Uint8Array(0)),
      lastZxidSeen: withDefault(u64, 0n),
      timeoutMs: int(0, 0x7fff_ffff),
      readOnly: withDefault(bool, false),
    }),
    request: object({ type: oneOf(['request'] as const), xid: int(0, 0x7fff_ffff), request }),
    ping: object({ type: oneOf(['ping'] as const) }),
  },
  (type) =>
    new ProtocolError(ErrorCode.MARSHALLING_ERROR, `unknown message type '${type.slice(0, 64)}'`),
)

const multiResult: Check<MultiResult> = object<MultiResult>({
  op: oneOf(['check', 'create', 'set', 'delete'] as const),
  err: int(),
  path: optional(str()),
  stat: optional(stat),
})

const resultData = bytes(Number.MAX_SAFE_INTEGER)
const resultStrings = arrayOf(str(), Number.MAX_SAFE_INTEGER)
const resultMultiResults = arrayOf(multiResult, Number.MAX_SAFE_INTEGER)
const resultPath = str()
const resultCount = int(0)
const resultAcl = arrayOf(acl, Number.MAX_SAFE_INTEGER)

/** Results are checked loosely per field: the SDK trusts the server's op mapping but not its types. */
const result: Check<Record<string, unknown> | undefined> = (v, where) => {
  if (v === undefined || v === null) return undefined
  if (!isRecord(v)) throw new ShapeError(`${where}: expected map`)
  const out: Record<string, unknown> = { ...v }
  if ('stat' in v) out.stat = v.stat === null ? null : stat(v.stat, fieldAt(where, 'stat'))
  if ('data' in v) out.data = resultData(v.data, fieldAt(where, 'data'))
  if ('children' in v) out.children = resultStrings(v.children, fieldAt(where, 'children'))
  if ('results' in v) out.results = resultMultiResults(v.results, fieldAt(where, 'results'))
  if ('paths' in v) out.paths = resultStrings(v.paths, fieldAt(where, 'paths'))
  if ('path' in v) out.path = resultPath(v.path, fieldAt(where, 'path'))
  if ('count' in v) out.count = resultCount(v.count, fieldAt(where, 'count'))
  if ('oldestZxid' in v) out.oldestZxid = u64(v.oldestZxid, fieldAt(where, 'oldestZxid'))
  if ('compacted' in v) out.compacted = bool(v.compacted, fieldAt(where, 'compacted'))
  if ('acl' in v) out.acl = resultAcl(v.acl, fieldAt(where, 'acl'))
  return out
}

const serverMessage: Check<ServerMessage> = tagged<ServerMessage>(
  'type',
  {
    connected: object({
      type: oneOf(['connected'] as const),
      sessionId: u64,
      password: bytes(64),
      timeoutMs: int(0),
      serverId: int(0),
      zxid: u64,
      readOnly: withDefault(bool, false),
    }),
    connectRefused: object({
      type: oneOf(['connectRefused'] as const),
      code: int(),
      message: withDefault(str(), ''),
    }),
    reply: object({
      type: oneOf(['reply'] as const),
      xid: int(0),
      zxid: u64,
      err: int(),
      result: result as Check<never>,
      message: optional(str()),
    }),
    event: object({
      type: oneOf(['event'] as const),
      zxid: u64,
      index: withDefault(int(0, 0x7fff_ffff), 0),
      event: oneOf(['created', 'deleted', 'dataChanged', 'childrenChanged'] as const),
      path: str(),
      oneShotOnly: optional(bool),
      replayOf: optional(int(0, 0x7fff_ffff)),
    }),
    pong: object({ type: oneOf(['pong'] as const), zxid: u64 }),
  },
  (type) =>
    new ProtocolError(ErrorCode.MARSHALLING_ERROR, `unknown message type '${type.slice(0, 64)}'`),
)

function decodeWith<T>(frame: Uint8Array, check: Check<T>): DecodeResult<T> {
  const unpacked = unpackFrame(frame)
  if (!unpacked.ok) return unpacked
  const checked = checkValue(check, unpacked.value, 'message')
  if (!(checked instanceof ProtocolError)) return { ok: true, message: checked }
  const xid = readableXid(unpacked.value)
  return { ok: false, error: checked, ...(xid === undefined ? {} : { xid }) }
}

/** readableXid finds the xid of a malformed request so it can still be answered. */
function readableXid(value: unknown): number | undefined {
  if (!isRecord(value) || value.type !== 'request') return undefined
  const xid = value.xid
  return typeof xid === 'number' && Number.isInteger(xid) && xid >= 0 && xid <= 0x7fff_ffff
    ? xid
    : undefined
}

/**
 * checkRequest checks an already-decoded value as a client request (for requests that
 * travel inside other messages, such as a follower forwarding a client's write to the
 * leader). Never throws: a bad value comes back as a ProtocolError.
 */
export function checkRequest(value: unknown): Request | ProtocolError {
  return checkValue(request, value, 'request')
}

/**
 * checkValue runs a shape check on a decoded value and turns any failure into a
 * ProtocolError with the check's code (MARSHALLING_ERROR when it has none). Never throws.
 */
export function checkValue<T>(check: Check<T>, value: unknown, where: string): T | ProtocolError {
  try {
    return check(value, UNNAMED)
  } catch (untraced) {
    // Checks are pure: the same value fails the same way, now with the field's name.
    try {
      check(value, where)
    } catch (err) {
      return asProtocolError(err)
    }
    return asProtocolError(untraced)
  }
}

function asProtocolError(err: unknown): ProtocolError {
  if (err instanceof ProtocolError) return err
  const code = err instanceof ShapeError ? err.code : ErrorCode.MARSHALLING_ERROR
  return new ProtocolError(code, err instanceof Error ? err.message : String(err))
}

/** decodeClientMessage decodes and checks a frame a client sent. Never throws. */
export function decodeClientMessage(frame: Uint8Array): DecodeResult<ClientMessage> {
  return decodeWith(frame, clientMessage)
}

/** decodeServerMessage decodes and checks a frame a server sent. Never throws. */
export function decodeServerMessage(frame: Uint8Array): DecodeResult<ServerMessage> {
  return decodeWith(frame, serverMessage)
}

/** encodeClientMessage packs a client message. */
export function encodeClientMessage(message: ClientMessage): Uint8Array {
  return encodeMessage(message)
}

/** encodeServerMessage packs a server message. */
export function encodeServerMessage(message: ServerMessage): Uint8Array {
  return encodeMessage(message)
}

/** decodeMessage unpacks any msgpack frame without a shape check (for peer messages, checked by their own schema). */
export function decodeMessage(
  frame: Uint8Array,
): { ok: true; value: unknown } | { ok: false; error: ProtocolError } {
  return unpackFrame(frame)
}
