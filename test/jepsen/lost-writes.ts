/**
 * Lost acknowledged writes: acknowledged writes the final state of the ensemble
 * contradicts. Pure; it needs the history and the final state of every key (read
 * after every fault was healed and every member converged).
 *
 * A node's mzxid is the zxid of the last txn that created or changed it, and a delete
 * followed by a create gives a newer mzxid, so in the final state of key k:
 * - k exists with mzxid m: no write to k was applied after m. An acknowledged write
 *   with zxid > m is lost. The acknowledged write with zxid = m, if any, must be a
 *   create or set of exactly the final value (else the reply lied about what it did).
 * - k is absent: some delete took effect after the last create or set that did. An
 *   acknowledged create or set whose zxid is above every acknowledged delete is lost,
 *   unless a delete of unknown outcome could have removed it (then nothing can be said).
 *
 * The count has no false positives as long as writes' zxids are their txns' zxids and
 * the only deletes are the history's (no ephemerals, TTLs or containers under the keys).
 */
import type { History, Operation } from '../checker/index.js'

/** FinalState is one key's state at the end of the run. */
export interface FinalState {
  exists: boolean
  value?: string
  version?: number
  mzxid?: bigint
}

/** LostWrite names one acknowledged write the final state contradicts, and why. */
export interface LostWrite {
  op: Operation
  reason: string
}

/** findLostWrites compares acknowledged writes with the final state of each key. */
export function findLostWrites(
  history: History,
  finalStates: ReadonlyMap<string, FinalState>,
): LostWrite[] {
  const lost: LostWrite[] = []
  const byPath = new Map<string, Operation[]>()
  for (const op of history) {
    if (op.input.kind === 'read') continue
    const list = byPath.get(op.input.path) ?? []
    list.push(op)
    byPath.set(op.input.path, list)
  }
  for (const [path, writes] of byPath) {
    const final = finalStates.get(path)
    if (final === undefined) continue
    const acked = writes.filter(
      (op): op is Operation & { output: { ok: true; zxid: bigint } } =>
        op.output !== null && op.output.ok && op.output.zxid !== undefined,
    )
    if (final.exists) {
      const m = final.mzxid
      if (m === undefined) continue
      for (const op of acked) {
        const z = op.output.zxid
        if (z > m)
          lost.push({
            op,
            reason: `acknowledged at zxid 0x${z.toString(16)}, but ${path} was last changed at 0x${m.toString(16)}`,
          })
        else if (z === m) {
          const input = op.input
          if (input.kind === 'delete')
            lost.push({
              op,
              reason: `acknowledged delete at 0x${z.toString(16)}, but ${path} exists with that mzxid`,
            })
          else if (input.kind !== 'read' && input.value !== final.value) {
            lost.push({
              op,
              reason: `wrote ${JSON.stringify(input.value)} at 0x${z.toString(16)}, but ${path} holds ${JSON.stringify(final.value)} with that mzxid`,
            })
          }
        }
      }
    } else {
      const unknownDelete = writes.some((op) => op.input.kind === 'delete' && op.output === null)
      if (unknownDelete) continue
      const lastDelete = acked
        .filter((op) => op.input.kind === 'delete')
        .reduce((max, op) => (op.output.zxid > max ? op.output.zxid : max), -1n)
      for (const op of acked) {
        if (op.input.kind === 'delete' || op.output.zxid < lastDelete) continue
        lost.push({
          op,
          reason: `acknowledged at zxid 0x${op.output.zxid.toString(16)}, after every acknowledged delete, but ${path} does not exist`,
        })
      }
    }
  }
  return lost
}
