/**
 * The purity rule for server/tree and server/requests: no clock, timers, randomness,
 * process, console or I/O, and imports only along the allowed layers (tree: siblings,
 * protocol/ and node:zlib for the digest's CRC; requests: siblings, protocol/ and
 * server/tree). It reuses the comment- and string-aware scanner the core purity test
 * checks against flagged samples, with this layer's import rule.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { problems } from '../../helpers/purity-scan.js'

const serverDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../server')
const sibling = /^\.\/[\w-]+\.js$/
const protocol = /^\.\.\/\.\.\/protocol\/[\w-]+\.js$/
const tree = /^\.\.\/tree\/[\w-]+\.js$/

const layers = {
  tree: { allowed: (t: string) => sibling.test(t) || protocol.test(t) || t === 'node:zlib', what: 'siblings, protocol/ and node:zlib' },
  requests: { allowed: (t: string) => sibling.test(t) || protocol.test(t) || tree.test(t), what: 'siblings, protocol/ and server/tree' },
} as const

describe('server/tree and server/requests purity', () => {
  for (const [layer, rule] of Object.entries(layers)) {
    test(`server/${layer} touches no clock, timers, randomness, process, console or I/O, and imports only ${rule.what}`, () => {
      const dir = join(serverDir, layer)
      const files = readdirSync(dir).filter((f) => f.endsWith('.ts'))
      expect(files.length).toBeGreaterThanOrEqual(4)
      const found = files.flatMap((f) => problems(`${layer}/${f}`, readFileSync(join(dir, f), 'utf8'), rule.allowed, rule.what))
      expect(found).toEqual([])
    })
  }

  test('the layer rules refuse what they must', () => {
    expect(problems('x.ts', "import { readFileSync } from 'node:fs'", layers.tree.allowed, '')).not.toEqual([])
    expect(problems('x.ts', "import { DataTree } from '../requests/txn-builder.js'", layers.tree.allowed, '')).not.toEqual([])
    expect(problems('x.ts', "import { x } from '../runtime/server.js'", layers.requests.allowed, '')).not.toEqual([])
    expect(problems('x.ts', 'const now = Date.now()', layers.requests.allowed, '')).not.toEqual([])
    expect(problems('x.ts', "import { crc32 } from 'node:zlib'", layers.requests.allowed, '')).not.toEqual([])
  })
})
