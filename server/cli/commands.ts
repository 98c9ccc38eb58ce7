/**
 * The `conclave` subcommands, in the order `conclave --help` lists them. Only their flag
 * definitions: each loads its implementation when it runs.
 */
import type { CommandModule } from 'yargs'
import { ensembleCommand } from './ensemble-command.js'
import { repairCommand } from './repair-command.js'
import { serverCommand } from './server-command.js'
import { shellCommand } from './shell-command.js'
import { statusCommand } from './status-command.js'

/** CONCLAVE_COMMANDS are the yargs modules of every subcommand. */
export const CONCLAVE_COMMANDS = [
  serverCommand,
  ensembleCommand,
  shellCommand,
  statusCommand,
  repairCommand,
] as unknown as readonly CommandModule[]
