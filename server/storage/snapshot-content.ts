/**
 * The coupling between storage and what a snapshot holds: tree records
 * (server/tree's SnapshotNode) and session records (server/sessions' SessionRecord).
 * Storage writes them as opaque msgpack records; on reading it checks each one here,
 * so a snapshot whose records do not fit is rejected as corrupt (and an older one is
 * tried) instead of failing later inside the tree.
 */
import type { SessionRecord } from '../sessions/session-table.js'
import { checkSnapshotNode, type SnapshotNode } from '../tree/znode.js'

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
