/**
 * The purity rule for server/core: no clock, timers, randomness, process, console,
 * crypto or I/O, and no imports but protocol/ and sibling core files. The test
 * strips comments and string contents with a small lexer (template expressions are
 * kept, since code can hide there), then scans every core file's code for banned
 * globals and every import for its target. The scanner is itself tested on samples
 * that must be flagged, so a broken scanner cannot pass silently.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { problems } from '../../helpers/purity-scan.js'

const coreDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../server/core')

describe('server/core purity', () => {
  // Recursive: a new subfolder is scanned too (the compile fence, tsconfig.pure.json, covers it as well).
  const files = readdirSync(coreDir, { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.ts'),
  )

  test('the core has the files this test is meant to scan', () => {
    expect(files).toContain('peer.ts')
    expect(files.length).toBeGreaterThanOrEqual(10)
  })

  test('no core file touches the clock, timers, randomness, process, console or anything outside protocol/', () => {
    const found = files.flatMap((f) => problems(f, readFileSync(join(coreDir, f), 'utf8')))
    expect(found).toEqual([])
  })

  test('the scanner flags each kind of violation, even inside template expressions', () => {
    const bad = [
      "import { readFileSync } from 'node:fs'",
      "import { x } from '../runtime/server.js'",
      "import 'reflect-metadata'",
      'const now = Date.now()',
      'const t = performance.now()',
      'setTimeout(() => {}, 1)',
      'const r = Math.random()',
      'const r = Math .random()',
      'crypto.randomUUID()',
      'process.env.CONCLAVE_SIM_BUG',
      'console.log(1)',
      'const s = `at ${Date.now()} ms`',
      'const s = `${`${console.log(1)}`}`',
    ]
    for (const line of bad) expect(problems('sample.ts', line), line).not.toEqual([])
  })

  test('the scanner ignores words in comments and strings', () => {
    const fine = [
      '// the runtime must process the Ready; Date and console are its business',
      '/* setTimeout, Math.random(), crypto */ const a = 1',
      "const s = 'process the Date'",
      'const s = `the ${a} process of Date`',
      "import type { Txn } from '../../protocol/index.js'",
      "import { assert } from './errors.js'",
    ]
    for (const line of fine) expect(problems('sample.ts', line), line).toEqual([])
  })
})
