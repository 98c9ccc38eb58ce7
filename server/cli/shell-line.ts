/**
 * One shell line: tokenizing (with quotes) and running it against a connected client.
 * Used by the interactive shell and by `conclave shell -c "..."`.
 */
import yargs from 'yargs'
import type { Client, Stat } from '../../client/index.js'
import { Perm, formatZxid, parseZxid, type Acl, type Zxid } from '../../protocol/index.js'
import {
  findShellCommand,
  formatShellHelp,
  unknownCommandMessage,
  usageLines,
  type ShellCommandInfo,
} from './shell-commands.js'
import { explainYargsMessage } from './yargs-messages.js'

/** ShellOutput is where a command writes its results. */
export interface ShellOutput {
  out(line: string): void
}

/** ShellUsageError is a line that does not parse as a command. */
export class ShellUsageError extends Error {
  override readonly name = 'ShellUsageError'
}

/** ShellArgumentError is one argument of a known command that does not parse; the usage follows it. */
class ShellArgumentError extends ShellUsageError {}

/** argText is a flag's value as typed (yargs gives a string, a number or true for a bare flag). */
function argText(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : ''
}

/** integerArg checks a numeric flag (yargs would pass NaN on); `flag` names it in the message. */
function integerArg(flag: string): (value: unknown) => number | undefined {
  return (value) => {
    if (value === undefined) return undefined
    const n = Number(argText(value))
    if (argText(value).trim() === '' || !Number.isInteger(n))
      throw new ShellArgumentError(`${flag} takes an integer, got '${argText(value)}'`)
    return n
  }
}

/** zxidArg reads `--from-zxid` with parseZxid. */
function zxidArg(value: unknown): Zxid | undefined {
  if (value === undefined) return undefined
  const zxid = parseZxid(argText(value))
  if (zxid === undefined)
    throw new ShellArgumentError(
      `--from-zxid takes a zxid as the shell prints it (0x1_0000000a), 0x hex or decimal; got '${argText(value)}'`,
    )
  return zxid
}

/** requiredPositionals lists the `<name>`s of a usage outside [optional] parts. */
function requiredPositionals(usage: string): string[] {
  return [...usage.replace(/\[[^\]]*\]/g, '').matchAll(/<([^>]+)>/g)].map((m) => `<${m[1]!}>`)
}

/**
 * explainYargs turns yargs' validation message into one line in the shell's words:
 * "missing <data>" rather than "Not enough non-option arguments: got 1, need at least 2".
 */
function explainYargs(message: string, command: ShellCommandInfo, tokens: string[]): string {
  const notEnough = /^Not enough non-option arguments: got (\d+)/.exec(message)
  if (notEnough !== null) {
    const missing = requiredPositionals(command.usage).slice(Number(notEnough[1]))
    return `missing ${missing.join(' ') || 'arguments'}`
  }
  return explainYargsMessage(message, tokens)
}

/** tokenize splits a line on whitespace, keeping "double" or 'single' quoted runs together. */
export function tokenize(line: string): string[] {
  const tokens: string[] = []
  const pattern = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g
  for (const match of line.matchAll(pattern)) {
    if (match[1] !== undefined) tokens.push(match[1].replace(/\\(.)/g, '$1'))
    else if (match[2] !== undefined) tokens.push(match[2])
    else tokens.push(match[3]!)
  }
  return tokens
}

const decoder = new TextDecoder()

/**
 * formatStat renders a Stat as `name = value` lines. Zxids are written as everywhere else
 * in Conclave, `0x<epoch>_<counter>` (formatZxid); the owner's session id in plain hex.
 */
export function formatStat(stat: Stat): string[] {
  const hex = (n: bigint) => `0x${n.toString(16)}`
  return [
    `czxid = ${formatZxid(stat.czxid)}`,
    `ctime = ${new Date(stat.ctime).toISOString()}`,
    `mzxid = ${formatZxid(stat.mzxid)}`,
    `mtime = ${new Date(stat.mtime).toISOString()}`,
    `pzxid = ${formatZxid(stat.pzxid)}`,
    `cversion = ${stat.cversion}`,
    `dataVersion = ${stat.version}`,
    `aclVersion = ${stat.aversion}`,
    `ephemeralOwner = ${hex(stat.ephemeralOwner)}`,
    `dataLength = ${stat.dataLength}`,
    `numChildren = ${stat.numChildren}`,
  ]
}

async function printTree(
  client: Client,
  path: string,
  depth: number,
  output: ShellOutput,
): Promise<void> {
  const name = depth === 0 ? path : path.slice(path.lastIndexOf('/') + 1)
  output.out(`${'  '.repeat(depth)}${name}`)
  for (const child of await client.children(path)) {
    await printTree(client, path === '/' ? `/${child}` : `${path}/${child}`, depth + 1, output)
  }
}

async function deleteAll(client: Client, path: string): Promise<void> {
  for (const child of await client.children(path))
    await deleteAll(client, path === '/' ? `/${child}` : `${path}/${child}`)
  if (path !== '/') await client.delete(path)
}

/** PERM_LETTERS are ZooKeeper's zkCli letters for the permission bits. */
const PERM_LETTERS: readonly [string, number][] = [
  ['c', Perm.CREATE],
  ['d', Perm.DELETE],
  ['r', Perm.READ],
  ['w', Perm.WRITE],
  ['a', Perm.ADMIN],
]

/**
 * parseAcl reads an ACL as zkCli writes it: comma-separated `scheme:id:perms`, perms
 * from `cdrwa`, e.g. `world:anyone:r,digest:alice:<hash>:cdrwa,auth::cdrwa`. The id may
 * contain colons (a digest id does); the scheme is before the first, perms after the last.
 */
export function parseAcl(text: string): Acl[] {
  return text.split(',').map((part) => {
    const first = part.indexOf(':')
    const last = part.lastIndexOf(':')
    if (first < 0 || last === first)
      throw new ShellUsageError(`ACL entry ${JSON.stringify(part)} is not scheme:id:perms`)
    let perms = 0
    for (const letter of part.slice(last + 1)) {
      const bit = PERM_LETTERS.find(([l]) => l === letter)?.[1]
      if (bit === undefined)
        throw new ShellUsageError(`unknown permission letter '${letter}' (use cdrwa)`)
      perms |= bit
    }
    return { scheme: part.slice(0, first), id: part.slice(first + 1, last), perms }
  })
}

/** formatAcl prints an ACL one entry a line, in the form parseAcl reads. */
export function formatAcl(acl: readonly Acl[]): string[] {
  return acl.map(
    (e) =>
      `${e.scheme}:${e.id}:${PERM_LETTERS.filter(([, bit]) => (e.perms & bit) !== 0)
        .map(([l]) => l)
        .join('')}`,
  )
}

/** parseAuth reads `scheme:credentials` (e.g. `digest:user:password`) for --auth and addauth. */
export function parseAuth(text: string): { scheme: string; credentials: string } {
  const colon = text.indexOf(':')
  // The message never quotes the text: it holds a password.
  if (colon <= 0)
    throw new ShellUsageError('auth must be scheme:credentials, e.g. digest:user:password')
  return { scheme: text.slice(0, colon), credentials: text.slice(colon + 1) }
}

/**
 * runShellLine parses and runs one line. `signal` stops long-running commands (watch).
 * Resolves to false when the line asks to quit. A line that does not parse throws
 * ShellUsageError: an unknown command gets one line with the closest command, bad
 * arguments one line saying what is wrong and then the command's usage.
 */
export async function runShellLine(
  client: Client,
  line: string,
  output: ShellOutput,
  signal?: AbortSignal,
): Promise<boolean> {
  const tokens = tokenize(line)
  if (tokens.length === 0) return true
  const command = findShellCommand(tokens[0]!)
  if (command === undefined) throw new ShellUsageError(unknownCommandMessage(tokens[0]!))
  let quit = false
  const parser = yargs()
    .scriptName('')
    .exitProcess(false)
    .strict()
    .help(false)
    .version(false)
    // A flag given twice takes its last value, as on the command line.
    .parserConfiguration({ 'duplicate-arguments-array': false })
    .fail((message: string | null, err: Error | undefined) => {
      // A failed command (NO_NODE, ...) passes through; a line that does not parse gets the usage.
      // (yargs wraps what a coerce function throws in its YError.)
      if (err !== undefined && !(err instanceof ShellArgumentError) && err.name !== 'YError')
        throw err
      const problem = err?.message ?? explainYargs(message ?? 'bad arguments', command, tokens)
      throw new ShellUsageError([`${command.name}: ${problem}`, ...usageLines(command)].join('\n'))
    })
    .command(
      'ls [path]',
      'list children',
      (y) => y.positional('path', { type: 'string', default: '/' }),
      async (a) => {
        for (const child of await client.children(a.path)) output.out(child)
      },
    )
    .command(
      'get <path>',
      'print data',
      (y) => y.positional('path', { type: 'string', demandOption: true }),
      async (a) => {
        const { data } = await client.get(a.path)
        output.out(decoder.decode(data))
      },
    )
    .command(
      'stat <path>',
      'print the Stat',
      (y) => y.positional('path', { type: 'string', demandOption: true }),
      async (a) => {
        const stat = await client.exists(a.path)
        if (stat === null) throw new ShellUsageError(`${a.path} does not exist`)
        for (const l of formatStat(stat)) output.out(l)
      },
    )
    .command(
      'set <path> <data>',
      'replace data',
      (y) =>
        y
          .positional('path', { type: 'string', demandOption: true })
          .positional('data', { type: 'string', demandOption: true })
          .option('v', {
            alias: 'version',
            type: 'string',
            default: '-1',
            coerce: integerArg('-v'),
          }),
      async (a) => {
        const stat = await client.set(a.path, a.data, { version: a.v })
        output.out(`version ${stat.version}`)
      },
    )
    .command(
      'create <path> [data]',
      'create a node',
      (y) =>
        y
          .positional('path', { type: 'string', demandOption: true })
          .positional('data', { type: 'string', default: '' })
          .option('e', { alias: 'ephemeral', type: 'boolean', default: false })
          .option('s', { alias: 'sequential', type: 'boolean', default: false })
          .option('c', { alias: 'container', type: 'boolean', default: false })
          .option('p', {
            alias: 'parents',
            type: 'boolean',
            default: false,
            describe: 'create missing parents',
          })
          .option('ttl', {
            type: 'string',
            describe: 'TTL in ms (persistent nodes only)',
            coerce: integerArg('--ttl'),
          })
          .option('acl', { type: 'string', describe: 'ACL as scheme:id:perms,...' }),
      async (a) => {
        if (a.c && (a.e || a.s)) throw new ShellUsageError('-c cannot be combined with -e or -s')
        const mode = a.c
          ? 'container'
          : a.e
            ? a.s
              ? 'ephemeral-sequential'
              : 'ephemeral'
            : a.s
              ? 'persistent-sequential'
              : 'persistent'
        const created = await client.create(a.path, String(a.data), {
          mode,
          makeParents: a.p,
          ...(a.ttl === undefined ? {} : { ttlMs: a.ttl }),
          ...(a.acl === undefined ? {} : { acl: parseAcl(a.acl) }),
        })
        output.out(created)
      },
    )
    .command(
      'delete <path>',
      'delete a childless node',
      (y) =>
        y.positional('path', { type: 'string', demandOption: true }).option('v', {
          alias: 'version',
          type: 'string',
          default: '-1',
          coerce: integerArg('-v'),
        }),
      async (a) => {
        await client.delete(a.path, { version: a.v })
      },
    )
    .command(
      'deleteall <path>',
      'delete a node and its subtree',
      (y) => y.positional('path', { type: 'string', demandOption: true }),
      async (a) => {
        await deleteAll(client, a.path)
      },
    )
    .command(
      'tree [path]',
      'print the subtree',
      (y) => y.positional('path', { type: 'string', default: '/' }),
      async (a) => {
        await printTree(client, a.path, 0, output)
      },
    )
    .command(
      'addauth <scheme> <credentials>',
      'add an identity to this session, e.g. addauth digest user:password',
      (y) =>
        y
          .positional('scheme', { type: 'string', demandOption: true })
          .positional('credentials', { type: 'string', demandOption: true }),
      async (a) => {
        await client.addAuth(a.scheme, a.credentials)
      },
    )
    .command(
      'getacl <path>',
      'print the ACL',
      (y) => y.positional('path', { type: 'string', demandOption: true }),
      async (a) => {
        const { acl, stat } = await client.getAcl(a.path)
        for (const l of formatAcl(acl)) output.out(l)
        output.out(`aversion ${stat.aversion}`)
      },
    )
    .command(
      'setacl <path> <acl>',
      'replace the ACL (scheme:id:perms,...)',
      (y) =>
        y
          .positional('path', { type: 'string', demandOption: true })
          .positional('acl', { type: 'string', demandOption: true })
          .option('v', {
            alias: 'version',
            type: 'string',
            default: '-1',
            coerce: integerArg('-v'),
          }),
      async (a) => {
        const stat = await client.setAcl(a.path, parseAcl(a.acl), { version: a.v })
        output.out(`aversion ${stat.aversion}`)
      },
    )
    .command(
      'sync [path]',
      'catch this server up with the leader',
      (y) => y.positional('path', { type: 'string', default: '/' }),
      async (a) => {
        await client.sync(a.path)
      },
    )
    .command(
      'watch <path>',
      'print changes until interrupted',
      (y) =>
        y
          .positional('path', { type: 'string', demandOption: true })
          .option('r', { alias: 'recursive', type: 'boolean', default: false })
          .option('count', {
            type: 'string',
            describe: 'stop after this many events',
            coerce: integerArg('--count'),
          })
          .option('from-zxid', {
            type: 'string',
            describe: 'replay the changes after this zxid first',
            coerce: zxidArg,
          }),
      async (a) => {
        let seen = 0
        const fromZxid = a['from-zxid']
        const options = {
          recursive: a.r,
          ...(signal === undefined ? {} : { signal }),
          ...(fromZxid === undefined ? {} : { fromZxid }),
        }
        for await (const event of client.watch(a.path, options)) {
          output.out(`${event.type} ${event.path} zxid=${formatZxid(event.zxid)}`)
          seen += 1
          if (a.count !== undefined && seen >= a.count) break
        }
      },
    )
    .command(
      ['quit', 'exit'],
      'leave the shell',
      () => {},
      () => {
        quit = true
      },
    )
    .command(
      'help [command]',
      'list commands',
      (y) => y.positional('command', { type: 'string' }),
      (a) => {
        if (a.command === undefined) {
          for (const l of formatShellHelp()) output.out(l)
          return
        }
        const named = findShellCommand(a.command)
        if (named === undefined) throw new ShellUsageError(unknownCommandMessage(a.command))
        for (const l of usageLines(named)) output.out(l)
      },
    )
  await parser.parseAsync(tokens)
  return !quit
}
