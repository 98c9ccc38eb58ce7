/**
 * The purity rule for the rest of the replicated state machine: server/tree,
 * sessions, watches and requests may not touch the clock, timers, randomness, process,
 * console or I/O, and import only protocol/, their siblings and the layers below them
 * (design.md §3). Uses the same scanner as the core's purity test, whose own tests
 * show it flags every kind of violation.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { coreImportAllowed, problems } from '../helpers/purity-scan.js'

const serverDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../server')

/** LAYERS maps each pure layer to the other server layers it may import. */
const LAYERS: Record<string, { below: string[]; builtins: string[] }> = {
  tree: { below: [], builtins: ['node:zlib'] }, // crc32 is a pure function
  sessions: { below: [], builtins: [] },
  watches: { below: [], builtins: [] },
  requests: { below: ['tree', 'sessions', 'watches'], builtins: [] },
  member: { below: ['core', 'requests', 'tree', 'sessions', 'watches'], builtins: [] },
}

describe.each(Object.entries(LAYERS))('server/%s purity', (layer, { below, builtins }) => {
  const dir = join(serverDir, layer)
  // Recursive: a new subfolder is scanned too (the compile fence, tsconfig.pure.json, covers it as well).
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.ts'),
  )
  const allowed = (target: string) =>
    coreImportAllowed(target) ||
    builtins.includes(target) ||
    below.some((b) => new RegExp(`^\\.\\./${b}/[\\w-]+\\.js$`).test(target))

  test('has files to scan', () => {
    expect(files.length).toBeGreaterThan(0)
  })

  test('touches no clock, timer, randomness, process, console or I/O, and imports only downwards', () => {
    const found = files.flatMap((f) =>
      problems(
        `${layer}/${f}`,
        readFileSync(join(dir, f), 'utf8'),
        allowed,
        `protocol/, siblings, ${[...below, ...builtins].join(', ') || 'nothing else'}`,
      ),
    )
    expect(found).toEqual([])
  })

  test('an upward import would be caught', () => {
    expect(
      problems('x.ts', "import { MemberServer } from '../runtime/member-server.js'", allowed),
    ).not.toEqual([])
  })
})
