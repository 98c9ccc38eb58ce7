/**
 * Where headless Chromium is for the browser consumer test: $CHROMIUM, or Debian's
 * `chromium` package (`.ci/run` installs it). Missing, the test fails and says how to
 * install it: a skipped browser test would hide a broken browser build.
 */
import { existsSync } from 'node:fs'

/** CHROMIUM_CANDIDATES are the places Debian and other distributions install it. */
const CHROMIUM_CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
]

/** chromiumPath returns the Chromium executable to use, or throws with how to install one. */
export function chromiumPath(): string {
  const configured = process.env.CHROMIUM
  if (configured !== undefined && configured !== '') return configured
  const found = CHROMIUM_CANDIDATES.find((path) => existsSync(path))
  if (found === undefined)
    throw new Error(
      `no Chromium found (looked at ${CHROMIUM_CANDIDATES.join(', ')}): install it (apt-get install chromium) or set CHROMIUM`,
    )
  return found
}

/** HEADLESS_ARGS start Chromium headless, as root in a container, with nothing of a user's profile. */
export const HEADLESS_ARGS: readonly string[] = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-extensions',
]
