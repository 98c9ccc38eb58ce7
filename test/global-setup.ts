/**
 * Before any test: build the product (`npm run build`), so every test that starts a
 * server process runs the JavaScript users run, never a stale build.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** setup runs once per `vitest run`, before the test files. */
export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: 'inherit',
  })
}
