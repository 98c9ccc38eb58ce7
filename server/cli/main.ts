#!/usr/bin/env node
/**
 * The `conclave` command line: `server`, `ensemble`, `shell`, `status` and `repair`.
 *
 * server/cli is the composition root: it is the one part of server/ that may use the
 * client SDK (the shell and status are clients). Nothing else in server/ imports it.
 */
import yargs from 'yargs'
import { hideBin } from 'yargs/helpers'
import { serverCommand } from './server-command.js'
import { ensembleCommand } from './ensemble-command.js'
import { repairCommand } from './repair-command.js'
import { shellCommand } from './shell-command.js'
import { statusCommand } from './status-command.js'
import { conclaveVersion } from './version.js'

await yargs(hideBin(process.argv))
  .scriptName('conclave')
  // A flag given twice takes its last value, so wrappers can append overrides.
  .parserConfiguration({ 'duplicate-arguments-array': false })
  .command(serverCommand)
  .command(ensembleCommand)
  .command(shellCommand)
  .command(statusCommand)
  .command(repairCommand)
  .demandCommand(1, 'name a command: server, ensemble, shell, status or repair')
  .strict()
  .version(conclaveVersion())
  .help()
  .parseAsync()
