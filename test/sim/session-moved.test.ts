/**
 * Simulator seeds 12278, 17555 and 18756 (the first 20,000-seed run on the shipped
 * client front) found sessions stuck answering SESSION_MOVED: a client left a member
 * after it had forwarded the session's claim, resumed on another member, and the stale
 * claim reached the leader after the new one. The leader then held the session as the
 * old member's, and every write through the new one failed. The front now closes a
 * connection after answering SESSION_MOVED (close code 4003), so the client reconnects
 * and claims again; the simulated client reports any reply on such a connection after
 * the SESSION_MOVED as a violation. These seeds fail without the close.
 */
import { expect, test } from 'vitest'
import { runSeed } from './run.js'

test.each([12278, 17555, 18756])(
  'seed %i: a session answered SESSION_MOVED reconnects instead of staying moved',
  (seed) => {
    expect(runSeed({ seed, steps: 500 }).violation).toBeUndefined()
  },
)
