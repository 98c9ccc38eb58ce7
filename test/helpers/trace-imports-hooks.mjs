// Module hooks (they run on Node's loader thread): report each resolved module on stderr.
import { writeSync } from 'node:fs'

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context)
  writeSync(2, `loaded ${result.url}\n`)
  return result
}
