/**
 * SimNetwork: the links between ensemble members. It decides, for every peer message,
 * whether it is lost, duplicated, and when each copy arrives. A link is cut one way or
 * both ways by partitions, which are checked when a message leaves and again when it
 * arrives (a message in flight when a partition starts is lost, as on a real network
 * whose connection resets). Delays are per message; most of the time a link is FIFO
 * (a copy never overtakes an earlier one, like TCP), but during a "reorder" spell
 * each message takes its own delay and later ones may arrive first.
 */
import type { ServerId } from '../../protocol/index.js'
import type { SimRandom } from './random.js'

/** LinkConditions are the network's current fault rates and delays. */
export interface LinkConditions {
  /** dropRate is the chance a message is lost. */
  dropRate: number
  /** duplicateRate is the chance a message arrives twice. */
  duplicateRate: number
  /** minDelayMs and maxDelayMs bound an ordinary one-way delay. */
  minDelayMs: number
  maxDelayMs: number
  /** slowRate is the chance a message takes a long detour of up to `slowDelayMs`. */
  slowRate: number
  slowDelayMs: number
  /** reorder lets each message keep its own delay, so later ones can overtake it. */
  reorder: boolean
}

/** CALM_LINKS are the conditions once faults stop: no loss, short FIFO delays. */
export const CALM_LINKS: LinkConditions = Object.freeze({
  dropRate: 0,
  duplicateRate: 0,
  minDelayMs: 1,
  maxDelayMs: 5,
  slowRate: 0,
  slowDelayMs: 0,
  reorder: false,
})

/** RouteOutcome tells the simulator what became of one message. */
export interface RouteOutcome {
  /** arrivalsMs are the arrival times of each copy: none when dropped or cut, two when duplicated. */
  readonly arrivalsMs: number[]
  readonly fate: 'cut' | 'dropped' | 'delivered' | 'duplicated'
}

/** SimNetwork routes peer messages under the current conditions and partitions. */
export class SimNetwork {
  conditions: LinkConditions = { ...CALM_LINKS }
  private readonly cuts = new Set<number>()
  /** The latest arrival scheduled per directed link, so FIFO links never reorder. */
  private readonly lastArrivalMs = new Map<number, number>()

  /** The constructor takes the member ids (each a small positive integer). */
  constructor(readonly members: readonly ServerId[]) {}

  /** isCut tells whether messages from `from` to `to` are blocked. */
  isCut(from: ServerId, to: ServerId): boolean {
    return this.cuts.has(linkKey(from, to))
  }

  /** cut blocks messages from `from` to `to` (one way). */
  cut(from: ServerId, to: ServerId): void {
    this.cuts.add(linkKey(from, to))
  }

  /** partition cuts every link between different groups, both ways. */
  partition(groups: readonly (readonly ServerId[])[]): void {
    for (const g of groups)
      for (const h of groups) if (g !== h) for (const a of g) for (const b of h) this.cut(a, b)
  }

  /** healAll removes every cut. */
  healAll(): void {
    this.cuts.clear()
  }

  /** cutCount is the number of blocked directed links. */
  get cutCount(): number {
    return this.cuts.size
  }

  /** describeCuts lists the blocked links as `a>b`, sorted, for the trace. */
  describeCuts(): string {
    return [...this.cuts]
      .sort((x, y) => x - y)
      .map((k) => `${k >> 8}>${k & 0xff}`)
      .join(',')
  }

  /** route decides the fate of one message sent at `nowMs`. */
  route(from: ServerId, to: ServerId, nowMs: number, random: SimRandom): RouteOutcome {
    if (this.isCut(from, to)) return { arrivalsMs: [], fate: 'cut' }
    const c = this.conditions
    if (random.chance(c.dropRate)) return { arrivalsMs: [], fate: 'dropped' }
    const copies = random.chance(c.duplicateRate) ? 2 : 1
    const arrivalsMs: number[] = []
    for (let i = 0; i < copies; i++) arrivalsMs.push(this.arrivalTime(from, to, nowMs, random))
    return { arrivalsMs, fate: copies === 2 ? 'duplicated' : 'delivered' }
  }

  private arrivalTime(from: ServerId, to: ServerId, nowMs: number, random: SimRandom): number {
    const c = this.conditions
    let delayMs = random.between(c.minDelayMs, Math.max(c.minDelayMs, c.maxDelayMs))
    if (random.chance(c.slowRate)) delayMs += random.between(0, c.slowDelayMs)
    let arrival = nowMs + delayMs
    if (!c.reorder) {
      const key = linkKey(from, to)
      arrival = Math.max(arrival, this.lastArrivalMs.get(key) ?? 0)
      this.lastArrivalMs.set(key, arrival)
    }
    return arrival
  }
}

function linkKey(from: ServerId, to: ServerId): number {
  return (from << 8) | to
}
