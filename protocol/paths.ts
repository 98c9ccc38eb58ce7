/**
 * Path rules shared by client and server (ZooKeeper's PathUtils.validatePath, plus a
 * byte limit): absolute, `/`-separated, no empty, `.` or `..` segment, no trailing `/`
 * except the root, no control or non-character code points, at most PATH_BYTES_MAX
 * UTF-8 bytes.
 */
import { PATH_BYTES_MAX } from './limits.js'

/** ROOT_PATH is the path of the root znode. */
export const ROOT_PATH = '/'
/** RESERVED_PATH is the subtree reserved for the service itself; it exists from the start. */
export const RESERVED_PATH = '/zookeeper'

const encoder = new TextEncoder()
/**
 * PLAIN_PATH matches the common case: segments of ASCII letters, digits, `_`, `-` and
 * `.` that do not start with `.`. Such a path passes every rule below but the length
 * (its bytes are its length), so the rules need not be checked one by one.
 */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)+$/

/**
 * pathProblem returns why `path` is not a valid znode path, or null when it is.
 * `sequential` allows a trailing `/` because the server appends the sequence number.
 */
export function pathProblem(path: unknown, sequential = false): string | null {
  if (typeof path !== 'string') return 'path must be a string'
  if (path.length === 0) return 'path must not be empty'
  if (path[0] !== '/') return 'path must start with /'
  if (path.length <= PATH_BYTES_MAX && PLAIN_PATH.test(path)) return null
  // A UTF-16 unit encodes to at most 3 bytes, so most paths need no encoding to be measured.
  if (path.length * 3 > PATH_BYTES_MAX && encoder.encode(path).length > PATH_BYTES_MAX)
    return `path longer than ${PATH_BYTES_MAX} bytes`
  if (path.length === 1) return null
  const body = sequential && path.endsWith('/') ? path.slice(1, -1) : path.slice(1)
  if (!sequential && path.endsWith('/')) return 'path must not end with /'
  if (body.length === 0) return null
  for (const segment of body.split('/')) {
    if (segment.length === 0) return 'path must not contain an empty segment (//)'
    if (segment === '.' || segment === '..') return 'path must not contain . or .. segments'
  }
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i)
    if (
      c === 0 ||
      (c >= 0x01 && c <= 0x1f) ||
      (c >= 0x7f && c <= 0x9f) ||
      (c >= 0xd800 && c <= 0xf8ff) ||
      (c >= 0xfff0 && c <= 0xffff)
    ) {
      return `path contains an invalid character at index ${i} (U+${c.toString(16).padStart(4, '0')})`
    }
  }
  return null
}

/** isValidPath tells whether `path` is a valid znode path. */
export function isValidPath(path: unknown, sequential = false): path is string {
  return pathProblem(path, sequential) === null
}

/** parentOf returns the parent path of a valid non-root path. */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/')
  return slash <= 0 ? ROOT_PATH : path.slice(0, slash)
}

/** baseName returns the last segment of a valid path ('' for the root). */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}

/** joinPath joins a parent path and a child name. */
export function joinPath(parent: string, child: string): string {
  return parent === ROOT_PATH ? `/${child}` : `${parent}/${child}`
}

/** isAncestorOrSelf tells whether `ancestor` is `path` or one of its ancestors. */
export function isAncestorOrSelf(ancestor: string, path: string): boolean {
  if (ancestor === ROOT_PATH) return true
  return path === ancestor || path.startsWith(ancestor + '/')
}

/** sequenceSuffix renders a sequential node's counter as ZooKeeper does: 10 zero-padded digits. */
export function sequenceSuffix(counter: number): string {
  return counter < 0 ? `-${String(-counter).padStart(10, '0')}` : String(counter).padStart(10, '0')
}
