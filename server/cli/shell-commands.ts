/**
 * The shell's commands as a user sees them: name, usage and one line of summary. One
 * table serves `help`, `conclave shell --help`, the usage printed after a bad line, the
 * "did you mean" suggestion and tab completion. It imports nothing, so `conclave shell
 * --help` can show it without loading the SDK or the protocol.
 */

/** ShellCommandInfo describes one shell command. */
export interface ShellCommandInfo {
  name: string
  /** aliases are other names for it (`exit` for `quit`). */
  aliases?: readonly string[]
  /** usage is the synopsis, e.g. `set <path> <data> [-v N]`. */
  usage: string
  /** summary says what it does, short enough for the usage and summary to fit 80 columns. */
  summary: string
  /** options explains the flags `[options]` in the usage stands for, a line each. */
  options?: readonly string[]
}

/** SHELL_COMMANDS lists every shell command, in the order help shows them. */
export const SHELL_COMMANDS: readonly ShellCommandInfo[] = [
  { name: 'ls', usage: 'ls [path]', summary: 'list the children of a node (default /)' },
  { name: 'get', usage: 'get <path>', summary: 'print the data of a node (UTF-8)' },
  { name: 'stat', usage: 'stat <path>', summary: 'print the Stat of a node' },
  {
    name: 'set',
    usage: 'set <path> <data> [-v N]',
    summary: 'replace the data (-v: if at version N)',
  },
  {
    name: 'create',
    usage: 'create [options] <path> [data]',
    summary: 'create a node (help create: the options)',
    options: [
      '-e ephemeral, -s sequential, -c container, -p create missing parents',
      '--ttl MS    delete it after MS without a change (persistent nodes)',
      '--acl ACL   its ACL, scheme:id:perms,..., e.g. world:anyone:r,auth::cdrwa',
    ],
  },
  { name: 'delete', usage: 'delete <path> [-v N]', summary: 'delete a childless node' },
  { name: 'deleteall', usage: 'deleteall <path>', summary: 'delete a node and its subtree' },
  { name: 'tree', usage: 'tree [path]', summary: 'print the subtree (default /)' },
  {
    name: 'watch',
    usage: 'watch <path> [options]',
    summary: 'print changes until Ctrl-C (help watch)',
    options: [
      '-r              the whole subtree',
      '--count N       stop after N events',
      '--from-zxid Z   first replay the changes after zxid Z (as printed: 0x1_0000000a)',
    ],
  },
  { name: 'sync', usage: 'sync [path]', summary: 'make this server catch up with the leader' },
  { name: 'getacl', usage: 'getacl <path>', summary: 'print the ACL (scheme:id:cdrwa)' },
  {
    name: 'setacl',
    usage: 'setacl <path> <acl> [-v N]',
    summary: 'replace the ACL, e.g. world:anyone:r',
  },
  {
    name: 'addauth',
    usage: 'addauth <scheme> <credentials>',
    summary: 'add an identity: addauth digest user:pw',
  },
  { name: 'help', usage: 'help [command]', summary: 'list the commands, or show one' },
  {
    name: 'quit',
    aliases: ['exit'],
    usage: 'quit',
    summary: 'leave the shell (also exit, Ctrl-D)',
  },
]

/** findShellCommand returns the command `name` names (an alias included), or undefined. */
export function findShellCommand(name: string): ShellCommandInfo | undefined {
  return SHELL_COMMANDS.find((c) => c.name === name || (c.aliases ?? []).includes(name))
}

/** shellCommandNames lists every name the shell accepts, aliases included. */
export function shellCommandNames(): string[] {
  return SHELL_COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])])
}

/** USAGE_WIDTH is the column the summaries start at when the usages are short enough. */
const USAGE_WIDTH = 32

/** formatShellHelp renders the command list, one line a command: usage, then summary. */
export function formatShellHelp(): string[] {
  return SHELL_COMMANDS.map((c) => `${c.usage.padEnd(USAGE_WIDTH - 2)}  ${c.summary}`)
}

/** usageLines are `usage: <synopsis>  <summary>` for one command, then its options indented. */
export function usageLines(command: ShellCommandInfo): string[] {
  return [
    `usage: ${command.usage}  ${command.summary}`,
    ...(command.options ?? []).map((l) => `  ${l}`),
  ]
}

/** editDistance is the Levenshtein distance between two words. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution))
    }
    previous = current
  }
  return previous[b.length]!
}

/**
 * closestShellCommand is the command a mistyped `word` most likely meant: one it is a
 * prefix of, else the nearest by edit distance if that is at most a third of the
 * longer word (rounded up, at least 1); undefined when nothing is that close.
 */
export function closestShellCommand(word: string): string | undefined {
  const names = shellCommandNames()
  const lower = word.toLowerCase()
  const exact = names.find((n) => n === lower)
  if (exact !== undefined) return exact
  const prefixed = names.find((n) => lower.length > 0 && n.startsWith(lower))
  if (prefixed !== undefined) return prefixed
  let best: { name: string; distance: number } | undefined
  for (const name of names) {
    const distance = editDistance(lower, name)
    if (best === undefined || distance < best.distance) best = { name, distance }
  }
  if (best === undefined) return undefined
  const allowed = Math.max(1, Math.ceil(Math.max(lower.length, best.name.length) / 3))
  return best.distance <= allowed ? best.name : undefined
}

/** unknownCommandMessage is the one line a line starting with an unknown command gets. */
export function unknownCommandMessage(word: string): string {
  const closest = closestShellCommand(word)
  const hint = closest === undefined ? '' : ` Did you mean '${closest}'?`
  return `unknown command '${word}'.${hint} Type 'help' for the list of commands.`
}
