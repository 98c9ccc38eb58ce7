/**
 * Conclave's own version, read from its package.json (found from this file's place,
 * so it is the same from source and from the build in dist/). yargs' default would read
 * the package.json nearest the current directory, which is the user's project.
 */
import { readFileSync } from 'node:fs'

/** PACKAGE_NAME is the name in the package.json this looks for. */
const PACKAGE_NAME = 'conclave'

/** conclaveVersion returns the version of the conclave package this code belongs to. */
export function conclaveVersion(): string {
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    const manifest = readManifest(new URL('package.json', dir))
    if (manifest?.name === PACKAGE_NAME && typeof manifest.version === 'string')
      return manifest.version
    if (dir.pathname === '/')
      throw new Error(`no ${PACKAGE_NAME} package.json above ${import.meta.url}`)
  }
}

function readManifest(file: URL): { name?: unknown; version?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown }
  } catch {
    return undefined
  }
}
