/**
 * Messages between a client and a server. Each WebSocket binary message is one
 * msgpack map with a string `type`. docs/protocol.md describes every one of them.
 */
import type { Zxid } from './zxid.js'
import type {
  Acl,
  NodeMode,
  PersistentWatchMode,
  SessionId,
  Stat,
  WatchEventType,
  WatchKind,
} from './types.js'

// ---------------------------------------------------------------- requests (op bodies)

/** CreateRequest creates a znode; `makeParents` creates missing ancestors as persistent nodes. */
export interface CreateRequest {
  op: 'create'
  path: string
  data: Uint8Array
  mode: NodeMode
  ttlMs?: number
  acl?: Acl[]
  makeParents?: boolean
}
/** DeleteRequest deletes a childless znode; `version` -1 matches any version. */
export interface DeleteRequest {
  op: 'delete'
  path: string
  version: number
}
/** ExistsRequest returns the Stat or null; `watch` leaves a one-shot data/exists watch. */
export interface ExistsRequest {
  op: 'exists'
  path: string
  watch: boolean
}
/** GetRequest returns data and Stat; `linearizable` confirms leadership with a quorum first. */
export interface GetRequest {
  op: 'get'
  path: string
  watch: boolean
  linearizable?: boolean
}
/** SetRequest replaces data when `version` matches (-1 for any). */
export interface SetRequest {
  op: 'set'
  path: string
  data: Uint8Array
  version: number
}
/** ChildrenRequest lists child names (sorted), optionally with the parent's Stat; `watch` leaves a child watch. */
export interface ChildrenRequest {
  op: 'children'
  path: string
  watch: boolean
  withStat?: boolean
}
/** MultiOp is one operation of a multi. */
export type MultiOp =
  | { op: 'check'; path: string; version: number }
  | { op: 'create'; path: string; data: Uint8Array; mode: NodeMode; ttlMs?: number; acl?: Acl[] }
  | { op: 'set'; path: string; data: Uint8Array; version: number }
  | { op: 'delete'; path: string; version: number }
/** MultiRequest applies every op or none, under one zxid. */
export interface MultiRequest {
  op: 'multi'
  ops: MultiOp[]
}
/** SyncRequest returns once the server has applied everything the leader committed before it. */
export interface SyncRequest {
  op: 'sync'
  path: string
}
/** GetEphemeralsRequest lists this session's ephemeral paths that start with `prefix`. */
export interface GetEphemeralsRequest {
  op: 'getEphemerals'
  prefix: string
}
/** ChildCountRequest counts all descendants of a node (ZooKeeper's getAllChildrenNumber). */
export interface ChildCountRequest {
  op: 'childCount'
  path: string
}
/** GetAclRequest returns a node's ACL and Stat. */
export interface GetAclRequest {
  op: 'getAcl'
  path: string
}
/**
 * SetAclRequest replaces a node's ACL when `version` (-1 for any) matches its ACL
 * version (`aversion`); needs ADMIN on the node. `auth` entries are expanded into the
 * connection's authenticated identities.
 */
export interface SetAclRequest {
  op: 'setAcl'
  path: string
  acl: Acl[]
  version: number
}
/**
 * AuthRequest adds an identity to this connection (ZooKeeper's addAuth): scheme
 * `digest` with credentials `user:password`. The identity lasts as long as the
 * connection, so a client sends it again after every reconnect. Malformed credentials
 * or a scheme that cannot be added are AUTH_FAILED, and the member closes the session.
 */
export interface AuthRequest {
  op: 'auth'
  scheme: string
  credentials: string
}
/**
 * AddWatchRequest adds a persistent or persistent-recursive watch. With `fromZxid` the
 * server first replays, as events in zxid order, every committed change the watch would
 * have reported after that position, from its window of recent changes; the watch is
 * live from the reply's zxid on. The position is the change at index `afterIndex` of
 * the txn `fromZxid` (the changes after it in that txn are replayed too), or, without
 * `afterIndex`, the whole txn. A position older than the window, or a replay larger than
 * the connection's output bound, is not replayed: the reply says `compacted`.
 * `fromZxid` above the member's last applied zxid is ZXID_AHEAD.
 */
export interface AddWatchRequest {
  op: 'addWatch'
  path: string
  mode: PersistentWatchMode
  fromZxid?: Zxid
  afterIndex?: number
}
/** RemoveWatchesRequest removes this session's watches of a kind on a path (NO_WATCHER if none). */
export interface RemoveWatchesRequest {
  op: 'removeWatches'
  path: string
  kind: WatchKind
}
/**
 * SetWatchesRequest re-registers one-shot watches after a reconnect. For each, the
 * server fires at once the first change after `relativeZxid` that the watch would have
 * reported (from its change window, with that change's zxid; past the window by
 * ZooKeeper's SetWatches rules, stamped with the current zxid), or registers it again.
 * Persistent and recursive watches are re-registered with `addWatch` and `fromZxid`.
 */
export interface SetWatchesRequest {
  op: 'setWatches'
  relativeZxid: Zxid
  data: string[]
  exist: string[]
  child: string[]
}
/** CloseSessionRequest ends the session: its ephemerals go, then the server closes the connection. */
export interface CloseSessionRequest {
  op: 'closeSession'
}

/** Request is any operation a client may send. */
export type Request =
  | CreateRequest
  | DeleteRequest
  | ExistsRequest
  | GetRequest
  | SetRequest
  | ChildrenRequest
  | MultiRequest
  | SyncRequest
  | GetEphemeralsRequest
  | ChildCountRequest
  | GetAclRequest
  | SetAclRequest
  | AuthRequest
  | AddWatchRequest
  | RemoveWatchesRequest
  | SetWatchesRequest
  | CloseSessionRequest

/** RequestOp is the `op` tag of a request. */
export type RequestOp = Request['op']

/** WRITE_OPS are the ops that become txns. */
export const WRITE_OPS: ReadonlySet<RequestOp> = new Set<RequestOp>([
  'create',
  'delete',
  'set',
  'multi',
  'setAcl',
  'closeSession',
])

// ---------------------------------------------------------------- results

/** MultiResult is one op's outcome: `err` 0 with its result, or the op's error code. */
export interface MultiResult {
  op: MultiOp['op']
  err: number
  path?: string
  stat?: Stat
}

/**
 * AddWatchResult: `compacted` when the replay asked for with `fromZxid` could not be
 * given (the position is older than the member's change window, whose oldest replayable
 * position is `oldestZxid`, or the replay would not fit the connection's output bound);
 * the watch is then live from the reply's zxid and changes between the position and
 * that zxid may be missing. Empty otherwise.
 */
export interface AddWatchResult {
  compacted?: boolean
  oldestZxid?: Zxid
}

/**
 * ResultMap maps each request op to the `result` a server sends when that op succeeds
 * (`err` 0). Replies do not name their op (a client matches them by xid), so this is
 * the protocol's promise, not something a reply shows: the SDK types each call's
 * result with it, and `Result` below fails to compile if an op is missing.
 */
export interface ResultMap {
  create: { path: string; stat: Stat }
  delete: Record<string, never>
  exists: { stat: Stat | null }
  get: { data: Uint8Array; stat: Stat }
  set: { stat: Stat }
  children: { children: string[]; stat?: Stat }
  multi: { results: MultiResult[] }
  sync: Record<string, never>
  getEphemerals: { paths: string[] }
  childCount: { count: number }
  getAcl: { acl: Acl[]; stat: Stat }
  setAcl: { stat: Stat }
  auth: Record<string, never>
  addWatch: AddWatchResult
  removeWatches: Record<string, never>
  setWatches: Record<string, never>
  closeSession: Record<string, never>
}
/** Result is the success result of any op. */
export type Result = ResultMap[RequestOp]
/** ResultOf is the success result of the op `Op`, e.g. `ResultOf<'get'>` is `{ data, stat }`. */
export type ResultOf<Op extends RequestOp> = ResultMap[Op]

// ---------------------------------------------------------------- client → server

/**
 * ConnectMessage opens (sessionId 0n) or resumes a session. `lastZxidSeen` is the
 * highest zxid the client has seen; a server behind it refuses with ZXID_AHEAD.
 */
export interface ConnectMessage {
  type: 'connect'
  protocolVersion: number
  sessionId: SessionId
  password: Uint8Array
  lastZxidSeen: Zxid
  timeoutMs: number
  readOnly: boolean
}
/** RequestMessage carries one request with a client-chosen `xid` echoed in its reply. */
export interface RequestMessage {
  type: 'request'
  xid: number
  request: Request
}
/** PingMessage keeps an idle session alive; the server answers with pong. */
export interface PingMessage {
  type: 'ping'
}
/** ClientMessage is anything a client sends. */
export type ClientMessage = ConnectMessage | RequestMessage | PingMessage

// ---------------------------------------------------------------- server → client

/** ConnectedMessage accepts a connect. `zxid` is the server's last applied zxid. */
export interface ConnectedMessage {
  type: 'connected'
  sessionId: SessionId
  password: Uint8Array
  timeoutMs: number
  serverId: number
  zxid: Zxid
  readOnly: boolean
}
/**
 * ConnectRefusedMessage refuses a connect: SESSION_EXPIRED (the session is gone),
 * AUTH_FAILED (wrong password), ZXID_AHEAD or NOT_SERVING (try another server),
 * BAD_ARGUMENTS (unsupported protocol version). The server closes the socket after it.
 */
export interface ConnectRefusedMessage {
  type: 'connectRefused'
  code: number
  message: string
}
/** ReplyMessage answers a request: `err` 0 with `result`, or an error code with `message`. */
export interface ReplyMessage {
  type: 'reply'
  xid: number
  zxid: Zxid
  err: number
  result?: Result
  message?: string
}
/**
 * EventMessage is a watch notification; `zxid` is the txn that caused it and `index`
 * the change's place among that txn's changes (a multi or a session close changes
 * several nodes in one txn), so (zxid, index) names one change exactly. The client
 * routes it to its own watch registrations by `path` and `event`. `oneShotOnly` marks
 * the catch-up a setWatches sends: it fires one-shot watches only, because persistent
 * watches get their own replay. `replayOf` marks that replay: the event belongs to the
 * addWatch request with that xid (with fromZxid), whose reply follows the replay, and
 * to no other watch.
 */
export interface EventMessage {
  type: 'event'
  zxid: Zxid
  index: number
  event: WatchEventType
  path: string
  oneShotOnly?: boolean
  replayOf?: number
}
/** PongMessage answers a ping with the server's last applied zxid. */
export interface PongMessage {
  type: 'pong'
  zxid: Zxid
}
/** ServerMessage is anything a server sends to a client. */
export type ServerMessage =
  ConnectedMessage | ConnectRefusedMessage | ReplyMessage | EventMessage | PongMessage

/** WebSocket close codes the server uses (4000-4999 is the application range). */
export const CloseCode = {
  /** A frame could not be decoded or had the wrong shape. */
  PROTOCOL_ERROR: 4000,
  /** A frame exceeded the size limit (the ws library itself uses 1009 for this). */
  FRAME_TOO_LARGE: 1009,
  /** The session ended (closed by the client or expired). */
  SESSION_ENDED: 4001,
  /** The client sent something before connect, or connect twice. */
  BAD_HANDSHAKE: 4002,
  /** The server is shutting down. */
  SERVER_SHUTDOWN: 1001,
  /** Another connection took over this session. */
  SESSION_MOVED: 4003,
  /** The session had too many requests in flight. */
  TOO_MANY_REQUESTS: 4004,
  /** The member lost its leader or quorum; the client should resume its session on another member. */
  NOT_SERVING: 4005,
  /** The client did not read what the member sent it: its output buffer passed its bound (the reason names it). */
  CLIENT_NOT_READING: 1008,
  /** The member is at a connection limit (total or per address); try another member or later. */
  TRY_AGAIN_LATER: 1013,
} as const
