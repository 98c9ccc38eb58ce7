/**
 * `npm run sim`: the deterministic simulator's command line.
 *
 *   npm run sim -- --seeds 2000 [--steps 500] [--first 1] [--workers 2] [--stats] [--stop-at-first]
 *       runs seeds first..first+N-1; prints one line per failing seed and a last
 *       line `N seeds, K violations`; exits 1 when K > 0. --stop-at-first stops
 *       after the first failure (N is then the number of seeds run).
 *   npm run sim -- --seed 1234 [--steps 500] [--verbose]
 *       replays one seed identically and prints its trace hash (and, when it fails,
 *       the violation and the tail of the trace); --verbose prints every event.
 *
 * The fault switch comes from `--bug` or the environment variable CONCLAVE_SIM_BUG
 * (the core's ack-before-fsync, trunc-across-epoch, commit-without-quorum,
 * vote-ignores-zxid, apply-before-persist; the Ready executor's
 * runtime-send-before-persist).
 */
import yargs from 'yargs'
import { hideBin } from 'yargs/helpers'
import { PLANTED_BUGS, type PlantedBug } from './planted-bugs.js'
import { runSeed } from './run.js'
import { runSeeds } from './seed-loop.js'
import { failureLine, failureReport, figuresReport } from './summary.js'

/** DEFAULT_STEPS is the number of fault steps per seed. */
const DEFAULT_STEPS = 500

const argv = await yargs(hideBin(process.argv))
  .scriptName('sim')
  .usage('$0 --seeds N [--steps M] | --seed S')
  .option('seeds', { type: 'number', describe: 'run this many seeds' })
  .option('seed', { type: 'number', describe: 'replay one seed and print its trace hash' })
  .option('first', { type: 'number', default: 1, describe: 'first seed of a --seeds run' })
  .option('steps', {
    type: 'number',
    default: DEFAULT_STEPS,
    describe: 'fault steps (ticks) per seed',
  })
  .option('workers', { type: 'number', describe: 'worker threads (default: number of cores)' })
  .option('bug', {
    type: 'string',
    choices: PLANTED_BUGS,
    describe: 'turn on a deliberate protocol bug (or set CONCLAVE_SIM_BUG)',
  })
  .option('stop-at-first', {
    type: 'boolean',
    default: false,
    describe: 'stop handing out seeds after the first violation',
  })
  .option('stats', {
    type: 'boolean',
    default: false,
    describe: 'print the figures: seeds/s, faults per kind, recovery ticks',
  })
  .option('verbose', {
    type: 'boolean',
    default: false,
    describe: 'with --seed: print every trace line',
  })
  .check((a) => {
    if ((a.seeds === undefined) === (a.seed === undefined))
      throw new Error('give either --seeds N or --seed S')
    if (a.seeds !== undefined && (!Number.isSafeInteger(a.seeds) || a.seeds < 1))
      throw new Error('--seeds must be a positive integer')
    if (a.seed !== undefined && !Number.isSafeInteger(a.seed))
      throw new Error('--seed must be an integer')
    if (!Number.isSafeInteger(a.steps) || a.steps < 1)
      throw new Error('--steps must be a positive integer')
    if (a.workers !== undefined && (!Number.isSafeInteger(a.workers) || a.workers < 1))
      throw new Error('--workers must be a positive integer')
    return true
  })
  .strict()
  .help()
  .parseAsync()

const bug = resolveBug(argv.bug, process.env.CONCLAVE_SIM_BUG)
if (bug !== undefined) console.log(`fault switch on: ${bug}`)

if (argv.seed !== undefined) {
  const result = runSeed({
    seed: argv.seed,
    steps: argv.steps,
    bug,
    verbose: argv.verbose ? (line) => console.log(line) : undefined,
  })
  console.log(failureReport(result))
  if (argv.stats) console.log(JSON.stringify(result.stats, null, 2))
  process.exitCode = result.violation === undefined ? 0 : 1
} else {
  const seeds = argv.seeds as number
  const summary = await runSeeds({
    seeds,
    firstSeed: argv.first,
    steps: argv.steps,
    bug,
    ...(argv.workers === undefined ? {} : { workers: argv.workers }),
    stopAtFirstViolation: argv.stopAtFirst,
    onResult: (result) => {
      if (result.violation !== undefined) console.log(failureLine(result))
    },
  })
  if (argv.stats) console.log(figuresReport(summary))
  console.log(`${summary.results.length} seeds, ${summary.violations.length} violations`)
  process.exitCode = summary.violations.length === 0 ? 0 : 1
}

function resolveBug(flag: string | undefined, env: string | undefined): PlantedBug | undefined {
  const name = flag ?? (env === undefined || env === '' ? undefined : env)
  if (name === undefined) return undefined
  if (!(PLANTED_BUGS as readonly string[]).includes(name)) {
    console.error(`CONCLAVE_SIM_BUG: expected one of ${PLANTED_BUGS.join(', ')}, got ${name}`)
    process.exit(2)
  }
  return name as PlantedBug
}
