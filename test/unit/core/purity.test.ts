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

const coreDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../server/core')

/** BANNED are the globals core code may not mention, with why. */
const BANNED: readonly [RegExp, string][] = [
  [/\bDate\b/, 'the clock (Date)'],
  [/\bperformance\b/, 'the clock (performance)'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask|clearTimeout|clearInterval)\b/, 'timers'],
  [/\bMath\s*\.\s*random\b/, 'randomness (Math.random)'],
  [/\bcrypto\b/, 'crypto'],
  [/\bprocess\b/, 'process'],
  [/\bconsole\b/, 'the console'],
  [/\brequire\s*\(/, 'require()'],
  [/\bimport\s*\(/, 'dynamic import'],
  [/\bglobalThis\b/, 'globalThis'],
  [/\b(WeakRef|FinalizationRegistry)\b/, 'garbage-collector-dependent behaviour'],
]

/**
 * codeOnly removes comments and the contents of string literals, keeping `${...}`
 * expressions of template literals (which are code), and returns what is left.
 */
function codeOnly(source: string): string {
  let out = ''
  let i = 0
  const templateDepth: number[] = [] // brace depth at which each open template's `${` began
  let braces = 0
  const n = source.length
  const readString = (quote: string) => {
    i++
    while (i < n && source[i] !== quote) i += source[i] === '\\' ? 2 : 1
    i++
    out += quote + quote
  }
  const readTemplate = () => {
    // Positioned just after a backtick or a closing `}` of an expression.
    while (i < n) {
      const ch = source[i]
      if (ch === '\\') i += 2
      else if (ch === '`') {
        i++
        out += '`'
        return
      } else if (ch === '$' && source[i + 1] === '{') {
        i += 2
        out += '${'
        templateDepth.push(braces)
        braces++
        return
      } else i++
    }
  }
  while (i < n) {
    const ch = source[i] as string
    const next = source[i + 1]
    if (ch === '/' && next === '/') {
      while (i < n && source[i] !== '\n') i++
    } else if (ch === '/' && next === '*') {
      i = source.indexOf('*/', i + 2)
      i = i < 0 ? n : i + 2
    } else if (ch === "'" || ch === '"') {
      readString(ch)
    } else if (ch === '`') {
      out += '`'
      i++
      readTemplate()
    } else if (ch === '{') {
      braces++
      out += ch
      i++
    } else if (ch === '}') {
      braces--
      i++
      if (templateDepth.length > 0 && templateDepth[templateDepth.length - 1] === braces) {
        templateDepth.pop()
        out += '}'
        readTemplate()
      } else out += '}'
    } else {
      out += ch
      i++
    }
  }
  return out
}

/** problems lists every purity violation in one file's source. */
function problems(file: string, source: string): string[] {
  const found: string[] = []
  for (const match of source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]/gm)) {
    const target = match[1] as string
    const allowed = /^\.\/[\w-]+\.js$/.test(target) || /^\.\.\/\.\.\/protocol\/[\w-]+\.js$/.test(target)
    if (!allowed) found.push(`${file}: imports '${target}' (only sibling core files and protocol/ are allowed)`)
  }
  for (const match of source.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) found.push(`${file}: side-effect import '${match[1]}'`)
  const code = codeOnly(source)
  for (const [pattern, what] of BANNED) if (pattern.test(code)) found.push(`${file}: uses ${what}`)
  return found
}

describe('server/core purity', () => {
  const files = readdirSync(coreDir).filter((f) => f.endsWith('.ts'))

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
