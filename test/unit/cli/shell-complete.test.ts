/**
 * Tab completion and the history file, without a terminal: what a Tab offers for a
 * command or a path, and what the history file keeps.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { completeShellLine } from '../../../server/cli/shell-complete.js'
import {
  HISTORY_SIZE,
  historyFilePath,
  loadHistory,
  saveHistory,
} from '../../../server/cli/shell-history.js'

const TREE: Record<string, string[]> = {
  '/': ['app', 'apps', 'zoo'],
  '/app': ['config', 'consumers', 'jobs'],
}

/** list answers like getChildren on TREE: NO_NODE for anything else. */
const list = (path: string) =>
  path in TREE ? Promise.resolve(TREE[path]!) : Promise.reject(new Error('NO_NODE'))

describe('tab completion', () => {
  it('completes the command name, with a space after a single match', async () => {
    expect(await completeShellLine('cre', list)).toEqual([['create '], 'cre'])
    expect(await completeShellLine('get', list)).toEqual([['get', 'getacl'], 'get'])
    expect(await completeShellLine('s', list)).toEqual([['set', 'setacl', 'stat', 'sync'], 's'])
    expect(await completeShellLine('x', list)).toEqual([[], 'x'])
  })

  it("completes a path from its parent's children on the server", async () => {
    expect(await completeShellLine('ls /app/co', list)).toEqual([
      ['/app/config', '/app/consumers'],
      '/app/co',
    ])
    expect(await completeShellLine('get /app/j', list)).toEqual([['/app/jobs'], '/app/j'])
    expect(await completeShellLine('ls /ap', list)).toEqual([['/app', '/apps'], '/ap'])
    expect(await completeShellLine('set -v 2 /z', list)).toEqual([['/zoo'], '/z'])
    // An empty word where the command takes a path starts from the root.
    expect(await completeShellLine('stat ', list)).toEqual([['/app', '/apps', '/zoo'], ''])
    // Not a path: data, a flag, or a command without a path.
    expect(await completeShellLine('set /app da', list)).toEqual([[], 'da'])
    expect(await completeShellLine('addauth ', list)).toEqual([[], ''])
    // A parent the server does not have (or cannot list) offers nothing.
    expect(await completeShellLine('ls /nothing/x', list)).toEqual([[], '/nothing/x'])
  })
})

describe('history file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'conclave-history-'))

  it('is $CONCLAVE_HISTORY_FILE, else ~/.conclave_history; an empty variable turns it off', () => {
    expect(historyFilePath({}, '/home/ann')).toBe('/home/ann/.conclave_history')
    expect(historyFilePath({ CONCLAVE_HISTORY_FILE: '/tmp/h' }, '/home/ann')).toBe('/tmp/h')
    expect(historyFilePath({ CONCLAVE_HISTORY_FILE: '' }, '/home/ann')).toBeUndefined()
  })

  it('keeps the newest lines, oldest first, owner-only, without addauth credentials', () => {
    const path = join(dir, 'history')
    expect(loadHistory(path)).toEqual([])
    expect(saveHistory(path, ['get /b', 'addauth digest bob:secret', 'ls /a'])).toBeUndefined()
    expect(readFileSync(path, 'utf8')).toBe('ls /a\nget /b\n')
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(loadHistory(path)).toEqual(['get /b', 'ls /a'])

    const many = Array.from({ length: HISTORY_SIZE + 50 }, (_, i) => `get /n${i}`)
    writeFileSync(path, many.join('\n') + '\n')
    const loaded = loadHistory(path)
    expect(loaded).toHaveLength(HISTORY_SIZE)
    expect(loaded[0]).toBe(`get /n${HISTORY_SIZE + 49}`)
    saveHistory(path, ['new', ...loaded])
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n')
    expect(lines).toHaveLength(HISTORY_SIZE)
    expect(lines.at(-1)).toBe('new')
  })

  it('reports a file it cannot write instead of throwing', () => {
    expect(saveHistory(join(dir, 'no-such-dir', 'history'), ['ls'])).toMatch(/ENOENT/)
  })
})
