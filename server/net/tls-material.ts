/**
 * TlsMaterial: a member's certificate, key and CA(s), read from the files the config
 * names and re-read without a restart — on SIGHUP (the caller wires the signal to
 * `reload`) or when a file's modification time or size changes (polled, because
 * editors, `cp` and certificate tools replace files by rename, which fs.watch loses).
 *
 * A reload that cannot read or parse the files keeps the material already in use and
 * logs why: a half-written rotation must never take a member off the network.
 */
import { unwatchFile, watchFile } from 'node:fs'
import { readFile } from 'node:fs/promises'
import tls from 'node:tls'
import type { Logger } from 'pino'

/** TlsFilePaths names the PEM files. */
export interface TlsFilePaths {
  certFile: string
  keyFile: string
  /** caFile verifies peers' certificates (and clients' unless clientCaFile is set). */
  caFile: string | undefined
  /** clientCaFile verifies client certificates; default caFile. */
  clientCaFile: string | undefined
}

/** TlsPem is one consistent read of the files. */
export interface TlsPem {
  cert: Buffer
  key: Buffer
  ca: Buffer | undefined
  clientCa: Buffer | undefined
}

/** TlsErrorCode says why TLS material was refused. */
export type TlsErrorCode = 'TLS_FILE_UNREADABLE' | 'TLS_MATERIAL_INVALID'

/** TlsError is TLS material that cannot be read or used; its message names the file. */
export class TlsError extends Error {
  override readonly name = 'TlsError'
  constructor(
    readonly code: TlsErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** readTlsPem reads the files and checks that they make a usable TLS context; throws TlsError. */
export async function readTlsPem(paths: TlsFilePaths): Promise<TlsPem> {
  const read = async (path: string | undefined): Promise<Buffer | undefined> => {
    if (path === undefined) return undefined
    try {
      return await readFile(path)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err)
      throw new TlsError('TLS_FILE_UNREADABLE', `cannot read TLS file ${path}: ${code}`, {
        cause: err,
      })
    }
  }
  const [cert, key, ca, clientCa] = await Promise.all([
    read(paths.certFile),
    read(paths.keyFile),
    read(paths.caFile),
    read(paths.clientCaFile ?? paths.caFile),
  ])
  const pem: TlsPem = { cert: cert!, key: key!, ca, clientCa }
  try {
    // Throws on a key that does not match the certificate, or PEM that does not parse.
    tls.createSecureContext({ cert: pem.cert, key: pem.key, ca: pem.ca })
    if (pem.clientCa !== undefined) tls.createSecureContext({ ca: pem.clientCa })
  } catch (err) {
    throw new TlsError(
      'TLS_MATERIAL_INVALID',
      `TLS files ${paths.certFile}, ${paths.keyFile}${paths.caFile === undefined ? '' : `, ${paths.caFile}`} are not usable: ${(err as Error).message}`,
      { cause: err },
    )
  }
  return pem
}

/** TlsMaterial holds the current PEM and tells its users when it changes. Create it with `TlsMaterial.load`. */
export class TlsMaterial {
  private readonly listeners = new Set<(pem: TlsPem) => void>()
  private watching = false
  private reloading: Promise<boolean> | undefined

  private constructor(
    private readonly paths: TlsFilePaths,
    private pem: TlsPem,
    private readonly logger: Logger,
  ) {}

  /** load reads the files once; throws TlsError (a member does not start with bad TLS files). */
  static async load(paths: TlsFilePaths, logger: Logger): Promise<TlsMaterial> {
    return new TlsMaterial(paths, await readTlsPem(paths), logger.child({ component: 'tls' }))
  }

  /** current is the material in use now. */
  get current(): TlsPem {
    return this.pem
  }

  /** onChange calls `listener` with the new material after each successful reload. */
  onChange(listener: (pem: TlsPem) => void): void {
    this.listeners.add(listener)
  }

  /**
   * reload re-reads the files; resolves true if the material changed and is now in use,
   * false if it was the same or could not be used (then the old material stays, logged).
   */
  reload(why: string): Promise<boolean> {
    // Concurrent triggers (SIGHUP and the poll for one rotation) share one read.
    this.reloading ??= this.readAgain(why).finally(() => (this.reloading = undefined))
    return this.reloading
  }

  /** watch polls the files every `intervalMs` and reloads when one changes. */
  watch(intervalMs: number): void {
    if (this.watching) return
    this.watching = true
    for (const path of this.filePaths()) {
      watchFile(path, { interval: intervalMs, persistent: false }, (now, before) => {
        if (now.mtimeMs !== before.mtimeMs || now.size !== before.size || now.ino !== before.ino)
          void this.reload(`${path} changed`)
      })
    }
  }

  /** close stops watching the files. */
  close(): void {
    if (!this.watching) return
    this.watching = false
    for (const path of this.filePaths()) unwatchFile(path)
  }

  private filePaths(): string[] {
    const { certFile, keyFile, caFile, clientCaFile } = this.paths
    return [...new Set([certFile, keyFile, caFile, clientCaFile])].filter(
      (p): p is string => p !== undefined,
    )
  }

  private async readAgain(why: string): Promise<boolean> {
    let pem: TlsPem
    try {
      pem = await readTlsPem(this.paths)
    } catch (err) {
      this.logger.warn(
        { why, err: (err as Error).message },
        'TLS files not reloaded; the certificates already loaded stay in use',
      )
      return false
    }
    if (samePem(pem, this.pem)) return false
    this.pem = pem
    this.logger.info({ why }, 'TLS certificates reloaded; new connections use them')
    for (const listener of this.listeners) listener(pem)
    return true
  }
}

function samePem(a: TlsPem, b: TlsPem): boolean {
  const same = (x: Buffer | undefined, y: Buffer | undefined) =>
    x === undefined || y === undefined ? x === y : x.equals(y)
  return (
    same(a.cert, b.cert) && same(a.key, b.key) && same(a.ca, b.ca) && same(a.clientCa, b.clientCa)
  )
}
