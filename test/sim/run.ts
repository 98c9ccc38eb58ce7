/**
 * runSeed: one seed from start to verdict, in four phases.
 *
 * 1. Faults: `steps` steps of one tick each. Before a step the fault injector may
 *    start or end faults; after it every ensemble invariant is checked.
 * 2. Recovery (liveness): every fault stops — partitions heal, crashed servers
 *    restart, paused ones resume, links and disks calm down — and clients are asked
 *    for a write. Within `livenessBudgetTicks` a leader must be established with a
 *    quorum serving under it and must commit a txn of its own epoch.
 * 3. Drain: clients stop issuing, outstanding requests get their replies or an
 *    unknown outcome, and all servers catch up; every acknowledged write must then
 *    be applied everywhere.
 * 4. Histories: the linearizability checker judges writes, linearizable reads and
 *    sync+reads; the session checker judges plain reads. A checker that runs out of
 *    budget ('unknown') is a violation too.
 *
 * Any thrown error — an invariant, a core assertion, a tree or disk refusal — ends
 * the seed with a violation carrying the step, the time and the trace's tail.
 */
import {
  checkLinearizable,
  checkSessionGuarantees,
  renderLinearizabilityReport,
  renderSessionReport,
} from '../checker/index.js'
import { epochOf, formatZxid, type Zxid } from '../../protocol/index.js'
import type { PlantedBug } from './planted-bugs.js'
import { FaultInjector } from './faults.js'
import type { OpOutcomeCounts } from './history-recorder.js'
import { InvariantViolation, type InvariantName } from './invariants.js'
import { SimRandom } from './random.js'
import { drawProfile, TICK_MS } from './scenario-profile.js'
import type { FrontBug } from '../../server/runtime/client-front.js'
import { Simulation } from './simulation.js'

/** SeedOptions configure one seed's run. */
export interface SeedOptions {
  readonly seed: number
  readonly steps: number
  readonly bug?: PlantedBug | undefined
  /** frontBug plants a bug in the simulated runtime (to prove the history checkers can fail). */
  readonly frontBug?: FrontBug | undefined
  /** faults: false runs the same workload on a fault-free ensemble. Default true. */
  readonly faults?: boolean
  /** wire sends every peer message through the real codec (slower). Default: every 8th seed. */
  readonly wire?: boolean
  /** livenessBudgetTicks bounds phase 2. Default 250 ticks. */
  readonly livenessBudgetTicks?: number
  /** verbose receives every trace line. */
  readonly verbose?: (line: string) => void
}

/** Violation describes the first property a seed broke. */
export interface Violation {
  readonly invariant: InvariantName
  readonly message: string
  readonly step: number
  readonly timeMs: number
  readonly tail: readonly string[]
}

/** SeedStats are one seed's figures. */
export interface SeedStats {
  readonly steps: number
  readonly events: number
  readonly servers: number
  readonly clients: number
  /** counters tallies faults injected (`fault.*`) and network fates (`net.*`). */
  readonly counters: Readonly<Record<string, number>>
  readonly ops: OpOutcomeCounts
  readonly historyOps: number
  readonly acknowledged: number
  readonly establishments: number
  /** recoveryTicks is how long phase 2 took, if it completed. */
  readonly recoveryTicks: number | undefined
  readonly finalZxid: string
}

/** SeedResult is one seed's verdict. */
export interface SeedResult {
  readonly seed: number
  readonly violation: Violation | undefined
  readonly traceHash: string
  readonly stats: SeedStats
}

/** DEFAULT_LIVENESS_BUDGET_TICKS bounds recovery once faults stop. */
export const DEFAULT_LIVENESS_BUDGET_TICKS = 250

/** runSeed runs one seed and returns its verdict; it never throws for a protocol failure. */
export function runSeed(options: SeedOptions): SeedResult {
  const root = new SimRandom(options.seed)
  const profile = drawProfile(root.fork(), options.bug)
  const sim = new Simulation(
    options.seed,
    profile,
    root,
    options.wire ?? options.seed % 8 === 0,
    options.frontBug,
  )
  sim.trace.verbose = options.verbose
  const injector = options.faults === false ? undefined : new FaultInjector(sim, profile.faults)
  let step = 0
  let recoveryTicks: number | undefined
  let violation: Violation | undefined
  try {
    for (; step < options.steps; step++) {
      injector?.step(step)
      sim.runUntil((step + 1) * TICK_MS)
      sim.checkStep()
    }
    recoveryTicks = recover(
      sim,
      injector,
      options.livenessBudgetTicks ?? DEFAULT_LIVENESS_BUDGET_TICKS,
    )
    step += recoveryTicks
    step += drain(sim)
    checkHistories(sim)
  } catch (error) {
    violation = toViolation(error, step, sim)
  }
  const counters = Object.fromEntries(
    [...sim.trace.counters].sort(([a], [b]) => a.localeCompare(b)),
  )
  const leaderZxid = sim
    .serverList()
    .reduce<Zxid>((max, s) => (s.tree.appliedZxid > max ? s.tree.appliedZxid : max), 0n)
  return {
    seed: options.seed,
    violation,
    traceHash: sim.trace.hash(),
    stats: {
      steps: step,
      events: sim.trace.events,
      servers: profile.members.length,
      clients: profile.clients.length,
      counters,
      ops: { ...sim.history.counts },
      historyOps: sim.history.size,
      acknowledged: sim.invariants.ackedCount,
      establishments: sim.invariants.establishments,
      recoveryTicks,
      finalZxid: formatZxid(leaderZxid),
    },
  }
}

/** recover stops faults and waits for a serving leader that commits; returns the ticks it took. */
function recover(
  sim: Simulation,
  injector: FaultInjector | undefined,
  budgetTicks: number,
): number {
  injector?.stopAll()
  const stopZxid = sim
    .serverList()
    .reduce<Zxid>((max, s) => (s.tree.appliedZxid > max ? s.tree.appliedZxid : max), 0n)
  const quorum = Math.floor(sim.profile.members.length / 2) + 1
  for (let tick = 1; tick <= budgetTicks; tick++) {
    if (tick % 10 === 1) for (const client of sim.clients) client.writeSoon = true
    sim.runUntil(sim.nowMs + TICK_MS)
    sim.checkStep()
    if (leaderCommitted(sim, quorum, stopZxid)) return tick
  }
  const states = sim
    .serverList()
    .map((s) =>
      s.up
        ? `s${s.id}:${s.peer.role}${s.peer.established ? '*' : ''} (${s.peer.status().lastTransition})`
        : `s${s.id}:down`,
    )
  throw new InvariantViolation(
    'liveness',
    `no leader established and committing within ${budgetTicks} ticks of faults stopping: ${states.join('; ')}`,
  )
}

function leaderCommitted(sim: Simulation, quorum: number, stopZxid: Zxid): boolean {
  for (const leader of sim.serverList()) {
    if (!leader.up || leader.peer.role !== 'leading' || !leader.peer.established) continue
    const serving = sim
      .serverList()
      .filter((s) => s.up && s.peer.established && s.peer.leaderId === leader.id).length
    const applied = leader.tree.appliedZxid
    if (
      serving >= quorum &&
      applied > stopZxid &&
      epochOf(applied) === leader.peer.status().acceptedEpoch
    )
      return true
  }
  return false
}

/** drain lets outstanding requests finish and servers converge; returns the ticks it took. */
function drain(sim: Simulation): number {
  for (const client of sim.clients) client.stopped = true
  const maxTicks = 80
  let tick = 0
  for (; tick < maxTicks; tick++) {
    const idle = sim.clients.every((c) => c.outstanding === 0)
    const applied = new Set(sim.serverList().map((s) => s.tree.appliedZxid))
    if (idle && applied.size === 1) break
    sim.runUntil(sim.nowMs + TICK_MS)
    sim.checkStep()
  }
  for (const client of sim.clients) client.abandon()
  sim.invariants.checkConverged(sim.serverList())
  return tick
}

function checkHistories(sim: Simulation): void {
  sim.history.resolveUnknown(
    (sessionId, xid) => sim.invariants.appliedTxnOf(sessionId, xid),
    sim.nowMs,
  )
  const history = sim.history.history()
  const lin = checkLinearizable(history, { maxStepsPerPath: 2_000_000 })
  if (lin.result !== 'ok')
    throw new InvariantViolation('linearizability', renderLinearizabilityReport(lin))
  const sessions = checkSessionGuarantees(history)
  if (!sessions.ok)
    throw new InvariantViolation('session-guarantees', renderSessionReport(sessions))
}

function toViolation(error: unknown, step: number, sim: Simulation): Violation {
  const tail = sim.trace.tail()
  if (error instanceof InvariantViolation)
    return { invariant: error.invariant, message: error.message, step, timeMs: sim.nowMs, tail }
  // The core asserts its own invariants on every input; a failed one is a core invariant violation.
  if (error instanceof Error && error.name === 'AssertionError')
    return { invariant: 'core-invariant', message: error.message, step, timeMs: sim.nowMs, tail }
  const message =
    error instanceof Error
      ? `${error.name}: ${error.message}\n${(error.stack ?? '').split('\n').slice(1, 6).join('\n')}`
      : String(error)
  return { invariant: 'exception', message, step, timeMs: sim.nowMs, tail }
}
