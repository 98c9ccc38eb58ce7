/**
 * The shell's line parsing as a user meets it: a mistyped command gets the closest one
 * and `help`, bad arguments one line and the command's usage (never yargs' own text),
 * `help` lists every command, and `watch --from-zxid` takes the zxid the shell prints.
 */
import { describe, expect, it } from 'vitest'
import type { Client } from '../../../client/index.js'
import { formatZxid, makeZxid } from '../../../protocol/index.js'
import {
  SHELL_COMMANDS,
  closestShellCommand,
  formatShellHelp,
  usageLines,
} from '../../../server/cli/shell-commands.js'
import { runShellLine, ShellUsageError } from '../../../server/cli/shell-line.js'

/** calls records what the fake client was asked. */
interface Recorded {
  calls: [string, ...unknown[]][]
}

/** fakeClient answers the calls the tests make and records them. */
function fakeClient(recorded: Recorded): Client {
  const record =
    (name: string, result: unknown) =>
    (...args: unknown[]) => {
      recorded.calls.push([name, ...args])
      return Promise.resolve(result)
    }
  const results: Record<string, unknown> = { set: { version: 1 }, children: [], create: '/x' }
  const watch = (path: string, options: unknown) => {
    recorded.calls.push(['watch', path, options])
    return (async function* () {
      yield { type: 'dataChanged', path, zxid: makeZxid(1, 7) }
    })()
  }
  return new Proxy({} as Client, {
    get: (_, name: string) => (name === 'watch' ? watch : record(name, results[name])),
  })
}

/** run runs one line and returns its output lines, or the usage error's lines. */
async function run(line: string, recorded: Recorded = { calls: [] }): Promise<string[]> {
  const lines: string[] = []
  try {
    await runShellLine(fakeClient(recorded), line, { out: (l) => lines.push(l) })
  } catch (err) {
    if (!(err instanceof ShellUsageError)) throw err
    return ['error', ...err.message.split('\n')]
  }
  return lines
}

describe('shell lines', () => {
  it('answers an unknown command with the closest one and help, in one line', async () => {
    expect(await run('lss /')).toEqual([
      'error',
      "unknown command 'lss'. Did you mean 'ls'? Type 'help' for the list of commands.",
    ])
    expect(await run('crate /a')).toEqual([
      'error',
      "unknown command 'crate'. Did you mean 'create'? Type 'help' for the list of commands.",
    ])
    expect(await run('frobnicate /x')).toEqual([
      'error',
      "unknown command 'frobnicate'. Type 'help' for the list of commands.",
    ])
    expect(closestShellCommand('del')).toBe('delete')
    expect(closestShellCommand('qiut')).toBe('quit')
  })

  it("answers bad arguments with one line and the command's usage, not yargs' text", async () => {
    const usage = (name: string) => usageLines(SHELL_COMMANDS.find((c) => c.name === name)!)
    expect(await run('get /a frobnicate /x')).toEqual([
      'error',
      'get: unexpected frobnicate, /x',
      ...usage('get'),
    ])
    expect(await run('set /a')).toEqual(['error', 'set: missing <data>', ...usage('set')])
    expect(await run('setacl')).toEqual([
      'error',
      'setacl: missing <path> <acl>',
      ...usage('setacl'),
    ])
    expect(await run('set /a b -v two')).toEqual([
      'error',
      "set: -v takes an integer, got 'two'",
      ...usage('set'),
    ])
    expect(await run('create /a --frob -q')).toEqual([
      'error',
      'create: unexpected --frob, -q',
      ...usage('create'),
    ])
    expect(await run('watch /a --from-zxid later')).toEqual([
      'error',
      "watch: --from-zxid takes a zxid as the shell prints it (0x1_0000000a), 0x hex or decimal; got 'later'",
      ...usage('watch'),
    ])
    for (const lines of [await run('get /a frobnicate'), await run('set /a')])
      expect(lines.join('\n')).not.toMatch(/Unknown argument|non-option/)
  })

  it('runs well-formed lines with their flags', async () => {
    const recorded: Recorded = { calls: [] }
    expect(await run('set /a b', recorded)).toEqual(['version 1'])
    expect(await run('set /a b -v 3', recorded)).toEqual(['version 1'])
    expect(await run('create --ttl 500 /t x', recorded)).toEqual(['/x'])
    expect(recorded.calls).toEqual([
      ['set', '/a', 'b', { version: -1 }],
      ['set', '/a', 'b', { version: 3 }],
      ['create', '/t', 'x', { mode: 'persistent', makeParents: false, ttlMs: 500 }],
    ])
  })

  it('lists every command in help, one line each, and shows one with help <command>', async () => {
    const lines = await run('help')
    expect(lines).toEqual(formatShellHelp())
    expect(lines).toHaveLength(SHELL_COMMANDS.length)
    for (const command of SHELL_COMMANDS)
      expect(lines.some((l) => l.startsWith(command.usage))).toBe(true)
    expect(await run('help set')).toEqual([
      'usage: set <path> <data> [-v N]  replace the data (-v: if at version N)',
    ])
    expect(await run('help create')).toHaveLength(4)
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(78)
    expect((await run('help sett'))[1]).toMatch(/Did you mean 'set'/)
  })

  it('knows every command help lists', async () => {
    // A command in the table the parser does not define would fail as "unexpected".
    for (const command of SHELL_COMMANDS) {
      for (const name of [command.name, ...(command.aliases ?? [])]) {
        const lines = await run(name)
        expect(lines.join('\n'), name).not.toMatch(/unexpected|unknown command/)
      }
    }
  })

  it('watch --from-zxid takes the zxid as printed, 0x hex or decimal', async () => {
    const zxid = makeZxid(1, 10)
    for (const form of [formatZxid(zxid), '0x10000000a', '4294967306']) {
      const recorded: Recorded = { calls: [] }
      expect(await run(`watch /a --count 1 --from-zxid ${form}`, recorded)).toEqual([
        'dataChanged /a zxid=0x1_00000007',
      ])
      expect(recorded.calls).toEqual([['watch', '/a', { recursive: false, fromZxid: zxid }]])
    }
  })
})
