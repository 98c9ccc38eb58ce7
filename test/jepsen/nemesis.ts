/**
 * The nemesis: injects one fault at a time into a proxied ensemble while the workload
 * runs, holds it for a random duration, undoes it, lets the ensemble recover (waits
 * for a leader with a deadline), and picks the next. Faults:
 *
 * - kill / kill-leader: SIGKILL a member, later restart it from its data dir;
 * - stall / stall-leader: SIGSTOP a member for longer than the leader timeout, then SIGCONT;
 * - isolate / isolate-leader: hold every peer link of one member (its clients still reach it);
 * - split: a random minority|majority partition (for 3 members, same as isolate, with
 *   the leader or not on the minority side);
 * - one-way: one link passes traffic in one direction only;
 * - flap: one link alternates up and down every ~200 ms;
 * - loss: every link is broken (reset) every few hundred ms, the TCP form of heavy loss.
 *
 * Holding a fault for a while is the experiment, not a sleep-then-assert: nothing is
 * checked after it except through the history.
 */
import type { Ensemble } from '../helpers/ensemble.js'

/** FaultKind names one nemesis action. */
export type FaultKind =
  | 'kill'
  | 'kill-leader'
  | 'stall'
  | 'stall-leader'
  | 'isolate'
  | 'isolate-leader'
  | 'split'
  | 'one-way'
  | 'flap'
  | 'loss'

/** ALL_FAULTS is every kind, the default rotation. */
export const ALL_FAULTS: readonly FaultKind[] = [
  'kill',
  'kill-leader',
  'stall',
  'stall-leader',
  'isolate',
  'isolate-leader',
  'split',
  'one-way',
  'flap',
  'loss',
]

/** CATEGORIES group the faults into process kills, process stalls and network faults. */
const CATEGORIES: readonly (readonly FaultKind[])[] = [
  ['kill', 'kill-leader'],
  ['stall', 'stall-leader'],
  ['isolate', 'isolate-leader', 'split', 'one-way', 'flap', 'loss'],
]

/** NemesisEvent is one line of the nemesis log (saved with the artifacts). */
export interface NemesisEvent {
  atMs: number
  what: string
}

/** NemesisOptions configure the schedule. */
export interface NemesisOptions {
  random: () => number
  now: () => number
  signal: AbortSignal
  faults?: readonly FaultKind[]
  /** holdMs is the range a fault lasts (default 800-2500 ms). */
  holdMs?: [number, number]
  /** calmMs is the range of quiet after recovery (default 300-1000 ms). */
  calmMs?: [number, number]
  /** stallMinMs is the least a SIGSTOP lasts: longer than the leader timeout. */
  stallMinMs: number
  /** recoveryTimeoutMs bounds the wait for a leader after a fault is undone. */
  recoveryTimeoutMs?: number
}

/** NemesisResult lists what happened and any recovery that missed its deadline. */
export interface NemesisResult {
  events: NemesisEvent[]
  faults: Record<string, number>
  /** recoveryFailures lists faults after which no leader came back in time. */
  recoveryFailures: string[]
}

/** runNemesis injects faults until `signal` aborts, undoes the last one, and resolves. */
export async function runNemesis(
  ensemble: Ensemble,
  options: NemesisOptions,
): Promise<NemesisResult> {
  const result: NemesisResult = { events: [], faults: {}, recoveryFailures: [] }
  const log = (what: string) => result.events.push({ atMs: Math.round(options.now()), what })
  const faults = options.faults ?? ALL_FAULTS
  const [holdMin, holdMax] = options.holdMs ?? [800, 2500]
  const [calmMin, calmMax] = options.calmMs ?? [300, 1000]
  const between = (lo: number, hi: number) => lo + Math.floor(options.random() * (hi - lo + 1))
  const ids = ensemble.members.map((m) => m.id)
  const pickOne = (from: number[]) => from[Math.floor(options.random() * from.length)] as number
  let round = 0
  const groups = CATEGORIES.map((c) => c.filter((k) => faults.includes(k))).filter(
    (g) => g.length > 0,
  )
  if (groups.length === 0) throw new RangeError('nemesis: no faults to inject')

  while (!options.signal.aborted) {
    const leader = await ensemble
      .leader({ timeoutMs: options.recoveryTimeoutMs ?? 30_000 })
      .catch((err: unknown) => {
        result.recoveryFailures.push(`no leader before the next fault: ${(err as Error).message}`)
        return undefined
      })
    if (leader === undefined || options.signal.aborted) break
    // Categories take turns (kill, stall, partition), so even a short run has each; the variant is random.
    const variants = groups[round++ % groups.length] as FaultKind[]
    const kind = variants[Math.floor(options.random() * variants.length)] as FaultKind
    result.faults[kind] = (result.faults[kind] ?? 0) + 1
    const others = ids.filter((id) => id !== leader.id)
    const target = kind.endsWith('-leader') ? leader.id : pickOne(ids)
    let hold = between(holdMin, holdMax)
    let undo: () => Promise<void>
    switch (kind) {
      case 'kill':
      case 'kill-leader': {
        log(`SIGKILL member ${target}${target === leader.id ? ' (leader)' : ''}`)
        await ensemble.member(target).kill('SIGKILL')
        undo = async () => {
          log(`restart member ${target}`)
          await ensemble.member(target).start()
        }
        break
      }
      case 'stall':
      case 'stall-leader': {
        hold = Math.max(hold, options.stallMinMs)
        log(`SIGSTOP member ${target}${target === leader.id ? ' (leader)' : ''} for ${hold} ms`)
        await ensemble.member(target).kill('SIGSTOP')
        undo = async () => {
          log(`SIGCONT member ${target}`)
          await ensemble.member(target).kill('SIGCONT')
        }
        break
      }
      case 'isolate':
      case 'isolate-leader': {
        log(`isolate member ${target}${target === leader.id ? ' (leader)' : ''}`)
        ensemble.isolate(target)
        undo = async () => healAll(ensemble, log)
        break
      }
      case 'split': {
        const shuffled = [...ids].sort(() => options.random() - 0.5)
        const minority = shuffled.slice(0, Math.floor((ids.length - 1) / 2))
        const majority = shuffled.slice(minority.length)
        log(
          `partition minority [${minority.join(',')}] | majority [${majority.join(',')}] (leader ${leader.id})`,
        )
        ensemble.partition(minority, majority)
        undo = async () => healAll(ensemble, log)
        break
      }
      case 'one-way': {
        const from = pickOne(ids)
        const to = pickOne(ids.filter((id) => id !== from))
        log(`one-way link: only ${from} -> ${to} passes`)
        ensemble.oneWay(from, to)
        undo = async () => healAll(ensemble, log)
        break
      }
      case 'flap': {
        const a = pickOne(others.length > 0 ? others : ids)
        const b = pickOne(ids.filter((id) => id !== a))
        log(`flap link ${a}-${b} every 200 ms`)
        ensemble.setLink(a, b, { kind: 'flap', periodMs: 200 })
        undo = async () => healAll(ensemble, log)
        break
      }
      case 'loss': {
        log('break every link every 300 ms')
        for (const i of ids)
          for (const j of ids)
            if (j < i) ensemble.setLink(i, j, { kind: 'loss', resetEveryMs: 300 })
        undo = async () => healAll(ensemble, log)
        break
      }
    }
    await hold_(hold, options.signal)
    await undo()
    const recovered = await ensemble
      .leader({ timeoutMs: options.recoveryTimeoutMs ?? 30_000 })
      .catch((err: unknown) => {
        result.recoveryFailures.push(`after ${kind} on ${target}: ${(err as Error).message}`)
        return undefined
      })
    if (recovered === undefined) break
    log(`leader ${recovered.id} (epoch ${recovered.status.epoch})`)
    await hold_(between(calmMin, calmMax), options.signal)
  }
  return result
}

async function healAll(ensemble: Ensemble, log: (what: string) => void): Promise<void> {
  log('heal every link')
  ensemble.heal()
}

/** hold_ lets a fault (or a calm spell) last `ms`, ending early when the run is over. */
function hold_(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

/** restoreAll undoes whatever faults remain: heals links, continues paused members, restarts stopped ones. */
export async function restoreAll(ensemble: Ensemble): Promise<void> {
  ensemble.heal()
  await Promise.all(
    ensemble.members.map(async (m) => {
      if (m.state === 'paused') await m.kill('SIGCONT')
      else if (m.state === 'stopped') await m.start()
    }),
  )
}
