/**
 * Tab completion in the interactive shell: the first word completes to a command, a
 * word starting with `/` (or an empty one where the command expects a path) to the
 * children of its parent on the server.
 */
import { findShellCommand, shellCommandNames } from './shell-commands.js'

/** ListChildren lists a node's children on the server (rejecting if it cannot). */
export type ListChildren = (path: string) => Promise<string[]>

/** Completion is readline's answer: the candidates and the part of the line they replace. */
export type Completion = [string[], string]

/**
 * completeShellLine completes `line` (the text before the cursor). One command
 * candidate gets a space after it, ready for its argument. Paths are completed one
 * level at a time, without a trailing `/`, so the completed path is a valid one.
 */
export async function completeShellLine(
  line: string,
  listChildren: ListChildren,
): Promise<Completion> {
  const start = line.trimStart()
  const firstSpace = start.search(/\s/)
  if (firstSpace < 0) {
    const hits = shellCommandNames().filter((name) => name.startsWith(start))
    return [hits.length === 1 ? [`${hits[0]!} `] : hits.sort(), start]
  }
  const word = /\S*$/.exec(line)![0]
  const takesPath = findShellCommand(start.slice(0, firstSpace))?.usage.includes('path') === true
  if (!word.startsWith('/') && !(word === '' && takesPath)) return [[], word]
  const slash = word.lastIndexOf('/')
  const parent = slash <= 0 ? '/' : word.slice(0, slash)
  const prefix = word.slice(slash + 1)
  let children: string[]
  try {
    children = await listChildren(parent)
  } catch {
    // No such node, no permission, no connection: nothing to offer.
    return [[], word]
  }
  const base = parent === '/' ? '/' : `${parent}/`
  const hits = children
    .filter((child) => child.startsWith(prefix))
    .sort()
    .map((child) => base + child)
  return [hits, word]
}
