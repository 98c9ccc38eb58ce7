/**
 * The epoch file `dataDir/epochs`: acceptedEpoch and currentEpoch, which ZAB needs
 * durable before ACKEPOCH and before the ACK of NEWLEADER (zookeeper-internals §1.6).
 * 20 bytes: magic `CNEP`, acceptedEpoch (u32), currentEpoch (u32), a format version
 * (u32) and a CRC-32 of the first 16 bytes; replaced atomically (temp, fdatasync,
 * rename, directory fsync), so a crash leaves either the old pair or the new one.
 */
import { crc32 } from 'node:zlib'
import { writeFileAtomically } from './atomic-file.js'
import { StorageError, StorageErrorCode } from './errors.js'
import type { StorageFs } from './storage-fs.js'

/** EPOCH_FILE_NAME is the epoch file's name inside the data directory. */
export const EPOCH_FILE_NAME = 'epochs'
const EPOCH_MAGIC = 0x434e_4550
const EPOCH_VERSION = 1
const EPOCH_FILE_BYTES = 20

/** Epochs is the durable pair of ZAB epochs. */
export interface Epochs {
  acceptedEpoch: number
  currentEpoch: number
}

/** encodeEpochs builds the epoch file's bytes. */
export function encodeEpochs(epochs: Epochs): Uint8Array {
  const bytes = new Uint8Array(EPOCH_FILE_BYTES)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, EPOCH_MAGIC)
  view.setUint32(4, epochs.acceptedEpoch)
  view.setUint32(8, epochs.currentEpoch)
  view.setUint32(12, EPOCH_VERSION)
  view.setUint32(16, crc32(bytes.subarray(0, 16)))
  return bytes
}

/** decodeEpochs reads the epoch file's bytes, or says why they are not valid. */
export function decodeEpochs(bytes: Uint8Array): Epochs | string {
  if (bytes.length !== EPOCH_FILE_BYTES)
    return `${bytes.length} bytes, expected ${EPOCH_FILE_BYTES}`
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(0) !== EPOCH_MAGIC) return 'not a Conclave epoch file (bad magic)'
  if (view.getUint32(16) !== crc32(bytes.subarray(0, 16))) return 'checksum mismatch'
  if (view.getUint32(12) !== EPOCH_VERSION)
    return `format version ${view.getUint32(12)}, this server reads ${EPOCH_VERSION}`
  const epochs = { acceptedEpoch: view.getUint32(4), currentEpoch: view.getUint32(8) }
  if (epochs.currentEpoch > epochs.acceptedEpoch)
    return `currentEpoch ${epochs.currentEpoch} is above acceptedEpoch ${epochs.acceptedEpoch}`
  return epochs
}

/** checkEpochs throws BAD_REQUEST unless both epochs are u32 and currentEpoch <= acceptedEpoch. */
export function checkEpochs(epochs: Epochs): void {
  for (const [name, value] of Object.entries(epochs)) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
      throw new StorageError(
        StorageErrorCode.BAD_REQUEST,
        `writeEpochs: ${name} must be an unsigned 32-bit integer, got ${String(value)}`,
      )
    }
  }
  if (epochs.currentEpoch > epochs.acceptedEpoch) {
    throw new StorageError(
      StorageErrorCode.BAD_REQUEST,
      `writeEpochs: currentEpoch ${epochs.currentEpoch} is above acceptedEpoch ${epochs.acceptedEpoch}`,
    )
  }
}

/** writeEpochFile replaces the epoch file durably. */
export async function writeEpochFile(
  fs: StorageFs,
  dataDir: string,
  epochs: Epochs,
): Promise<void> {
  checkEpochs(epochs)
  await writeFileAtomically(fs, dataDir, EPOCH_FILE_NAME, [encodeEpochs(epochs)])
}

/**
 * readEpochFile returns the durable epochs, `{0, 0}` when the file was never written
 * (a server that never took part in an election), or throws CORRUPT_EPOCHS.
 */
export async function readEpochFile(fs: StorageFs, dataDir: string): Promise<Epochs> {
  const path = `${dataDir}/${EPOCH_FILE_NAME}`
  if ((await fs.stat(path)) === undefined) return { acceptedEpoch: 0, currentEpoch: 0 }
  const decoded = decodeEpochs(await fs.readFile(path))
  if (typeof decoded === 'string') {
    throw new StorageError(
      StorageErrorCode.CORRUPT_EPOCHS,
      `epoch file ${path} is damaged (${decoded}). The server cannot know which leader epochs it promised, so it will not start. ` +
        "In an ensemble, remove this server's data directory and let it rejoin with a fresh one (it resyncs from its peers); " +
        'standalone, restore the data directory from a backup.',
      { file: path, offset: 0 },
    )
  }
  return decoded
}
