/**
 * The adapter between storage and the in-memory state: what to snapshot from a
 * DataTree and SessionTable, and how to rebuild them from what recovery found. This is
 * the only storage module that knows those classes.
 *
 * - A standalone server commits everything it logs, so it rebuilds from the snapshot
 *   and replays every logged txn after it (`restoreStandalone`).
 * - An ensemble member rebuilds from the snapshot only and hands the ZAB core the
 *   logged txns (`restoreForEnsemble` + `persistentStateOf`); the core commits them
 *   again. Because snapshots are fuzzy, commits up to `fuzzyThroughZxid` must be applied
 *   with `{ replay: true }`.
 */
import type { PersistentState } from '../core/state.js'
import { SessionTable, type SessionTableOptions } from '../sessions/session-table.js'
import { DataTree, DataTreeLoader } from '../tree/data-tree.js'
import type { Zxid } from '../../protocol/zxid.js'
import { StorageError, StorageErrorCode } from './errors.js'
import type { SnapshotRequest } from './file-storage.js'
import type { Recovered } from './recovery.js'
import { treeRecordTupleOf } from './snapshot-content.js'
import type { SnapshotNodeLoader } from './snapshot-file.js'

/**
 * treeLoading is the FileStorage.open option that builds the DataTree while the
 * snapshot is read, a frame at a time, instead of decoding every record first and
 * building afterwards: recovery holds far less at once, and a snapshot whose records do
 * not make a valid tree is skipped for an older one like a damaged file.
 */
export const treeLoading: { snapshotNodeLoader: () => SnapshotNodeLoader } = {
  snapshotNodeLoader: () => new DataTreeLoader(),
}

/**
 * snapshotRequestOf describes a fuzzy snapshot of the live state: call it, pass the
 * result to `storage.snapshot`, and keep applying txns meanwhile. Its node source
 * walks the tree afresh each time it is iterated, so a write redone after a full disk
 * (installSnapshot) writes every node again.
 */
export function snapshotRequestOf(tree: DataTree, sessions: SessionTable): SnapshotRequest {
  return {
    zxid: tree.appliedZxid,
    sessions: sessions.snapshotRecords(),
    nodes: { [Symbol.iterator]: () => tree.snapshotWith(treeRecordTupleOf) },
    zxidAtEnd: () => tree.appliedZxid,
  }
}

/** RestoredState is the in-memory state rebuilt at startup. */
export interface RestoredState {
  tree: DataTree
  sessions: SessionTable
  /** fuzzyThroughZxid: apply commits up to this zxid with `{ replay: true }` (ensemble only; 0n otherwise). */
  fuzzyThroughZxid: Zxid
}

/** restoreForEnsemble rebuilds the tree and sessions from the snapshot alone. */
export function restoreForEnsemble(
  recovered: Recovered,
  sessionOptions: SessionTableOptions,
): RestoredState {
  const snapshot = recovered.snapshot
  if (snapshot === undefined)
    return {
      tree: new DataTree(),
      sessions: new SessionTable(sessionOptions),
      fuzzyThroughZxid: 0n,
    }
  try {
    return {
      tree:
        snapshot.loaded instanceof DataTree
          ? snapshot.loaded
          : DataTree.fromSnapshot(snapshot.nodes, snapshot.zxid),
      sessions: SessionTable.fromRecords(snapshot.sessions, sessionOptions),
      fuzzyThroughZxid: snapshot.fuzzyThroughZxid,
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    throw new StorageError(
      StorageErrorCode.CORRUPT_SNAPSHOT,
      `snapshot ${snapshot.file} does not describe a valid tree (${reason}). Move it aside so an older snapshot is used, or resync this server from its peers.`,
      { file: snapshot.file, cause: err },
    )
  }
}

/** restoreStandalone rebuilds from the snapshot, then replays every logged txn after it. */
export function restoreStandalone(
  recovered: Recovered,
  sessionOptions: SessionTableOptions,
): RestoredState {
  const state = restoreForEnsemble(recovered, sessionOptions)
  for (const txn of recovered.txns) {
    // Replay mode: a fuzzy snapshot may already hold some of these txns' effects.
    state.tree.apply(txn, { replay: txn.zxid <= state.fuzzyThroughZxid })
    state.sessions.apply(txn)
  }
  return { ...state, fuzzyThroughZxid: 0n }
}

/** persistentStateOf is the ZAB core's restart input (server/core PersistentState). */
export function persistentStateOf(recovered: Recovered): PersistentState {
  return {
    acceptedEpoch: recovered.epochs.acceptedEpoch,
    currentEpoch: recovered.epochs.currentEpoch,
    snapshotZxid: recovered.snapshot?.zxid ?? 0n,
    log: recovered.txns,
  }
}
