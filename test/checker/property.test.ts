/**
 * Property tests of checkLinearizable against histories that are linearizable by
 * construction. Method: fast-check generates a sequential execution of the znode
 * model over a few paths (op i takes effect at time 10·i), then stretches each op into
 * a random interval around its linearization point, so neighbours overlap, and marks
 * some ops as unknown (half of those unknown writes never took effect). Such a history
 * must check 'ok'. Replacing one read's reply with a value nobody wrote must make it
 * 'illegal' on that read's path: proof that 'ok' is not handed out for free.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { OpInput, Operation, OpOutput } from './history.js'
import { checkLinearizable } from './linearizable.js'
import { ABSENT, applyInput, type ZnodeState } from './model.js'

type Outcome = 'known' | 'unknown-applied' | 'unknown-never'

interface OpSpec {
  pathIndex: number
  kind: OpInput['kind']
  versionChoice: 'any' | 'current' | 'wrong'
  beforeTicks: number
  afterTicks: number
  outcome: Outcome
  clientId: number
  absentAsNoNode: boolean
}

const opSpec: fc.Arbitrary<OpSpec> = fc.record({
  pathIndex: fc.integer({ min: 0, max: 2 }),
  kind: fc.constantFrom<OpInput['kind']>('create', 'set', 'set', 'delete', 'read', 'read'),
  versionChoice: fc.constantFrom<OpSpec['versionChoice']>('any', 'current', 'current', 'wrong'),
  beforeTicks: fc.nat({ max: 45 }),
  afterTicks: fc.nat({ max: 45 }),
  outcome: fc.constantFrom<Outcome>(
    'known',
    'known',
    'known',
    'known',
    'known',
    'known',
    'unknown-applied',
    'unknown-never',
  ),
  clientId: fc.nat({ max: 9 }),
  absentAsNoNode: fc.boolean(),
})

/** buildHistory runs the specs through the model in order and stretches each into an interval. */
function buildHistory(specs: readonly OpSpec[]): Operation[] {
  const states = new Map<string, ZnodeState>()
  return specs.map((spec, index) => {
    const path = `/p${spec.pathIndex}`
    const state = states.get(path) ?? ABSENT
    const input = inputFor(spec, path, state, index)
    const { outcome, next } = applyInput(state, input)
    if (spec.outcome !== 'unknown-never') states.set(path, next)
    const pointTicks = 10 * (index + 1)
    const base = {
      id: index,
      clientId: spec.clientId,
      sessionId: BigInt(spec.clientId),
      input,
      callTime: pointTicks - spec.beforeTicks,
    }
    if (spec.outcome !== 'known') return { ...base, returnTime: null, output: null }
    let output: OpOutput
    if (!outcome.ok) output = { ok: false, code: outcome.code }
    else if (outcome.kind === 'read') output = readOutput(outcome.state, spec.absentAsNoNode)
    else if (outcome.kind === 'delete') output = { ok: true }
    else output = { ok: true, version: outcome.version }
    return { ...base, returnTime: pointTicks + spec.afterTicks, output }
  })
}

function inputFor(spec: OpSpec, path: string, state: ZnodeState, index: number): OpInput {
  const current = state.exists ? state.version : 0
  const expectedVersion =
    spec.versionChoice === 'any' ? -1 : spec.versionChoice === 'current' ? current : current + 1
  switch (spec.kind) {
    case 'create':
      return { kind: 'create', path, value: `v${index}` }
    case 'set':
      return { kind: 'set', path, value: `v${index}`, expectedVersion }
    case 'delete':
      return { kind: 'delete', path, expectedVersion }
    case 'read':
      return { kind: 'read', path }
  }
}

function readOutput(state: ZnodeState, absentAsNoNode: boolean): OpOutput {
  if (state.exists) return { ok: true, exists: true, value: state.value, version: state.version }
  return absentAsNoNode ? { ok: false, code: 'NO_NODE' } : { ok: true, exists: false }
}

const specs = fc.array(opSpec, { minLength: 1, maxLength: 80 })

describe('histories linearizable by construction', () => {
  it('check ok, with overlapping intervals and unknown outcomes', () => {
    fc.assert(
      fc.property(specs, (generated) => {
        const report = checkLinearizable(buildHistory(generated), { maxStepsPerPath: 200_000 })
        expect(report.result).toBe('ok')
      }),
      { numRuns: 300 },
    )
  })

  it('become illegal on the right path when one read reports a value never written', () => {
    fc.assert(
      fc.property(specs, fc.nat(), (generated, pick) => {
        const history = buildHistory(generated)
        const reads = history.filter((op) => op.input.kind === 'read' && op.output !== null)
        fc.pre(reads.length > 0)
        const victim = reads[pick % reads.length] as Operation
        const altered = history.map((op) =>
          op === victim
            ? {
                ...op,
                output: { ok: true as const, exists: true, value: 'never-written', version: 0 },
              }
            : op,
        )
        const report = checkLinearizable(altered, { maxStepsPerPath: 200_000 })
        expect(report.result).toBe('illegal')
        expect(report.witness?.path).toBe(victim.input.path)
      }),
      { numRuns: 300 },
    )
  })
})
