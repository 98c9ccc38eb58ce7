/**
 * `conclave shell`: an interactive shell, or one command with `-c "..."`.
 */
import type { CommandModule } from 'yargs'
import { withClientTlsFlags, type ClientTlsFlags } from './client-tls-flags.js'
import { SERVERS_DESCRIPTION } from './servers.js'
import { formatShellHelp } from './shell-commands.js'

/** ShellArgs are the parsed flags of `conclave shell`. */
export interface ShellArgs extends ClientTlsFlags {
  servers?: string
  c?: string
  'session-timeout-ms': number
  auth?: string[]
}

/** shellCommand is the yargs module for `conclave shell`. */
export const shellCommand: CommandModule<object, ShellArgs> = {
  command: 'shell',
  describe: 'interactive shell (or one command with -c)',
  builder: (y) =>
    withClientTlsFlags(y)
      .option('servers', { type: 'string', describe: SERVERS_DESCRIPTION })
      .option('c', { type: 'string', describe: 'run one command and exit, e.g. -c "get /app"' })
      .option('session-timeout-ms', {
        type: 'number',
        default: 10_000,
        describe: 'session timeout to ask for (the server clamps it)',
      })
      .option('auth', {
        type: 'string',
        array: true,
        describe: 'credentials sent on every connection, e.g. digest:user:password',
      })
      .epilogue(
        [
          'Commands in the shell (help <command> there shows its options):',
          ...formatShellHelp().map((l) => `  ${l}`),
        ].join('\n'),
      ),
  // Loaded here, not at the top, so other commands never load the SDK or the protocol.
  handler: async (args) => (await import('./shell-run.js')).runShell(args),
}
