/**
 * `conclave repair --data DIR`: for an operator whose server refuses to start on a
 * damaged log. It shows what would be cut (and what intact-looking txns that loses);
 * only with `--yes` does it cut. Resync the repaired server from its peers afterwards.
 */
import type { CommandModule } from 'yargs'

interface RepairArgs {
  data: string
  yes: boolean
}

/** repairCommand is the yargs module for `conclave repair`. */
export const repairCommand: CommandModule<object, RepairArgs> = {
  command: 'repair',
  describe: 'truncate a damaged transaction log (shows what is lost; --yes to cut)',
  builder: (y) =>
    y
      .option('data', {
        type: 'string',
        demandOption: true,
        describe: 'the data directory of a stopped server',
      })
      .option('yes', {
        type: 'boolean',
        default: false,
        describe: 'really cut the log after the damage',
      }),
  handler: async (args) => {
    // Loaded here, not at the top, so the other commands start without loading storage.
    const { StorageError } = await import('../storage/errors.js')
    const { acquireDataDirLock } = await import('../storage/data-dir-lock.js')
    const { repairDataDir } = await import('../storage/repair.js')
    try {
      // A running server must not have its log cut under it.
      const lock = await acquireDataDirLock(args.data, { createIfMissing: false })
      const report = await repairDataDir(args.data, { dryRun: !args.yes }).finally(() =>
        lock.release(),
      )
      process.stdout.write(report.summary + '\n')
      if (report.damage !== undefined && !args.yes)
        process.stdout.write('Nothing was changed. Run again with --yes to cut the log there.\n')
    } catch (err) {
      process.stderr.write(
        `conclave repair: ${err instanceof StorageError ? err.message : String(err)}\n`,
      )
      process.exit(2)
    }
  },
}
