/**
 * server/storage: durable state in the data directory (design.md §10). The runtime
 * needs only what is exported here; see docs/operations.md for the on-disk layout.
 */
export {
  FileStorage,
  type FileStorageOptions,
  type SnapshotInfo,
  type SnapshotRequest,
} from './file-storage.js'
export type { Recovered, RecoveredSnapshot } from './recovery.js'
export type { SnapshotNodeLoader } from './snapshot-file.js'
export type { Epochs } from './epoch-file.js'
export type { TornTail } from './log-scan.js'
export { StorageError, StorageErrorCode } from './errors.js'
export { repairDataDir, type RepairOptions, type RepairReport, type RepairCut } from './repair.js'
export { acquireDataDirLock, LOCK_FILE_NAME, type DataDirLock } from './data-dir-lock.js'
export {
  persistentStateOf,
  restoreForEnsemble,
  restoreStandalone,
  snapshotRequestOf,
  treeLoading,
  type RestoredState,
} from './restore.js'
export { NodeStorageFs, type StorageFs, type StorageFile, type FileStat } from './storage-fs.js'
export { MemoryStorageFs, type DiskImage, type FsOp } from './memory-fs.js'
