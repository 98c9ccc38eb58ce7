/**
 * Where the built `conclave` command is: integration tests run the product as users do,
 * from the JavaScript in dist/ (test/global-setup.ts builds it before any test runs).
 */
import { fileURLToPath } from 'node:url'

/** CONCLAVE_CLI is the built `conclave` entry point (package.json's `bin`). */
export const CONCLAVE_CLI = fileURLToPath(new URL('../../dist/server/cli/main.js', import.meta.url))
