/**
 * FaultInjector: starts and ends faults from the seed's fault stream, once per step.
 * The kinds (reliability-testing.md §3, TigerBeetle's VOPR and FoundationDB's
 * workloads):
 *
 * - partitions that come and go: one server isolated, a random split, a one-way cut
 *   (a server that can send but not hear, or hear but not send), a bridge (two halves
 *   that only one server can talk to), and random one-way link cuts;
 * - crashes that lose the page cache (disk.ts), with a restart some ticks later —
 *   half of them armed to strike the moment the server holds unsynced writes;
 * - power losses: a majority or all servers crash at one such moment and come back
 *   one by one;
 * - pauses (a SIGSTOPped process: no ticks, messages held until it resumes);
 * - link storms that change loss, duplication, delay and reordering;
 * - slow disks that widen the window between a write and its fsync.
 *
 * Half the time a crash, pause or isolation targets the current leader, where the
 * protocol's hardest paths are. `stopAll` ends every fault for the liveness phase.
 */
import type { ServerId } from '../../protocol/index.js'
import { CALM_LINKS } from './network.js'
import type { SimRandom } from './random.js'
import { TICK_MS, type FaultRates } from './scenario-profile.js'
import type { Simulation } from './simulation.js'

/** Victim is a server an armed crash will take down, and when it comes back. */
interface Victim {
  readonly id: ServerId
  readonly restartDelayMs: number
}

/** FaultInjector drives the faults of one seed. */
export class FaultInjector {
  private partitionEndStep: number | undefined
  /** Armed crashes (see Simulation.armCrash): their victims and the step at which they strike regardless. */
  private readonly armed = new Map<number, { deadline: number; victims: Victim[] }>()
  private readonly random: SimRandom

  constructor(
    private readonly sim: Simulation,
    private readonly rates: FaultRates,
  ) {
    this.random = sim.random.faults
  }

  /** step may end or start faults before step number `step` runs. */
  step(step: number): void {
    const r = this.random
    for (const [armId, { deadline, victims }] of this.armed)
      if (step >= deadline) this.fireArmed(armId, victims)
    if (this.partitionEndStep !== undefined && step >= this.partitionEndStep) this.heal()
    if (this.partitionEndStep === undefined && r.chance(this.rates.partition))
      this.startPartition(step)
    if (r.chance(this.rates.crash)) this.crashOne(step)
    if (r.chance(this.rates.powerLoss)) this.powerLoss(step)
    if (r.chance(this.rates.pause)) this.pauseOne()
    if (r.chance(this.rates.linkStorm)) this.changeLinks()
    if (r.chance(this.rates.slowDisk)) this.changeDisk()
  }

  /** stopAll ends every fault: heal, restart, resume, calm links and disks. */
  stopAll(): void {
    this.heal()
    for (const armId of this.armed.keys()) this.sim.disarmCrash(armId)
    this.armed.clear()
    this.sim.network.conditions = { ...CALM_LINKS }
    this.sim.diskLatency.minMs = 1
    this.sim.diskLatency.maxMs = 10
    for (const server of this.sim.serverList()) {
      if (!server.up) this.sim.schedule(0, { k: 'restart', server: server.id })
      if (server.paused) this.sim.schedule(0, { k: 'resume', server: server.id })
    }
    this.sim.trace.record(this.sim.nowMs, 'faults stop')
  }

  private note(kind: string, line: string): void {
    this.sim.trace.count(`fault.${kind}`)
    this.sim.trace.record(this.sim.nowMs, line)
  }

  private heal(): void {
    if (this.sim.network.cutCount > 0) this.sim.trace.record(this.sim.nowMs, 'heal')
    this.sim.network.healAll()
    this.partitionEndStep = undefined
  }

  private startPartition(step: number): void {
    const r = this.random
    const net = this.sim.network
    const ids = this.sim.profile.members
    const kind = r.pick(['isolate', 'isolate', 'split', 'one-way', 'bridge', 'links'] as const)
    if (kind === 'isolate') {
      const id = this.target()
      net.partition([[id], ids.filter((x) => x !== id)])
    } else if (kind === 'split') {
      const order = r.shuffled(ids)
      const k = r.between(1, Math.floor(ids.length / 2))
      net.partition([order.slice(0, k), order.slice(k)])
    } else if (kind === 'one-way') {
      const id = this.target()
      const deaf = r.chance(0.5)
      for (const other of ids) {
        if (other === id) continue
        if (deaf) net.cut(other, id)
        else net.cut(id, other)
      }
    } else if (kind === 'bridge') {
      // The first server of the shuffle is the bridge: in no group, so connected to both halves.
      const rest = r.shuffled(ids).slice(1)
      const half = Math.ceil(rest.length / 2)
      net.partition([rest.slice(0, half), rest.slice(half)])
    } else {
      for (const a of ids) for (const b of ids) if (a !== b && r.chance(0.3)) net.cut(a, b)
    }
    this.partitionEndStep = step + r.between(3, 60)
    this.note(
      `partition.${kind}`,
      `partition ${kind} ${net.describeCuts()} until step ${this.partitionEndStep}`,
    )
  }

  /** target picks the established leader half the time, else any server. */
  private target(candidates: readonly ServerId[] = this.sim.profile.members): ServerId {
    const r = this.random
    const leader = candidates.find((id) => {
      const s = this.sim.server(id)
      return s.up && s.peer.role === 'leading' && s.peer.established
    })
    return leader !== undefined && r.chance(0.5) ? leader : r.pick(candidates)
  }

  private downCount(): number {
    const armed = new Set([...this.armed.values()].flatMap((a) => a.victims.map((v) => v.id)))
    return this.sim.serverList().filter((s) => !s.up || s.paused || armed.has(s.id)).length
  }

  private restartDelayMs(): number {
    return (
      (this.random.chance(0.8) ? this.random.between(1, 30) : this.random.between(30, 120)) *
      TICK_MS
    )
  }

  /**
   * crashOne crashes a server now, or half the time arms the crash to strike the
   * moment that server has unsynced writes (within 10 steps), where lost writes hurt.
   */
  private crashOne(step: number): void {
    const armed = new Set([...this.armed.values()].flatMap((a) => a.victims.map((v) => v.id)))
    const candidates = this.sim
      .serverList()
      .filter((s) => s.up && !s.paused && !armed.has(s.id))
      .map((s) => s.id)
    if (candidates.length === 0 || this.downCount() >= this.rates.maxDown) return
    const id = this.target(candidates)
    const victims = [{ id, restartDelayMs: this.restartDelayMs() }]
    if (this.random.chance(0.5)) return this.arm(step, victims, `arm crash s${id}`)
    this.note('crash', `crash s${id}`)
    this.strike(victims)
  }

  /**
   * powerLoss crashes a majority of the ensemble, or all of it, at one instant with
   * unsynced writes somewhere, and restarts each server after its own delay — so the
   * old leader may come back last and find the others elected without it.
   */
  private powerLoss(step: number): void {
    const ids = this.sim.profile.members
    const count = this.random.chance(0.5) ? ids.length : Math.floor(ids.length / 2) + 1
    const victims = this.random
      .shuffled(ids)
      .slice(0, count)
      .map((id) => ({ id, restartDelayMs: this.random.between(1, 40) * TICK_MS }))
    this.arm(step, victims, `arm power loss ${victims.map((v) => `s${v.id}`).join(',')}`)
  }

  private arm(step: number, victims: Victim[], line: string): void {
    const armId = this.sim.armCrash(victims)
    this.armed.set(armId, { deadline: step + 10, victims })
    this.sim.trace.record(this.sim.nowMs, line)
  }

  /** fireArmed ends an armed crash: it already struck at its moment, or it strikes now. */
  private fireArmed(armId: number, victims: Victim[]): void {
    this.armed.delete(armId)
    if (!this.sim.disarmCrash(armId)) return
    this.note(
      victims.length > 1 ? 'power-loss' : 'crash',
      `crash ${victims.map((v) => `s${v.id}`).join(',')} (armed, no unsynced moment)`,
    )
    this.strike(victims)
  }

  private strike(victims: readonly Victim[]): void {
    for (const { id, restartDelayMs } of victims) {
      if (!this.sim.server(id).up) continue
      this.sim.crash(id)
      this.sim.schedule(restartDelayMs, { k: 'restart', server: id })
    }
  }

  private pauseOne(): void {
    const candidates = this.sim
      .serverList()
      .filter((s) => s.up && !s.paused)
      .map((s) => s.id)
    if (candidates.length === 0 || this.downCount() >= this.rates.maxDown) return
    const id = this.target(candidates)
    this.note('pause', `pause s${id}`)
    this.sim.pause(id)
    this.sim.schedule(this.random.between(1, 40) * TICK_MS, { k: 'resume', server: id })
  }

  private changeLinks(): void {
    const r = this.random
    const roll = r.float()
    if (roll < 0.45) {
      this.sim.network.conditions = { ...CALM_LINKS }
      this.sim.trace.record(this.sim.nowMs, 'links calm')
      return
    }
    const reorder = roll >= 0.8
    this.sim.network.conditions = {
      dropRate: r.float() * 0.12,
      duplicateRate: r.float() * 0.06,
      minDelayMs: r.between(1, 5),
      maxDelayMs: r.between(5, reorder ? 60 : 25),
      slowRate: r.float() * 0.05,
      slowDelayMs: r.between(100, 800),
      reorder,
    }
    this.note(
      reorder ? 'links.reorder' : 'links.lossy',
      `links ${JSON.stringify(this.sim.network.conditions)}`,
    )
  }

  private changeDisk(): void {
    const r = this.random
    const roll = r.float()
    const [minMs, maxMs] = roll < 0.55 ? [1, 10] : roll < 0.9 ? [10, 150] : [100, 600]
    this.sim.diskLatency.minMs = minMs
    this.sim.diskLatency.maxMs = maxMs
    if (maxMs > 10) this.note('slow-disk', `disk ${minMs}-${maxMs}ms`)
    else this.sim.trace.record(this.sim.nowMs, 'disk normal')
  }
}
