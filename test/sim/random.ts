/**
 * SimRandom: the simulator's only source of randomness, a seeded xoshiro128**
 * generator (Blackman and Vigna) whose four words are filled by splitmix32 from the
 * seed. The same seed always gives the same stream, on every platform, because every
 * step is 32-bit integer arithmetic (`Math.imul`, `>>> 0`); no floating point feeds a
 * decision except through `float()`, which is itself derived from one integer.
 *
 * Separate concerns draw from separate streams (`fork`), so that adding a draw in,
 * say, the client workload does not shift every network decision after it.
 */

/** SimRandom is a seeded xoshiro128** generator with the helpers the simulator needs. */
export class SimRandom {
  private s0: number
  private s1: number
  private s2: number
  private s3: number

  /** The constructor seeds the generator from any safe integer (both 32-bit halves are used). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed))
      throw new RangeError(`seed must be a safe integer, got ${String(seed)}`)
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 0x1_0000_0000) >>> 0, 0x9e37_79b9)
    const next = (): number => {
      x = (x + 0x9e37_79b9) >>> 0
      let z = x
      z = Math.imul(z ^ (z >>> 16), 0x85eb_ca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2_ae35) >>> 0
      return (z ^ (z >>> 16)) >>> 0
    }
    this.s0 = next()
    this.s1 = next()
    this.s2 = next()
    this.s3 = next()
    // An all-zero state would stay zero forever.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1
  }

  /** nextU32 returns the next 32-bit unsigned integer of the stream. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0
    const t = this.s1 << 9
    this.s2 ^= this.s0
    this.s3 ^= this.s1
    this.s1 ^= this.s2
    this.s0 ^= this.s3
    this.s2 ^= t
    this.s3 = rotl(this.s3, 11)
    return result
  }

  /** float returns a number in [0, 1) with 32 bits of precision. */
  float(): number {
    return this.nextU32() / 0x1_0000_0000
  }

  /** int returns an integer in [0, n); n must be a positive integer. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0)
      throw new RangeError(`int(n): n must be a positive integer, got ${String(n)}`)
    return Math.floor(this.float() * n)
  }

  /** between returns an integer in [low, high], both ends included. */
  between(low: number, high: number): number {
    if (high < low) throw new RangeError(`between(${low}, ${high}): empty range`)
    return low + this.int(high - low + 1)
  }

  /** chance returns true with probability `p` (0 never, 1 always). */
  chance(p: number): boolean {
    return p > 0 && this.float() < p
  }

  /** pick returns a uniformly chosen element; throws on an empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick: empty list')
    return items[this.int(items.length)] as T
  }

  /** shuffled returns a new array with the items in a random order (Fisher-Yates). */
  shuffled<T>(items: readonly T[]): T[] {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const tmp = out[i] as T
      out[i] = out[j] as T
      out[j] = tmp
    }
    return out
  }

  /** fork returns an independent generator seeded from this one's next draws. */
  fork(): SimRandom {
    return new SimRandom(this.nextU32() * 0x20_0000 + (this.nextU32() >>> 11))
  }

  /** bytes returns `n` random bytes (for session passwords). */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = this.nextU32() & 0xff
    return out
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0
}
