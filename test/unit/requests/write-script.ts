/**
 * Random write scripts for property tests: creates of every mode (with TTLs and
 * makeParents), sets and deletes with right and wrong versions, multis, session closes,
 * reap sweeps and clock steps, over a small pool of paths so that operations collide often.
 * `runStep` prepares one step through a Kit and returns its txns, so a test can apply
 * them all at once (pipelined) or one by one.
 */
import fc from 'fast-check'
import type { MultiOp, NodeMode, SessionId, Txn } from '../../../protocol/index.js'
import { bytes, type Kit } from './builder-kit.js'

const PATHS = ['/a', '/b', '/a/x', '/a/y', '/b/z', '/a/x/q', '/c']
const SEQUENTIAL_PATHS = ['/a/s-', '/b/', '/c/n-']
const MODES: NodeMode[] = [
  'persistent',
  'persistent-sequential',
  'ephemeral',
  'ephemeral-sequential',
  'container',
]
const SESSIONS: SessionId[] = [1n, 2n, 3n]

/** Step is one scripted action. */
export type Step =
  | {
      kind: 'create'
      path: string
      mode: NodeMode
      data: string
      ttlMs?: number
      makeParents: boolean
      sessionId: SessionId
    }
  | { kind: 'set'; path: string; data: string; version: number }
  | { kind: 'delete'; path: string; version: number }
  | { kind: 'multi'; ops: MultiOp[] }
  | { kind: 'close'; sessionId: SessionId }
  | { kind: 'reap' }
  | { kind: 'wait'; ms: number }

const path = fc.constantFrom(...PATHS)
const data = fc.string({ maxLength: 3 })
const version = fc.constantFrom(-1, -1, 0, 1, 2)

const create = fc
  .record({
    mode: fc.constantFrom(...MODES),
    plainPath: path,
    sequentialPath: fc.constantFrom(...SEQUENTIAL_PATHS),
    data,
    ttl: fc.constantFrom(undefined, 50, 200),
    makeParents: fc.boolean(),
    sessionId: fc.constantFrom(...SESSIONS),
  })
  .map(({ mode, plainPath, sequentialPath, data, ttl, makeParents, sessionId }): Step => {
    const sequential = mode === 'persistent-sequential' || mode === 'ephemeral-sequential'
    const ttlMs = mode === 'persistent' || mode === 'persistent-sequential' ? ttl : undefined
    return {
      kind: 'create',
      path: sequential ? sequentialPath : plainPath,
      mode,
      data,
      makeParents,
      sessionId,
      ...(ttlMs === undefined ? {} : { ttlMs }),
    }
  })

const multiOp: fc.Arbitrary<MultiOp> = fc.oneof(
  fc.record({ op: fc.constant('check' as const), path, version }),
  fc.record({
    op: fc.constant('create' as const),
    path,
    data: data.map(bytes),
    mode: fc.constantFrom<NodeMode>('persistent', 'ephemeral', 'persistent-sequential'),
  }),
  fc.record({ op: fc.constant('set' as const), path, data: data.map(bytes), version }),
  fc.record({ op: fc.constant('delete' as const), path, version }),
)

/** step generates one Step, creates weighted up so the tree fills. */
export const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: create },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('set' as const), path, data, version }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), path, version }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('multi' as const),
      ops: fc.array(multiOp, { minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('close' as const),
      sessionId: fc.constantFrom(...SESSIONS),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'reap' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.constantFrom(10, 100, 300) }),
  },
)

/** script generates a sequence of steps. */
export const script = (maxLength = 40) => fc.array(step, { maxLength, size: 'max' })

/**
 * runStep prepares one step through `kit` and returns its txns: one for a write or a
 * close, one per qualifying path for a reap sweep (over the fixed pool, so the sweep
 * does not depend on how far the tree has caught up), none for a clock step.
 */
export function runStep(kit: Kit, s: Step): Txn[] {
  switch (s.kind) {
    case 'create': {
      const ttl = s.ttlMs === undefined ? {} : { ttlMs: s.ttlMs }
      return [
        kit.prepare(
          {
            op: 'create',
            path: s.path,
            data: bytes(s.data),
            mode: s.mode,
            makeParents: s.makeParents,
            ...ttl,
          },
          s.sessionId,
        ),
      ]
    }
    case 'set':
      return [kit.prepare({ op: 'set', path: s.path, data: bytes(s.data), version: s.version })]
    case 'delete':
      return [kit.prepare({ op: 'delete', path: s.path, version: s.version })]
    case 'multi':
      return [kit.prepare({ op: 'multi', ops: s.ops })]
    case 'close':
      return [kit.prepareClose(s.sessionId)]
    case 'reap':
      return PATHS.map((path) => kit.prepareReap(path)).filter((t): t is Txn => t !== null)
    case 'wait':
      kit.nowMs += s.ms
      return []
  }
}

/** runPipelined prepares every step before applying any, then applies them in order. */
export function runPipelined(kit: Kit, steps: readonly Step[]): Txn[] {
  const txns = steps.flatMap((s) => runStep(kit, s))
  for (const txn of txns) kit.apply(txn)
  return txns
}

/** runOneByOne prepares and applies each txn before the next step, as an idle leader would. */
export function runOneByOne(kit: Kit, steps: readonly Step[]): Txn[] {
  const txns: Txn[] = []
  for (const s of steps) {
    for (const txn of runStep(kit, s)) {
      kit.apply(txn)
      txns.push(txn)
    }
  }
  return txns
}
