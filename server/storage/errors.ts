/**
 * StorageError: why the data directory cannot be used, with a stable code, the file
 * and byte offset involved, and what an operator should do about it. The server
 * prints `message` and stops; it never catches one of these to carry on with less data.
 */

/** StorageErrorCode lists every reason storage refuses to go on. */
export const StorageErrorCode = {
  /** A checksum or framing failure in the log anywhere but a torn tail. */
  CORRUPT_LOG: 'CORRUPT_LOG',
  /** Two consecutive logged txns (or the snapshot and the first txn after it) are not adjacent. */
  ZXID_GAP: 'ZXID_GAP',
  /** No snapshot could be read and none older is valid. */
  CORRUPT_SNAPSHOT: 'CORRUPT_SNAPSHOT',
  /** The epoch file is damaged. */
  CORRUPT_EPOCHS: 'CORRUPT_EPOCHS',
  /** The directory holds files that are not Conclave's, or is not a directory. */
  NOT_A_DATA_DIR: 'NOT_A_DATA_DIR',
  /** The directory does not exist. */
  MISSING_DATA_DIR: 'MISSING_DATA_DIR',
  /** The directory or a file in it cannot be read or written (permissions, I/O error). */
  UNREADABLE: 'UNREADABLE',
  /** A caller broke the API contract (non-increasing zxid, use after close, truncation below a snapshot). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** An earlier write or fsync failed; nothing more may be written (the disk state is unknown). */
  FAILED: 'FAILED',
  /** Another live process holds the data directory's lock. */
  LOCKED: 'LOCKED',
} as const

/** StorageErrorCode is the union of the codes above. */
export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode]

/** StorageErrorDetails locates a problem: the file and, where known, the byte offset. */
export interface StorageErrorDetails {
  file?: string
  offset?: number
  cause?: unknown
}

/** StorageError is a typed refusal by the storage layer; match on `code`. */
export class StorageError extends Error {
  override readonly name = 'StorageError'
  readonly code: StorageErrorCode
  readonly file: string | undefined
  readonly offset: number | undefined

  constructor(code: StorageErrorCode, message: string, details: StorageErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.file = details.file
    this.offset = details.offset
  }
}

/** REPAIR_ADVICE is appended to log damage messages: the only safe ways forward. */
export const REPAIR_ADVICE =
  'Committed data may be affected, so the server will not start. If this server is part of an ensemble, ' +
  'run `conclave repair --data DIR` to cut the log at the damage and let it resync from its peers; ' +
  'otherwise restore the data directory from a backup.'

/** describeIoError turns a node:fs error into a short phrase (code and syscall) for messages. */
export function describeIoError(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const { code, syscall } = err as { code?: unknown; syscall?: unknown }
    return `${String(code)}${typeof syscall === 'string' ? ` during ${syscall}` : ''}`
  }
  return err instanceof Error ? err.message : String(err)
}

/** ioErrorCode returns the errno code (ENOENT, EACCES, ...) of a node:fs error, if any. */
export function ioErrorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' ? code : undefined
  }
  return undefined
}
