/**
 * `conclave ensemble`: a local ensemble for development, one `conclave server` process
 * per member, each output line prefixed with its member. It restarts nothing: a member
 * that exits is reported and the others keep running. SIGINT or SIGTERM stops them all
 * (SIGTERM, then SIGKILL after a grace period) and exits 0.
 */
import type { CommandModule } from 'yargs'
import { DEFAULT_BASE_PORT, ENSEMBLE_SIZE_MAX } from './ensemble-defaults.js'

/** EnsembleArgs are the parsed flags of `conclave ensemble`. */
export interface EnsembleArgs {
  size: number
  data: string
  'base-port': number
  host: string
  'tick-ms'?: number
  'log-level'?: string
  pretty?: boolean
}

/** ensembleCommand is the yargs module for `conclave ensemble`. */
export const ensembleCommand: CommandModule<object, EnsembleArgs> = {
  command: 'ensemble',
  describe: 'run a local ensemble for development, one server process per member',
  builder: (y) =>
    y
      .option('size', {
        type: 'number',
        default: 3,
        describe: `number of members, 1-${ENSEMBLE_SIZE_MAX}`,
      })
      .option('data', {
        type: 'string',
        demandOption: true,
        describe: 'directory for the members (member-<i>/) and the shared secret',
      })
      .option('base-port', {
        type: 'number',
        default: DEFAULT_BASE_PORT,
        describe: 'client port of member 1; member i uses base+i-1, peer port base+100+i-1',
      })
      .option('host', {
        type: 'string',
        default: '127.0.0.1',
        describe: 'address every member binds to and advertises',
      })
      .option('tick-ms', { type: 'number', describe: 'tick length of every member' })
      .option('log-level', { type: 'string', describe: 'fatal|error|warn|info|debug|trace|silent' })
      .option('pretty', {
        type: 'boolean',
        describe: 'human-readable logs (default: when stdout is a terminal)',
      }),
  // Loaded here, not at the top, so the other commands start without loading it.
  handler: async (args) => (await import('./ensemble-run.js')).runEnsemble(args),
}
