/**
 * The coupling between storage and what a snapshot holds: tree records
 * (server/tree's SnapshotNode) and session records (server/sessions' SessionRecord).
 * Storage writes them as opaque msgpack records; on reading it checks each one here,
 * so a snapshot whose records do not fit is rejected as corrupt (and an older one is
 * tried) instead of failing later inside the tree.
 */
import type { Acl } from '../../protocol/types.js'
import type { SessionRecord } from '../sessions/session-table.js'
import { checkSnapshotNode, type SnapshotNode, type ZNodeView } from '../tree/znode.js'

export type { SessionRecord } from '../sessions/session-table.js'
export type { SnapshotNode } from '../tree/znode.js'

/** plainBytes turns msgpackr's Buffers into plain Uint8Array views (no copy). */
function plainBytes(value: Uint8Array): Uint8Array {
  return value.constructor === Uint8Array
    ? value
    : new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
}

/** checkTreeRecord returns a decoded tree record as a SnapshotNode, or a string saying what is wrong. */
export function checkTreeRecord(value: unknown): SnapshotNode | string {
  try {
    checkSnapshotNode(value)
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  }
  return { ...value, data: plainBytes(value.data) }
}

/**
 * TreeRecordTuple is how format 3 and 4 snapshot files hold a tree record: a msgpack
 * array in this field order (ACL entries as `[perms, scheme, id]`, a missing hash as
 * nil) instead of a map. It is half the bytes (no key strings) and decodes about three
 * times faster, which is most of a restart's decoding work.
 */
type TreeRecordTuple = [
  path: string,
  data: Uint8Array,
  acl: [perms: number, scheme: string, id: string][],
  czxid: bigint,
  mzxid: bigint,
  pzxid: bigint,
  ctime: number,
  mtime: number,
  version: number,
  cversion: number,
  aversion: number,
  ephemeralOwner: bigint,
  container: boolean,
  ttlMs: number,
  hash: bigint | null,
]
const TUPLE_FIELDS = 15

/**
 * treeRecordTuple turns a tree record into its tuple form: a SnapshotNode (from
 * DataTree.snapshotEntries) is converted, a tuple (from treeRecordTupleOf) is kept.
 */
export function treeRecordTuple(record: unknown): unknown[] {
  if (Array.isArray(record)) return record
  const node = record as SnapshotNode
  return treeRecordTupleOf(node.path, node, node.hash ?? null)
}

/**
 * aclTuples caches each ACL list's tuple form: the tree interns ACL lists, so most
 * nodes share a handful and a snapshot converts each once.
 */
const aclTuples = new WeakMap<readonly Acl[], [number, string, string][]>()

function aclTuple(acl: readonly Acl[]): [number, string, string][] {
  let tuple = aclTuples.get(acl)
  if (tuple === undefined) {
    tuple = acl.map((entry) => [entry.perms, entry.scheme, entry.id])
    aclTuples.set(acl, tuple)
  }
  return tuple
}

/**
 * treeRecordTupleOf builds a node's tuple straight from the live node, for
 * `DataTree.snapshotWith(treeRecordTupleOf)`: a snapshot file's records without a
 * SnapshotNode copy of each node in between.
 */
export function treeRecordTupleOf(
  path: string,
  node: Omit<ZNodeView, 'children'>,
  hash: bigint | null,
): unknown[] {
  const tuple: TreeRecordTuple = [
    path,
    node.data,
    aclTuple(node.acl),
    node.czxid,
    node.mzxid,
    node.pzxid,
    node.ctime,
    node.mtime,
    node.version,
    node.cversion,
    node.aversion,
    node.ephemeralOwner,
    node.container,
    node.ttlMs,
    hash,
  ]
  return tuple
}

/**
 * treeRecordFromTuple turns a decoded tuple back into a SnapshotNode, or says why it
 * cannot. Field types are left to the tree loader's check (checkSnapshotNode).
 */
export function treeRecordFromTuple(value: unknown): SnapshotNode | string {
  if (!Array.isArray(value) || value.length !== TUPLE_FIELDS)
    return `tree record is not a list of ${TUPLE_FIELDS} fields`
  const t = value as TreeRecordTuple
  const acl: unknown = t[2]
  if (!Array.isArray(acl)) return `${String(t[0])}: acl is not a list`
  return {
    path: t[0],
    data: t[1],
    acl: acl.map((entry: unknown) => {
      const [perms, scheme, id] = Array.isArray(entry) ? (entry as unknown[]) : []
      return { perms, scheme, id } as SnapshotNode['acl'][number]
    }),
    czxid: t[3],
    mzxid: t[4],
    pzxid: t[5],
    ctime: t[6],
    mtime: t[7],
    version: t[8],
    cversion: t[9],
    aversion: t[10],
    ephemeralOwner: t[11],
    container: t[12],
    ttlMs: t[13],
    hash: t[14] ?? undefined,
  }
}

/** checkSessionRecord returns a decoded session record, or a string saying what is wrong. */
export function checkSessionRecord(value: unknown): SessionRecord | string {
  if (typeof value !== 'object' || value === null) return 'session record is not a map'
  const { id, timeoutMs, password } = value as Record<string, unknown>
  if (typeof id !== 'bigint' || id <= 0n || id > 0xffff_ffff_ffff_ffffn)
    return 'session record: id is not a session id'
  if (!Number.isSafeInteger(timeoutMs) || (timeoutMs as number) <= 0)
    return `session 0x${id.toString(16)}: timeoutMs is not a positive integer`
  if (!(password instanceof Uint8Array))
    return `session 0x${id.toString(16)}: password is not bytes`
  return { id, timeoutMs: timeoutMs as number, password: plainBytes(password) }
}
