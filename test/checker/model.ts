/**
 * The sequential specification of one znode, used by the linearizability search.
 *
 * The model knows nothing of parents, children or zxids: the checker splits a
 * history by path (P-compositionality), which is sound only when parents are
 * permanent and ops touch one path each. zxids stay out because they would couple
 * the paths (every write advances the global zxid).
 */
import type { FailureCode, OpInput, OpOutput } from './history.js'

/** ZnodeState is what the model knows about one path: absent, or a value at a version. */
export type ZnodeState =
  | { readonly exists: false }
  | { readonly exists: true; readonly value: string; readonly version: number }

/** ABSENT is the state of a path with no node; every path starts there. */
export const ABSENT: ZnodeState = Object.freeze({ exists: false })

/**
 * ModelOutcome is what the sequential spec answers to an input in a state: a failure
 * code, or success with the resulting version (create/set), nothing (delete), or the
 * node seen (read).
 */
export type ModelOutcome =
  | { readonly ok: false; readonly code: FailureCode }
  | { readonly ok: true; readonly kind: 'create' | 'set'; readonly version: number }
  | { readonly ok: true; readonly kind: 'delete' }
  | { readonly ok: true; readonly kind: 'read'; readonly state: ZnodeState }

/** ModelStep is the outcome of applying an input, and the state it leaves behind. */
export interface ModelStep {
  readonly outcome: ModelOutcome
  readonly next: ZnodeState
}

/**
 * applyInput runs one input against a state with ZooKeeper's rules: create on an
 * existing node is NODE_EXISTS; set/delete on a missing node is NO_NODE; an expected
 * version other than -1 that differs from the node's is BAD_VERSION; set increments
 * the version; create starts at 0 (also after a delete).
 */
export function applyInput(state: ZnodeState, input: OpInput): ModelStep {
  switch (input.kind) {
    case 'create':
      if (state.exists) return { outcome: { ok: false, code: 'NODE_EXISTS' }, next: state }
      return {
        outcome: { ok: true, kind: 'create', version: 0 },
        next: { exists: true, value: input.value, version: 0 },
      }
    case 'set': {
      const refusal = conditionalRefusal(state, input.expectedVersion)
      if (refusal !== undefined || !state.exists)
        return { outcome: { ok: false, code: refusal ?? 'NO_NODE' }, next: state }
      const version = state.version + 1
      return {
        outcome: { ok: true, kind: 'set', version },
        next: { exists: true, value: input.value, version },
      }
    }
    case 'delete': {
      const refusal = conditionalRefusal(state, input.expectedVersion)
      if (refusal !== undefined) return { outcome: { ok: false, code: refusal }, next: state }
      return { outcome: { ok: true, kind: 'delete' }, next: ABSENT }
    }
    case 'read':
      return { outcome: { ok: true, kind: 'read', state }, next: state }
  }
}

function conditionalRefusal(state: ZnodeState, expectedVersion: number): FailureCode | undefined {
  if (!state.exists) return 'NO_NODE'
  if (expectedVersion !== -1 && expectedVersion !== state.version) return 'BAD_VERSION'
  return undefined
}

/**
 * outcomeMatches tells whether an observed reply agrees with the model's outcome.
 * Optional fields the client did not record (a create's version, a read's version)
 * are not compared; a read failing with NO_NODE counts as seeing no node.
 */
export function outcomeMatches(outcome: ModelOutcome, observed: OpOutput): boolean {
  if (!outcome.ok) return !observed.ok && observed.code === outcome.code
  if (outcome.kind === 'read') return readMatches(outcome.state, observed)
  if (!observed.ok) return false
  if (outcome.kind === 'delete') return true
  return observed.version === undefined || observed.version === outcome.version
}

function readMatches(state: ZnodeState, observed: OpOutput): boolean {
  if (!observed.ok) return !state.exists // NO_NODE
  if (observed.exists !== state.exists) return false
  if (!state.exists) return true
  if (observed.value !== state.value) return false
  return observed.version === undefined || observed.version === state.version
}

/**
 * stepModel is the transition the search uses: the next state when the op may be
 * linearized here, else undefined. An unknown outcome (`observed` null) accepts
 * whatever the model answers, because nobody saw the reply.
 */
export function stepModel(
  state: ZnodeState,
  input: OpInput,
  observed: OpOutput | null,
): ZnodeState | undefined {
  const { outcome, next } = applyInput(state, input)
  if (observed !== null && !outcomeMatches(outcome, observed)) return undefined
  return next
}

/** stateKey renders a state as a string that is equal exactly when two states are equal. */
export function stateKey(state: ZnodeState): string {
  return state.exists ? `${state.version}:${state.value}` : '-'
}

/** describeState renders a state for people: `absent` or `"value"@version`. */
export function describeState(state: ZnodeState): string {
  return state.exists ? `${JSON.stringify(state.value)}@v${state.version}` : 'absent'
}

/** describeOutcome renders a model outcome for people, e.g. `ok v3`, `NO_NODE`, `saw "x"@v2`. */
export function describeOutcome(outcome: ModelOutcome): string {
  if (!outcome.ok) return outcome.code
  switch (outcome.kind) {
    case 'create':
    case 'set':
      return `ok v${outcome.version}`
    case 'delete':
      return 'ok'
    case 'read':
      return `saw ${describeState(outcome.state)}`
  }
}
