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
 * One reduction on top (see findStatePreserving): a candidate whose known reply
 * leaves the state unchanged (a read, a definite failure) and fits the current state
 * is placed at once, as the only option; backtracking over it backtracks its parent
 * too. On simulated single-path histories this cut the steps of legal checks about
 * tenfold and made illegal ones fail fast.
 *
 * Limits, measured: legal histories of thousands of ops per path check in tens of
 * thousands of steps. Proving a history illegal means exhausting every configuration
 * before the bad op; on one busy path (10 clients) with 5% unknown outcomes this can
 * exceed millions of steps, since every pending unknown write doubles the choices.
 * The budget then yields 'unknown', which callers treat as a failure.
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
export function searchLinearization(
  ops: readonly Operation[],
  budget: SearchBudget,
): SearchOutcome {
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

/** Frame is one placed op on the search stack; `forced` marks a placement that was the only option. */
interface Frame {
  readonly op: number
  readonly previousStateId: number
  readonly forced: boolean
}

/** MemoEntry is one visited configuration in a hash bucket. */
interface MemoEntry {
  readonly bits: Uint32Array
  readonly stateId: number
}

class Search {
  private readonly ops: readonly Operation[]
  private readonly opCount: number
  // Linked list of events: entry e < opCount is op e's call, e >= opCount op (e - opCount)'s return.
  private readonly next: Int32Array
  private readonly prev: Int32Array
  private readonly head: number
  private readonly bits: Uint32Array
  /** bitsHash is a Zobrist-style hash of `bits`: the XOR of mixIndex over linearized ops. */
  private bitsHash = 0
  private readonly memo = new Map<number, MemoEntry[]>()
  private readonly interned = new InternedStates()
  private knownRemaining = 0
  private steps = 0
  private nextTimeCheckStep = TIME_CHECK_INTERVAL_STEPS

  constructor(ops: readonly Operation[]) {
    this.ops = ops
    this.opCount = ops.length
    const entryCount = 2 * ops.length
    this.head = entryCount
    this.next = new Int32Array(entryCount + 1).fill(NONE)
    this.prev = new Int32Array(entryCount + 1).fill(NONE)
    this.bits = new Uint32Array(Math.ceil(ops.length / 32) + 1)
    this.linkEventsInTimeOrder()
    for (const op of ops) if (op.output !== null) this.knownRemaining += 1
  }

  run(budget: SearchBudget): SearchOutcome {
    const frames: Frame[] = []
    let best: number[] = []
    let stateId = this.interned.idOf(ABSENT)
    let entry = this.next[this.head] ?? NONE
    let atHead = true
    if (this.knownRemaining === 0) return { verdict: 'ok', steps: 0, longestPrefix: [] }
    for (;;) {
      this.steps += 1
      const exhausted = this.budgetExhausted(budget)
      if (exhausted !== undefined)
        return {
          verdict: 'unknown',
          steps: this.steps,
          unknownReason: exhausted,
          longestPrefix: best,
        }
      let placed: { op: number; nextStateId: number; forced: boolean } | undefined
      let mustBacktrack = entry === NONE || entry >= this.opCount
      if (atHead) {
        atHead = false
        const forced = this.findStatePreserving(stateId)
        if (forced !== NONE) {
          placed = { op: forced, nextStateId: stateId, forced: true }
          mustBacktrack = true // if the forced op cannot go here, nothing can (see findStatePreserving)
        }
      }
      if (placed === undefined && !mustBacktrack) {
        const nextStateId = this.tryStep(entry, stateId)
        if (nextStateId !== NONE) placed = { op: entry, nextStateId, forced: false }
      }
      if (placed !== undefined && this.remember(placed.op, placed.nextStateId)) {
        frames.push({ op: placed.op, previousStateId: stateId, forced: placed.forced })
        stateId = placed.nextStateId
        this.lift(placed.op)
        if (this.knownRemaining === 0)
          return { verdict: 'ok', steps: this.steps, longestPrefix: frames.map((f) => f.op) }
        entry = this.next[this.head] ?? NONE
        atHead = true
        continue
      }
      if (!mustBacktrack) {
        entry = this.next[entry] ?? NONE
        continue
      }
      // A return event (or a forced op that leads nowhere): backtrack. Popping a forced
      // frame proves the configuration below it failed too, so keep popping.
      if (frames.length > best.length) best = frames.map((f) => f.op)
      let frame: Frame | undefined
      do {
        frame = frames.pop()
        if (frame === undefined)
          return { verdict: 'illegal', steps: this.steps, longestPrefix: best }
        stateId = frame.previousStateId
        this.unlift(frame.op)
      } while (frame.forced)
      entry = this.next[frame.op] ?? NONE
    }
  }

  /**
   * findStatePreserving returns a candidate (an op called before the first pending
   * return) that has a known reply which leaves the state unchanged and fits it: a read
   * of the current state or a definite failure. Placing such an op now is never
   * worse than placing it later, because it changes nothing anywhere (reads and
   * failures never change state in any state); so the configuration succeeds iff the
   * one with it placed does, and the search need not try the other candidates.
   */
  private findStatePreserving(stateId: number): number {
    for (
      let e = this.next[this.head] ?? NONE;
      e !== NONE && e < this.opCount;
      e = this.next[e] ?? NONE
    ) {
      this.steps += 1
      const op = this.ops[e] as Operation
      if (op.output === null || (op.input.kind !== 'read' && op.output.ok)) continue
      if (this.tryStep(e, stateId) === stateId) return e
    }
    return NONE
  }

  /**
   * tryStep returns the state id after linearizing `op` from `stateId`, or NONE when
   * the observed reply does not fit. (Skipping unknown ops that would change nothing
   * is sound but measured slower: placing them early takes them out of the list.)
   */
  private tryStep(op: number, stateId: number): number {
    const operation = this.ops[op] as Operation
    const nextState = stepModel(
      this.interned.states[stateId] as ZnodeState,
      operation.input,
      operation.output,
    )
    return nextState === undefined ? NONE : this.interned.idOf(nextState)
  }

  private budgetExhausted(budget: SearchBudget): UnknownReason | undefined {
    if (this.steps > budget.maxSteps) return 'step-budget'
    if (
      budget.now !== undefined &&
      budget.deadlineMs !== undefined &&
      this.steps >= this.nextTimeCheckStep
    ) {
      this.nextTimeCheckStep = this.steps + TIME_CHECK_INTERVAL_STEPS
      if (budget.now() >= budget.deadlineMs) return 'time-budget'
    }
    return undefined
  }

  /** linkEventsInTimeOrder builds the event list: by time, calls before returns, then op order. */
  private linkEventsInTimeOrder(): void {
    const events: number[] = []
    for (let i = 0; i < this.opCount; i += 1) events.push(i, i + this.opCount)
    const timeOf = (e: number): number =>
      e < this.opCount
        ? (this.ops[e] as Operation).callTime
        : effectiveReturnTime(this.ops[e - this.opCount] as Operation)
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
   * remember records the configuration (linearized set, state) reached by linearizing
   * `op`; false when it was seen before: then it failed already (it cannot be on the
   * stack, where every configuration is smaller).
   */
  private remember(op: number, stateId: number): boolean {
    const word = op >>> 5
    const mask = 1 << (op & 31)
    const hash = (this.bitsHash ^ mixIndex(op) ^ Math.imul(stateId + 1, 0x9e3779b1)) >>> 0
    const bucket = this.memo.get(hash)
    this.bits[word] = (this.bits[word] as number) | mask
    const seenBefore =
      bucket !== undefined &&
      bucket.some((seen) => seen.stateId === stateId && sameBits(seen.bits, this.bits))
    if (!seenBefore) {
      const entry: MemoEntry = { bits: this.bits.slice(), stateId }
      if (bucket === undefined) this.memo.set(hash, [entry])
      else bucket.push(entry)
    }
    this.bits[word] = this.bits[word] & ~mask
    return !seenBefore
  }

  /** lift marks `op` linearized and takes its call and return events out of the list. */
  private lift(op: number): void {
    this.bits[op >>> 5] = (this.bits[op >>> 5] as number) | (1 << (op & 31))
    this.bitsHash = (this.bitsHash ^ mixIndex(op)) >>> 0
    if (this.ops[op]?.output !== null) this.knownRemaining -= 1
    this.unlink(op)
    this.unlink(op + this.opCount)
  }

  /** unlift undoes {@link lift}, relinking in reverse order so the list is restored exactly. */
  private unlift(op: number): void {
    this.bits[op >>> 5] = (this.bits[op >>> 5] as number) & ~(1 << (op & 31))
    this.bitsHash = (this.bitsHash ^ mixIndex(op)) >>> 0
    if (this.ops[op]?.output !== null) this.knownRemaining += 1
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

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false
  return true
}
