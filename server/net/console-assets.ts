/**
 * The web console's static files, as the client port serves them under `/ui/`. They
 * are read once, when the listener opens, from the build's `dist/ui/` (`npm run build`
 * bundles `ui/` there): three files that hold no data of their own, since the page reads
 * everything through `/status` and the SDK. Only these names are served, so no request
 * path ever reaches the file system.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** ConsoleAsset is one file of the console, held in memory. */
export interface ConsoleAsset {
  contentType: string
  body: Buffer
}

/** ConsoleAssets maps a path under /ui/ ('' for the page itself) to its file. */
export type ConsoleAssets = ReadonlyMap<string, ConsoleAsset>

/** CONSOLE_FILES are the console's files and their content types; `index.html` also answers `/ui/`. */
const CONSOLE_FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
}

/**
 * DEFAULT_CONSOLE_DIR is `dist/ui/` when this runs from the build (dist/server/net/).
 * From source (tsx) it is `ui/`, which holds no bundle: the console then answers that it
 * is not built.
 */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../ui/', import.meta.url))

/** loadConsoleAssets reads the console's files from `dir`, or returns undefined if any is missing (not built). */
export function loadConsoleAssets(dir: string = DEFAULT_CONSOLE_DIR): ConsoleAssets | undefined {
  const assets = new Map<string, ConsoleAsset>()
  for (const [name, contentType] of Object.entries(CONSOLE_FILES)) {
    try {
      assets.set(name, { contentType, body: readFileSync(join(dir, name)) })
    } catch {
      return undefined
    }
  }
  assets.set('', assets.get('index.html')!)
  return assets
}

/**
 * CONSOLE_HEADERS keep the page to its own files: scripts and styles from this origin
 * only, no framing; connections may go to any member (WebSocket and /status).
 */
export const CONSOLE_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss: http: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
}
