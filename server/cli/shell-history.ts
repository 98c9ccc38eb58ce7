/**
 * The interactive shell's history, kept across sessions in a file: one line per entry,
 * oldest first (as bash writes its history), at most HISTORY_SIZE lines.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { tokenize } from './shell-line.js'

/** HISTORY_ENV names the history file; set to the empty string, it turns the file off. */
export const HISTORY_ENV = 'CONCLAVE_HISTORY_FILE'

/** HISTORY_FILE_NAME is the history file in the home directory when HISTORY_ENV is unset. */
export const HISTORY_FILE_NAME = '.conclave_history'

/** HISTORY_SIZE is how many lines the shell remembers, in memory and in the file. */
export const HISTORY_SIZE = 1000

/** historyFilePath is $CONCLAVE_HISTORY_FILE, else ~/.conclave_history; undefined when the variable is set but empty. */
export function historyFilePath(
  env: NodeJS.ProcessEnv = process.env,
  home: string = homedir(),
): string | undefined {
  const fromEnv = env[HISTORY_ENV]
  if (fromEnv !== undefined) return fromEnv.trim() === '' ? undefined : fromEnv
  return join(home, HISTORY_FILE_NAME)
}

/**
 * keptInHistory tells whether a line is written to the file: not an `addauth`, whose
 * credentials should not sit in a file (the session's in-memory history still has it).
 */
export function keptInHistory(line: string): boolean {
  return tokenize(line)[0] !== 'addauth'
}

/** loadHistory reads the file, newest first as readline's `history` option wants it; empty if there is none. */
export function loadHistory(path: string): string[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return []
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-HISTORY_SIZE)
    .reverse()
}

/**
 * saveHistory writes readline's history (newest first) to the file, oldest first,
 * owner-readable only (commands name paths and data). Returns the error message if it
 * could not, so the shell can say so once.
 */
export function saveHistory(path: string, newestFirst: readonly string[]): string | undefined {
  const lines = newestFirst.filter(keptInHistory).slice(0, HISTORY_SIZE).reverse()
  try {
    writeFileSync(path, lines.map((line) => `${line}\n`).join(''), { mode: 0o600 })
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}
