/**
 * ScenarioProfile: everything a seed decides up front — ensemble size, core tunables,
 * client workload, fault rates — drawn from the seed's own stream so every seed
 * explores a different corner (small diff limits force SNAPs, a batch limit of one
 * forces many proposal messages, slow disks widen the unsynced window, and so on).
 */
import type { ServerId } from '../../protocol/index.js'
import type { PlantedBug } from './planted-bugs.js'
import type { ClientProfile } from './sim-client.js'
import type { SimRandom } from './random.js'

/** TICK_MS is the length of one simulated tick, and of one simulation step. */
export const TICK_MS = 100

/** FaultRates are per-step chances of starting each kind of fault. */
export interface FaultRates {
  partition: number
  crash: number
  /** powerLoss is the chance per step of a majority or the whole ensemble crashing at once. */
  powerLoss: number
  pause: number
  /** linkStorm is the chance per step of changing the network's loss/dup/delay conditions. */
  linkStorm: number
  /** slowDisk is the chance per step of changing the fsync latency. */
  slowDisk: number
  /** maxDown is how many servers may be crashed or paused at once. */
  maxDown: number
}

/** ScenarioProfile is one seed's configuration. */
export interface ScenarioProfile {
  readonly members: readonly ServerId[]
  readonly leaderTimeoutTicks: number
  readonly initTimeoutTicks: number
  readonly diffLimitTxns: number
  readonly proposalBatchMax: number
  /** peerMessageBudgetBytes: small budgets cut proposal batches and stream DIFFs in several parts. */
  readonly peerMessageBudgetBytes: number | undefined
  readonly snapshotEveryTxns: number
  /** tickSkew per server: its tick interval is TICK_MS × skew. */
  readonly tickIntervalsMs: ReadonlyMap<ServerId, number>
  readonly clients: readonly ClientProfile[]
  readonly faults: FaultRates
  readonly bug: PlantedBug | undefined
}

/** drawProfile draws a seed's configuration. */
export function drawProfile(random: SimRandom, bug: PlantedBug | undefined): ScenarioProfile {
  const size = random.chance(0.7) ? 3 : 5
  const members = Array.from({ length: size }, (_, i) => i + 1)
  const tickIntervalsMs = new Map(members.map((id) => [id, TICK_MS + random.between(-8, 8)]))
  const pathCount = random.between(2, 5)
  const paths = Array.from({ length: pathCount }, (_, i) => `/k${i}`)
  const clientCount = random.between(3, 6)
  const clients: ClientProfile[] = Array.from({ length: clientCount }, () => ({
    paths,
    sessionTimeoutMs: random.between(15, 40) * TICK_MS,
    requestTimeoutMs: random.between(30, 60) * TICK_MS,
    opRate: 0.15 + random.float() * 0.5,
    maxOutstanding: random.between(1, 3),
    silenceRate: random.chance(0.5) ? 0.004 : 0,
  }))
  const leaderTimeoutTicks = random.between(6, 12)
  const profile = {
    members,
    leaderTimeoutTicks,
    initTimeoutTicks: leaderTimeoutTicks * random.between(2, 4),
    diffLimitTxns: random.pick([3, 10, 50, 200]),
    proposalBatchMax: random.pick([1, 4, 64]),
    snapshotEveryTxns: random.pick([5, 20, 100]),
    tickIntervalsMs,
    clients,
    faults: {
      partition: 0.02 + random.float() * 0.04,
      crash: 0.01 + random.float() * 0.03,
      powerLoss: random.float() * 0.006,
      pause: 0.005 + random.float() * 0.015,
      linkStorm: 0.03,
      slowDisk: 0.03,
      maxDown: size === 3 ? random.between(1, 2) : random.between(2, 3),
    },
    bug,
  }
  // Drawn last, so every other draw (and what each seed explored before) stays as it was.
  // A sim txn's size bound is a few hundred bytes: 600 holds about two, 2,000 several.
  const peerMessageBudgetBytes = random.pick([undefined, 600, 2000])
  return { ...profile, peerMessageBudgetBytes }
}
