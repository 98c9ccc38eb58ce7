/**
 * The per-path znode model the linearizability search runs against. Goal: its rules
 * match ZooKeeper's (NODE_EXISTS, NO_NODE, BAD_VERSION, version counting, restart at 0
 * after delete) and its reply comparison accepts exactly the replies those rules allow.
 * Method: one table of transitions, then the matcher on fitting and unfitting replies.
 */
import { describe, expect, it } from 'vitest'
import { del, read, set } from './history-builder.js'
import { ABSENT, applyInput, outcomeMatches, stepModel, type ZnodeState } from './model.js'

const at = (value: string, version: number): ZnodeState => ({ exists: true, value, version })

describe('applyInput', () => {
  it('follows ZooKeeper rules for create, set, delete and read', () => {
    const cases: [ZnodeState, Parameters<typeof applyInput>[1], unknown, ZnodeState][] = [
      [
        ABSENT,
        { kind: 'create', path: '/a', value: 'x' },
        { ok: true, kind: 'create', version: 0 },
        at('x', 0),
      ],
      [
        at('x', 3),
        { kind: 'create', path: '/a', value: 'y' },
        { ok: false, code: 'NODE_EXISTS' },
        at('x', 3),
      ],
      [ABSENT, set('/a', 'y'), { ok: false, code: 'NO_NODE' }, ABSENT],
      [ABSENT, set('/a', 'y', 0), { ok: false, code: 'NO_NODE' }, ABSENT],
      [at('x', 3), set('/a', 'y'), { ok: true, kind: 'set', version: 4 }, at('y', 4)],
      [at('x', 3), set('/a', 'y', 3), { ok: true, kind: 'set', version: 4 }, at('y', 4)],
      [at('x', 3), set('/a', 'y', 2), { ok: false, code: 'BAD_VERSION' }, at('x', 3)],
      [ABSENT, del('/a'), { ok: false, code: 'NO_NODE' }, ABSENT],
      [at('x', 3), del('/a', 4), { ok: false, code: 'BAD_VERSION' }, at('x', 3)],
      [at('x', 3), del('/a', 3), { ok: true, kind: 'delete' }, ABSENT],
      [at('x', 3), read('/a'), { ok: true, kind: 'read', state: at('x', 3) }, at('x', 3)],
    ]
    for (const [state, input, outcome, next] of cases)
      expect(applyInput(state, input)).toEqual({ outcome, next })
  })
})

describe('outcomeMatches and stepModel', () => {
  it('compares only what the client recorded', () => {
    const setOutcome = applyInput(at('x', 3), set('/a', 'y')).outcome
    expect(outcomeMatches(setOutcome, { ok: true })).toBe(true)
    expect(outcomeMatches(setOutcome, { ok: true, version: 4 })).toBe(true)
    expect(outcomeMatches(setOutcome, { ok: true, version: 5 })).toBe(false)
    expect(outcomeMatches(setOutcome, { ok: false, code: 'BAD_VERSION' })).toBe(false)
    const readOutcome = applyInput(at('x', 3), read('/a')).outcome
    expect(outcomeMatches(readOutcome, { ok: true, exists: true, value: 'x' })).toBe(true)
    expect(outcomeMatches(readOutcome, { ok: true, exists: true, value: 'x', version: 2 })).toBe(
      false,
    )
    expect(outcomeMatches(readOutcome, { ok: true, exists: false })).toBe(false)
    expect(outcomeMatches(readOutcome, { ok: false, code: 'NO_NODE' })).toBe(false)
    const missing = applyInput(ABSENT, read('/a')).outcome
    expect(outcomeMatches(missing, { ok: false, code: 'NO_NODE' })).toBe(true)
    expect(outcomeMatches(missing, { ok: true, exists: false })).toBe(true)
  })

  it('lets an unknown outcome be whatever the model says, and refuses replies that do not fit', () => {
    expect(stepModel(at('x', 3), set('/a', 'y'), null)).toEqual(at('y', 4))
    expect(stepModel(at('x', 3), set('/a', 'y', 1), null)).toEqual(at('x', 3))
    expect(stepModel(at('x', 3), set('/a', 'y'), { ok: false, code: 'NO_NODE' })).toBeUndefined()
  })
})
