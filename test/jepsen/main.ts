/**
 * `npm run jepsen -- --seconds 60 [--seed N] [--clients 20] [--keys 30] [--size 3]`:
 * one long Jepsen-style run from the command line; exits 1 when the check fails (the
 * summary names the artifacts folder).
 */
import { parseArgs } from 'node:util'
import { runJepsen } from './run.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string' },
    clients: { type: 'string', default: '20' },
    keys: { type: 'string', default: '30' },
    size: { type: 'string', default: '3' },
  },
})

const number = (name: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined
  const n = Number(text)
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(
      `jepsen: --${name} must be a non-negative integer, got ${JSON.stringify(text)}\n`,
    )
    process.exit(2)
  }
  return n
}

const seed = number('seed', values.seed)
const result = await runJepsen({
  seconds: number('seconds', values.seconds) ?? 60,
  clients: number('clients', values.clients) ?? 20,
  keys: number('keys', values.keys) ?? 30,
  size: number('size', values.size) ?? 3,
  ...(seed === undefined ? {} : { seed }),
  log: (line) => process.stdout.write(`jepsen: ${line}\n`),
})
process.stdout.write(`${result.summary}\n`)
process.stdout.write(result.ok ? 'jepsen: OK\n' : 'jepsen: FAILED\n')
process.exit(result.ok ? 0 : 1)
