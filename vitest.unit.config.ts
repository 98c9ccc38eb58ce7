/**
 * The fast test loop for developers (`npm run test:unit`): the unit, property and
 * scenario tests that run in-process, with no server process, child process or worker
 * thread, and none of the long seed sweeps. `npm test` (vitest.config.ts) still runs
 * everything, these included.
 *
 * Most files share their worker's module graph (isolate: false), which halves the run
 * on a 2-core machine: re-importing the server for each of ~85 files costs more than the
 * tests. The SDK tests that swap the global WebSocket keep a fresh graph per file,
 * because the SDK picks its WebSocket class at its first connection and keeps it.
 */
import { defineConfig } from 'vitest/config'

/** SOCKET_SWAPPING are the test files that install their own global WebSocket. */
const SOCKET_SWAPPING = ['test/unit/client/browser.test.ts', 'test/unit/client/liveness.test.ts']

/** IN_PROCESS lists the fast in-process tests. */
const IN_PROCESS = [
  'test/unit/**/*.test.ts',
  'test/scenario/**/*.test.ts',
  'test/checker/**/*.test.ts',
  // The storage tests on the in-memory disk; crash-images takes ~30 s, kill9 spawns servers.
  'test/storage/bit-flips.test.ts',
  'test/storage/install-crash.test.ts',
  // The simulator's quick checks; seeds and checker-wiring sweep many seeds (20-80 s),
  // determinism and bug-switches spawn processes.
  'test/sim/building-blocks.test.ts',
  'test/sim/invariants.test.ts',
  'test/sim/liveness.test.ts',
  'test/sim/snap-install-crash.test.ts',
]

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'shared', include: IN_PROCESS, exclude: SOCKET_SWAPPING, isolate: false },
      },
      { extends: true, test: { name: 'isolated', include: SOCKET_SWAPPING, isolate: true } },
    ],
  },
})
