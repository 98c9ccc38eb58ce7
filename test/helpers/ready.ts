/** readyOf builds a core Ready for runtime tests: empty but for `overrides`; mustSync follows its persistence unless given. */
import type { PersistWork, Ready } from '../../server/core/index.js'

export function readyOf(overrides: Partial<Ready> = {}): Ready {
  const persist: PersistWork = overrides.persist ?? { txns: [] }
  return {
    persist,
    send: [],
    sendAfterPersist: [],
    commit: [],
    commitDurable: 0,
    role: 'leading',
    leaderId: 1,
    established: true,
    becameEstablished: false,
    leaderLost: false,
    requests: [],
    readsReady: [],
    readsFailed: [],
    sessionsTouched: [],
    mustSync:
      persist.snapshot !== undefined ||
      persist.truncateAfter !== undefined ||
      persist.txns.length > 0 ||
      persist.epochs !== undefined,
    ...overrides,
  }
}
