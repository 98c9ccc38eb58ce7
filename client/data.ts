/**
 * Data and path helpers shared by the SDK's modules.
 */
const encoder = new TextEncoder()

/** Data is what the SDK accepts as node data: bytes, or a string sent as UTF-8. */
export type Data = Uint8Array | string

/** toBytes encodes string data as UTF-8 and passes bytes through. */
export function toBytes(data: Data): Uint8Array {
  return typeof data === 'string' ? encoder.encode(data) : data
}

/** Chroot maps between the user's paths and the server's under an optional prefix. */
export class Chroot {
  constructor(readonly prefix: string) {}

  /** toServer prefixes a user path. */
  toServer(path: string): string {
    if (this.prefix === '') return path
    return path === '/' ? this.prefix : this.prefix + path
  }

  /** fromServer strips the prefix, or returns null for a path outside the chroot. */
  fromServer(path: string): string | null {
    if (this.prefix === '') return path
    if (path === this.prefix) return '/'
    return path.startsWith(this.prefix + '/') ? path.slice(this.prefix.length) : null
  }
}
