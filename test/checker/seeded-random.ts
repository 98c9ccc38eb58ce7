/**
 * seededRandom: a replayable {@link RandomSource} drawn from fast-check's seeded
 * generator, so tests need no hand-written PRNG and a failing seed replays exactly.
 */
import fc from 'fast-check'
import type { RandomSource } from './simulated-history.js'

/** seededRandom returns a RandomSource whose draws depend only on `seed`. */
export function seededRandom(seed: number): RandomSource {
  const [stream] = fc.sample(
    fc.infiniteStream(fc.noBias(fc.integer({ min: 0, max: 0x7fff_ffff }))),
    { seed, numRuns: 1 },
  )
  if (stream === undefined) throw new Error('fast-check returned no sample')
  const draws = stream[Symbol.iterator]()
  return {
    int(maxExclusive: number): number {
      if (!Number.isInteger(maxExclusive) || maxExclusive < 1)
        throw new RangeError(`maxExclusive must be a positive integer, got ${maxExclusive}`)
      return (draws.next().value as number) % maxExclusive
    },
  }
}
