#!/usr/bin/env node
/**
 * The `conclave` command line: `server`, `ensemble`, `shell`, `status` and `repair`.
 *
 * server/cli is the composition root: it is the one part of server/ that may use the
 * client SDK (the shell and status are clients). Nothing else in server/ imports it.
 */
import yargs, { type CommandModule } from 'yargs'
import { hideBin } from 'yargs/helpers'
import { CONCLAVE_COMMANDS } from './commands.js'
import { conclaveVersion } from './version.js'
import { explainYargsMessage } from './yargs-messages.js'

const args = hideBin(process.argv)
const commandNames = CONCLAVE_COMMANDS.map((c) => String(c.command).split(' ')[0]!)

await yargs(args)
  .scriptName('conclave')
  // A flag given twice takes its last value, so wrappers can append overrides.
  .parserConfiguration({ 'duplicate-arguments-array': false })
  .command(CONCLAVE_COMMANDS as CommandModule[])
  .demandCommand(1, 'name a command: server, ensemble, shell, status or repair')
  .strict()
  .recommendCommands()
  // One line saying what is wrong and where to look, instead of yargs' whole help
  // followed by its own message; a command that fails says why in one line too.
  .fail((message: string | null, err: Error | undefined) => {
    const name = args.find((a) => commandNames.includes(a))
    const problem =
      err !== undefined ? err.message : explainYargsMessage(message ?? 'bad arguments', args)
    process.stderr.write(`conclave${name === undefined ? '' : ` ${name}`}: ${problem}\n`)
    process.stderr.write(
      name === undefined
        ? "Run 'conclave --help' for the commands.\n"
        : `Run 'conclave ${name} --help' for its options.\n`,
    )
    process.exit(1)
  })
  .version(conclaveVersion())
  .help()
  .parseAsync()
