// Preloaded with `node --import` by tests that check what a command loads: every module
// resolved after this point is written to stderr as a `loaded <url>` line.
import { register } from 'node:module'

register('./trace-imports-hooks.mjs', import.meta.url)
