/**
 * Node names of the recipes. Contenders (candidates, lock and lease holders) are
 * ephemeral sequential children named `_c_<32 hex>-<kind>-<10 digits>`:
 * - `_c_<32 hex>-` is the protection prefix (Curator's `_c_<uuid>-`): unique per
 *   attempt, so that after a create whose reply was lost the client can find the node
 *   it may have made;
 * - `<kind>` tells contenders of one parent apart (`read` and `write` of a lock);
 * - the 10 digits are the server's sequence number, which orders contenders. It comes
 *   from the parent's cversion and restarts if a container parent is deleted and made
 *   again, so it orders contenders of one parent's lifetime only; fencing tokens are
 *   czxids, which never go back.
 */
import { joinPath, pathProblem } from '../../protocol/index.js'
import { BadArgumentsError } from '../errors.js'

/** Contender is one parsed contender node name. */
export interface Contender {
  /** name is the child's name under the recipe's parent. */
  name: string
  /** sequence is the server's sequence number, the order of the line. */
  sequence: number
  /** kind is the `<kind>` part ('' when the name has no protection prefix). */
  kind: string
  /** protectionId is the 32 hex digits of the prefix ('' when there is none). */
  protectionId: string
}

const PROTECTED = /^_c_([0-9a-f]{32})-([a-z]+)-(\d{10})$/
const SEQUENTIAL = /(\d{10})$/

/** newProtectionId returns 32 random hex digits (crypto.getRandomValues works in browsers outside secure contexts too, unlike randomUUID). */
export function newProtectionId(): string {
  const bytes = new Uint8Array(16)
  globalThis.crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** protectedPrefix is the name a contender asks for; the server appends the sequence number. */
export function protectedPrefix(protectionId: string, kind: string): string {
  return `_c_${protectionId}-${kind}-`
}

/** parseContender reads a child name; null for a child that is not a sequential node (ignored by the recipes). */
export function parseContender(name: string): Contender | null {
  const match = PROTECTED.exec(name)
  if (match !== null)
    return { name, sequence: Number(match[3]), kind: match[2]!, protectionId: match[1]! }
  const plain = SEQUENTIAL.exec(name)
  return plain === null ? null : { name, sequence: Number(plain[1]), kind: '', protectionId: '' }
}

/** sortedContenders parses and orders the children of a recipe's parent, first in line first. */
export function sortedContenders(children: readonly string[]): Contender[] {
  const contenders: Contender[] = []
  for (const name of children) {
    const contender = parseContender(name)
    if (contender !== null) contenders.push(contender)
  }
  return contenders.sort(
    (a, b) => a.sequence - b.sequence || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  )
}

/** checkedPath throws BadArgumentsError unless `path` is a valid znode path other than the root. */
export function checkedPath(path: string, what: string): string {
  const problem = pathProblem(path)
  if (problem !== null)
    throw new BadArgumentsError(`${what} ${JSON.stringify(path)} is not a valid path: ${problem}`, {
      path,
    })
  if (path === '/') throw new BadArgumentsError(`${what} must not be the root`, { path })
  return path
}

/** checkedName throws BadArgumentsError unless `name` can be one path segment. */
export function checkedName(name: string, what: string): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.includes('/') ||
    pathProblem(`/${name}`) !== null
  ) {
    throw new BadArgumentsError(`${what} ${JSON.stringify(name)} cannot be a node name`)
  }
  return name
}

/** childOf is the path of `name` under `parent`. */
export function childOf(parent: string, name: string): string {
  return joinPath(parent, name)
}
