/**
 * Wing-Gong-Lowe search for a linearization of one path's sub-history, with the
 * memoization of (linearized set, model state) that Lowe added and Porcupine uses.
 *
 * Layout follows Porcupine's `checkSingle`: call and return events of every op sit in
 * one doubly linked list sorted by time (calls before returns at equal times, since
 * intervals are closed). The search walks the list from the head; at a call it tries
 * to linearize that op next (the model must accept the observed output, and the new
 * configuration must be unseen), lifting the op's two events out of the list and
 * restarting at the head. Reaching a return event means the op it belongs to had to
 * be linearized already: backtrack. Unknown-outcome ops return at +Infinity, so they
 * may be placed anywhere after their call or, by sitting at the very end, never.
 *
 * Everything is typed arrays and an explicit stack (no recursion), so a few thousand
 * ops per path stay cheap. The search is deterministic for a given input order.
 */
import { effectiveReturnTime, type Operation } from './history.js'
import { ABSENT, stateKey, stepModel, type ZnodeState } from './model.js'

/** SearchBudget bounds one search; an exhausted budget makes the result 'unknown'. */
export interface SearchBudget {
  /** maxSteps is the most list positions the search may visit. */
  readonly maxSteps: number
  /** now and deadlineMs, when given, stop the search once now() >= deadlineMs. */
  readonly now?: () => number
  readonly deadlineMs?: number
}

/** SearchVerdict is the answer of one search. 'unknown' is never a pass. */
export type SearchVerdict = 'ok' | 'illegal' | 'unknown'

/** UnknownReason says which budget ran out. */
export type UnknownReason = 'step-budget' | 'time-budget'

/** SearchOutcome is what {@link searchLinearization} found. */
export interface SearchOutcome {
  readonly verdict: SearchVerdict
  readonly steps: number
  readonly unknownReason?: UnknownReason
  /**
   * longestPrefix holds indices into the input ops, in linearization order: the
   * longest sequence the search managed to place. On 'ok' it is a full
   * linearization of the known-outcome ops (unknown ones placed along the way).
   */
  readonly longestPrefix: readonly number[]
}

/** TIME_CHECK_INTERVAL_STEPS is how often (in steps) the search asks `now()`. */
const TIME_CHECK_INTERVAL_STEPS = 1024
const NONE = -1

/**
 * searchLinearization looks for a linearization of `ops` (all on one path, with
 * unknown-outcome reads already removed) against the znode model.
 */
export function searchLinearization(ops: readonly Operation[], budget: SearchBudget): SearchOutcome {
  const search = new Search(ops)
  return search.run(budget)
}

/** InternedStates maps equal model states to one small integer, for cheap memo keys. */
class InternedStates {
  private readonly idsByKey = new Map<string, number>()
  readonly states: ZnodeState[] = []

  idOf(state: ZnodeState): number {
    const key = stateKey(state)
    let id = this.idsByKey.get(key)
    if (id === undefined) {
      id = this.states.length
      this.states.push(state)
      this.idsByKey.set(key, id)
    }
    return id
  }
}

/**
 * MemoEntry is one visited configuration in a hash bucket. `finished` turns true when
 * the search backtracked out of it, i.e. no linearization continues from it.
 */
interface MemoEntry {
  readonly bits: Uint32Array
  readonly stateId: number
  finished: boolean
}

class Search {
  private readonly ops: readonly Operation[]
  private readonly opCount: number
  // Linked list of events: entry e < opCount is op e's call, e >= opCount op (e - opCount)'s return.
  private readonly next: Int32Array
  private readonly prev: Int32Array
  private readonly head: number
  private readonly bits: Uint32Array
  /** unknownMask has a bit for every unknown-outcome op; the memo treats those specially. */
  private readonly unknownMask: Uint32Array
  /** knownBitsHash hashes the linearized known-outcome ops only (see {@link remember}). */
  private knownBitsHash = 0
  private readonly memo = new Map<number, MemoEntry[]>()
  private readonly interned = new InternedStates()
  private knownRemaining = 0

  constructor(ops: readonly Operation[]) {
    this.ops = ops
    this.opCount = ops.length
    const entryCount = 2 * ops.length
    this.head = entryCount
    this.next = new Int32Array(entryCount + 1).fill(NONE)
    this.prev = new Int32Array(entryCount + 1).fill(NONE)
    this.bits = new Uint32Array(Math.ceil(ops.length / 32) + 1)
    this.unknownMask = new Uint32Array(this.bits.length)
    this.linkEventsInTimeOrder()
    ops.forEach((op, index) => {
      if (op.output !== null) this.knownRemaining += 1
      else this.unknownMask[index >>> 5] = (this.unknownMask[index >>> 5] as number) | (1 << (index & 31))
    })
  }

  run(budget: SearchBudget): SearchOutcome {
    const stackOps: number[] = []
    const stackStates: number[] = []
    const stackEntries: MemoEntry[] = []
    let best: number[] = []
    let stateId = this.interned.idOf(ABSENT)
    let steps = 0
    let entry = this.next[this.head] ?? NONE
    if (this.knownRemaining === 0) return { verdict: 'ok', steps, longestPrefix: [] }
    while (entry !== NONE) {
      steps += 1
      const exhausted = this.budgetExhausted(budget, steps)
      if (exhausted !== undefined) return { verdict: 'unknown', steps, unknownReason: exhausted, longestPrefix: best }
      if (entry < this.opCount) {
        const nextStateId = this.tryStep(entry, stateId)
        const memoEntry = nextStateId === NONE ? undefined : this.remember(entry, nextStateId)
        if (memoEntry !== undefined) {
          stackOps.push(entry)
          stackStates.push(stateId)
          stackEntries.push(memoEntry)
          stateId = nextStateId
          this.lift(entry)
          if (this.knownRemaining === 0) return { verdict: 'ok', steps, longestPrefix: stackOps }
          entry = this.next[this.head] ?? NONE
        } else {
          entry = this.next[entry] ?? NONE
        }
        continue
      }
      // A return event: its op was not linearized before its reply. Backtrack.
      if (stackOps.length > best.length) best = stackOps.slice()
      const lastOp = stackOps.pop()
      const lastState = stackStates.pop()
      const lastEntry = stackEntries.pop()
      if (lastOp === undefined || lastState === undefined || lastEntry === undefined) {
        return { verdict: 'illegal', steps, longestPrefix: best }
      }
      lastEntry.finished = true
      stateId = lastState
      this.unlift(lastOp)
      entry = this.next[lastOp] ?? NONE
    }
    // Unreachable while knownRemaining > 0: a known op's return event stops the walk first.
    return { verdict: 'ok', steps, longestPrefix: stackOps }
  }

  /**
   * tryStep returns the state id after linearizing `op` from `stateId`, or NONE when
   * the observed reply does not fit. (Skipping unknown ops that would change nothing
   * is sound but measured slower: placing them early takes them out of the list.)
   */
  private tryStep(op: number, stateId: number): number {
    const operation = this.ops[op] as Operation
    const nextState = stepModel(this.interned.states[stateId] as ZnodeState, operation.input, operation.output)
    return nextState === undefined ? NONE : this.interned.idOf(nextState)
  }

  private budgetExhausted(budget: SearchBudget, steps: number): UnknownReason | undefined {
    if (steps > budget.maxSteps) return 'step-budget'
    if (budget.now !== undefined && budget.deadlineMs !== undefined && steps % TIME_CHECK_INTERVAL_STEPS === 0) {
      if (budget.now() >= budget.deadlineMs) return 'time-budget'
    }
    return undefined
  }

  /** linkEventsInTimeOrder builds the event list: by time, calls before returns, then op order. */
  private linkEventsInTimeOrder(): void {
    const events: number[] = []
    for (let i = 0; i < this.opCount; i += 1) events.push(i, i + this.opCount)
    const timeOf = (e: number): number =>
      e < this.opCount ? (this.ops[e] as Operation).callTime : effectiveReturnTime(this.ops[e - this.opCount] as Operation)
    events.sort((a, b) => {
      const byTime = timeOf(a) - timeOf(b)
      if (byTime !== 0 && !Number.isNaN(byTime)) return byTime
      const aIsReturn = a >= this.opCount ? 1 : 0
      const bIsReturn = b >= this.opCount ? 1 : 0
      return aIsReturn - bIsReturn || a - b
    })
    let last = this.head
    for (const e of events) {
      this.next[last] = e
      this.prev[e] = last
      last = e
    }
  }

  /**
   * remember records the configuration reached by linearizing `op` and returns its
   * memo entry, or undefined when the configuration need not be explored:
   * - the same configuration (linearized set, state) was seen before (WGL memo), or
   * - a finished (failed) configuration had the same state and the same known-outcome
   *   ops linearized, with a subset of the unknown-outcome ones. Any linearization
   *   continuing from the new configuration would also continue from that one, since
   *   the extra unknown ops never have to return; so the new one fails too.
   * The hash covers only known-outcome ops and the state, so such pairs share a bucket.
   */
  private remember(op: number, stateId: number): MemoEntry | undefined {
    const word = op >>> 5
    const mask = 1 << (op & 31)
    const opHash = this.isUnknown(op) ? 0 : mixIndex(op)
    const hash = (this.knownBitsHash ^ opHash ^ Math.imul(stateId + 1, 0x9e3779b1)) >>> 0
    const bucket = this.memo.get(hash)
    this.bits[word] = (this.bits[word] as number) | mask
    const seenBefore = bucket !== undefined && bucket.some((seen) => seen.stateId === stateId && this.covers(seen))
    let entry: MemoEntry | undefined
    if (!seenBefore) {
      entry = { bits: this.bits.slice(), stateId, finished: false }
      if (bucket === undefined) this.memo.set(hash, [entry])
      else bucket.push(entry)
    }
    this.bits[word] = (this.bits[word] as number) & ~mask
    return entry
  }

  /** covers tells whether `seen` makes the current bitset's configuration redundant (see {@link remember}). */
  private covers(seen: MemoEntry): boolean {
    let equal = true
    for (let w = 0; w < this.bits.length; w += 1) {
      const current = this.bits[w] as number
      const old = seen.bits[w] as number
      if (current === old) continue
      equal = false
      const knownDiffer = (current ^ old) & ~(this.unknownMask[w] as number)
      const oldHasExtra = old & ~current
      if (knownDiffer !== 0 || oldHasExtra !== 0) return false
    }
    return equal || seen.finished
  }

  private isUnknown(op: number): boolean {
    return ((this.unknownMask[op >>> 5] as number) & (1 << (op & 31))) !== 0
  }

  /** lift marks `op` linearized and takes its call and return events out of the list. */
  private lift(op: number): void {
    this.bits[op >>> 5] = (this.bits[op >>> 5] as number) | (1 << (op & 31))
    if (this.isUnknown(op)) return this.unlinkEvents(op)
    this.knownBitsHash = (this.knownBitsHash ^ mixIndex(op)) >>> 0
    this.knownRemaining -= 1
    this.unlinkEvents(op)
  }

  private unlinkEvents(op: number): void {
    this.unlink(op)
    this.unlink(op + this.opCount)
  }

  /** unlift undoes {@link lift}, relinking in reverse order so the list is restored exactly. */
  private unlift(op: number): void {
    this.bits[op >>> 5] = (this.bits[op >>> 5] as number) & ~(1 << (op & 31))
    if (!this.isUnknown(op)) {
      this.knownBitsHash = (this.knownBitsHash ^ mixIndex(op)) >>> 0
      this.knownRemaining += 1
    }
    this.relink(op + this.opCount)
    this.relink(op)
  }

  private unlink(e: number): void {
    const before = this.prev[e] as number
    const after = this.next[e] as number
    this.next[before] = after
    if (after !== NONE) this.prev[after] = before
  }

  private relink(e: number): void {
    const before = this.prev[e] as number
    const after = this.next[e] as number
    this.next[before] = e
    if (after !== NONE) this.prev[after] = e
  }
}

/** mixIndex spreads an op index over 32 bits (a murmur3 finalizer) for Zobrist-style set hashing. */
function mixIndex(index: number): number {
  let h = Math.imul(index + 0x6b43a9b5, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

