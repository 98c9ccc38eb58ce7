/**
 * MemoryStorageFs: an in-memory StorageFs that records every operation. Tests run the
 * storage layer on it to get the exact sequence of writes, fsyncs, renames and unlinks
 * it performs, then build from that trace every disk state a crash could leave
 * (test/storage/crash-model.ts). It is also a fast disk for unit tests. Files are
 * inodes, so a rename or unlink of an open file behaves as on POSIX.
 */
import type { FileStat, StorageFile, StorageFs } from './storage-fs.js'

/** FsOp is one recorded operation; `inode` identifies file content across renames. */
export type FsOp =
  | { kind: 'mkdir'; dir: string }
  | { kind: 'create'; path: string; inode: number }
  | { kind: 'write'; path: string; inode: number; position: number; bytes: Uint8Array }
  | { kind: 'truncate'; path: string; inode: number; size: number }
  | { kind: 'fdatasync'; path: string; inode: number }
  | { kind: 'rename'; from: string; to: string }
  | { kind: 'unlink'; path: string }
  | { kind: 'fsyncDir'; dir: string }

/** DiskImage is a whole disk at rest: directories and file contents by path. */
export interface DiskImage {
  dirs: Set<string>
  files: Map<string, Uint8Array>
}

function enoent(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory '${path}'`), { code: 'ENOENT' })
}

function parentOf(path: string): string {
  const at = path.lastIndexOf('/')
  return at <= 0 ? '/' : path.slice(0, at)
}

/** writeAt returns `content` with `bytes` written at `position` (zero-filling any hole). */
export function writeAt(content: Uint8Array, bytes: Uint8Array, position: number): Uint8Array {
  const size = Math.max(content.length, position + bytes.length)
  const out = size === content.length ? content.slice() : new Uint8Array(size)
  if (out !== content && size !== content.length) out.set(content)
  out.set(bytes, position)
  return out
}

/** resize returns `content` cut or zero-extended to `size` bytes. */
export function resize(content: Uint8Array, size: number): Uint8Array {
  if (size <= content.length) return content.slice(0, size)
  const out = new Uint8Array(size)
  out.set(content)
  return out
}

/** MemoryStorageFs keeps files in memory and appends each operation to `ops`. */
export class MemoryStorageFs implements StorageFs {
  /** ops is every mutating operation so far, in order. */
  readonly ops: FsOp[] = []
  private readonly dirs = new Set<string>()
  private readonly entries = new Map<string, number>()
  private readonly inodes = new Map<number, Uint8Array>()
  private nextInode = 1
  /** readOnlyDirs refuse checkAccess, to test an unwritable data directory. */
  readonly readOnlyDirs = new Set<string>()

  /** constructor starts from a disk image (default: only `/`). */
  constructor(image: DiskImage = { dirs: new Set(['/']), files: new Map() }) {
    for (const dir of image.dirs) this.dirs.add(dir)
    for (const [path, content] of image.files) {
      const inode = this.nextInode++
      this.inodes.set(inode, content.slice())
      this.entries.set(path, inode)
    }
  }

  /** image returns the current state (everything written, synced or not). */
  image(): DiskImage {
    const files = new Map<string, Uint8Array>()
    for (const [path, inode] of this.entries) files.set(path, this.inodes.get(inode)!.slice())
    return { dirs: new Set(this.dirs), files }
  }

  private inodeOf(path: string): number {
    const inode = this.entries.get(path)
    if (inode === undefined) throw enoent(path)
    return inode
  }

  private requireDir(dir: string): void {
    if (!this.dirs.has(dir)) throw enoent(dir)
  }

  async createFile(path: string): Promise<StorageFile> {
    this.requireDir(parentOf(path))
    if (this.entries.has(path))
      throw Object.assign(new Error(`EEXIST: '${path}'`), { code: 'EEXIST' })
    const inode = this.nextInode++
    this.inodes.set(inode, new Uint8Array(0))
    this.entries.set(path, inode)
    this.ops.push({ kind: 'create', path, inode })
    return this.handle(path, inode)
  }

  async openFile(path: string): Promise<StorageFile> {
    return this.handle(path, this.inodeOf(path))
  }

  private handle(path: string, inode: number): StorageFile {
    const fs = this
    return {
      path,
      async write(bytes, position) {
        const content = fs.inodes.get(inode)!
        // In place when the file need not grow (a preallocated log segment): copying a
        // whole file per append would make megabytes of zeros slow. Nothing else shares
        // an inode's array (image, readFile and the constructor copy).
        if (position + bytes.length <= content.length) content.set(bytes, position)
        else fs.inodes.set(inode, writeAt(content, bytes, position))
        fs.ops.push({ kind: 'write', path, inode, position, bytes: bytes.slice() })
      },
      async fdatasync() {
        fs.ops.push({ kind: 'fdatasync', path, inode })
      },
      async truncate(size) {
        fs.inodes.set(inode, resize(fs.inodes.get(inode)!, size))
        fs.ops.push({ kind: 'truncate', path, inode, size })
      },
      async close() {},
    }
  }

  async readFile(path: string): Promise<Uint8Array> {
    return this.inodes.get(this.inodeOf(path))!.slice()
  }

  async readdir(dir: string): Promise<string[]> {
    this.requireDir(dir)
    const prefix = dir.endsWith('/') ? dir : `${dir}/`
    const names: string[] = []
    for (const path of [...this.entries.keys(), ...this.dirs]) {
      if (
        path.startsWith(prefix) &&
        path.length > prefix.length &&
        !path.slice(prefix.length).includes('/')
      )
        names.push(path.slice(prefix.length))
    }
    return names
  }

  async mkdir(dir: string): Promise<void> {
    if (this.dirs.has(dir)) return
    this.requireDir(parentOf(dir))
    this.dirs.add(dir)
    this.ops.push({ kind: 'mkdir', dir })
  }

  async rename(from: string, to: string): Promise<void> {
    const inode = this.inodeOf(from)
    this.entries.delete(from)
    this.entries.set(to, inode)
    this.ops.push({ kind: 'rename', from, to })
  }

  async unlink(path: string): Promise<void> {
    this.inodeOf(path)
    this.entries.delete(path)
    this.ops.push({ kind: 'unlink', path })
  }

  async fsyncDir(dir: string): Promise<void> {
    this.requireDir(dir)
    this.ops.push({ kind: 'fsyncDir', dir })
  }

  async stat(path: string): Promise<FileStat | undefined> {
    if (this.dirs.has(path)) return { size: 0, isDirectory: true }
    const inode = this.entries.get(path)
    return inode === undefined
      ? undefined
      : { size: this.inodes.get(inode)!.length, isDirectory: false }
  }

  async checkAccess(dir: string): Promise<void> {
    this.requireDir(dir)
    if (this.readOnlyDirs.has(dir))
      throw Object.assign(new Error(`EACCES: permission denied '${dir}'`), { code: 'EACCES' })
  }
}
