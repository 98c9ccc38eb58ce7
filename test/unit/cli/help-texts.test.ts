/**
 * Every option of every `conclave` subcommand says what it is for in `--help`: the
 * test renders each command's help as a user sees it and fails on an option line that
 * has a type but no description.
 */
import yargs, { type CommandModule } from 'yargs'
import { describe, expect, it } from 'vitest'
import { CONCLAVE_COMMANDS } from '../../../server/cli/commands.js'

/** helpOf renders `conclave <command> --help` without exiting, and lists the command's option keys. */
async function helpOf(command: CommandModule): Promise<{ text: string; keys: string[] }> {
  const name = String(command.command).split(' ')[0]!
  let text = ''
  const parser = yargs().scriptName('conclave').exitProcess(false).wrap(120).command(command).help()
  await parser.parseAsync([name, '--help'], {}, (_err, _argv, output) => {
    text = output
  })
  // The options the command's builder defines, as yargs records them (getOptions is
  // public on the instance, missing from @types/yargs).
  const built = (command.builder as (y: ReturnType<typeof yargs>) => unknown)(yargs()) as {
    getOptions(): { key: Record<string, boolean> }
  }
  const keys = Object.keys(built.getOptions().key)
  return { text, keys }
}

/** optionLine finds the help line that introduces `--key` (or `-k`). */
function optionLine(text: string, key: string): string | undefined {
  const flag = key.length === 1 ? `-${key}` : `--${key}`
  return text.split('\n').find((line) => new RegExp(`^\\s+(-\\w, )?${flag}(,|\\s|$)`).test(line))
}

describe('conclave --help texts', () => {
  it('covers every subcommand', () => {
    expect(CONCLAVE_COMMANDS.map((c) => String(c.command).split(' ')[0])).toEqual([
      'server',
      'ensemble',
      'shell',
      'status',
      'repair',
    ])
  })

  for (const command of CONCLAVE_COMMANDS) {
    const name = String(command.command).split(' ')[0]!
    it(`describes every option of conclave ${name}`, async () => {
      const { text, keys } = await helpOf(command)
      expect(keys.length).toBeGreaterThan(2)
      const undescribed = keys.filter((key) => {
        const line = optionLine(text, key)
        if (line === undefined) return true
        // What is left once the flag and the trailing [type] [default: ...] tags are gone.
        const rest = line
          .replace(/^\s+(-\w, )?-{1,2}[\w-]+/, '')
          .replace(/(\s*\[[^\]]*\])+\s*$/, '')
          .trim()
        return rest === ''
      })
      expect(undescribed, `options of conclave ${name} without a description:\n${text}`).toEqual([])
    })
  }
})
