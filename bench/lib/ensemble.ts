/**
 * What the benchmarks need from an ensemble, whichever system runs it: each member's
 * role, faults by signal, restarting a killed member, sessions pinned to a member, and
 * waiting (with deadlines) until the ensemble is whole or has a new leader.
 */
import type { BenchSession } from './session.js'

/**
 * EventLoopLagFigures is what a Conclave member's /status reports as `eventLoop`: not
 * since the last read but over the member's own fixed windows (see
 * server/runtime/event-loop-lag.ts): the max over the current and previous window, the
 * p99 of the current one.
 */
export interface EventLoopLagFigures {
  lagMaxMs: number
  lagP99Ms: number
  windowMs: number
}

/** Role is a member's role as its status endpoint reports it; 'down' means no answer. */
export type Role = 'leader' | 'follower' | 'looking' | 'standalone' | 'down'

/** BenchEnsemble is a running ensemble of one system on loopback. */
export interface BenchEnsemble {
  /** system is the name printed in results ('Conclave' or 'ZooKeeper'). */
  readonly system: string
  readonly size: number
  /** dir holds configs, data and logs. */
  readonly dir: string
  /** role asks member `i` for its role, answering 'down' if it does not reply promptly. */
  role(i: number): Promise<Role>
  /** signal sends a signal to member `i`'s process. */
  signal(i: number, signal: NodeJS.Signals): void
  /** restart starts member `i` again from its data dir, if its process has exited. */
  restart(i: number): Promise<void>
  /** alive tells whether member `i`'s process is running (or stopped). */
  alive(i: number): boolean
  /** rssBytes is member `i`'s resident memory, if its process is running. */
  rssBytes(i: number): number | undefined
  /** pid is the process id of member `i`'s server process (the JVM itself for ZooKeeper), if it was started. */
  pid(i: number): number | undefined
  /** eventLoopLag reads member `i`'s event-loop lag from its /status (Conclave only; undefined if it does not answer). */
  eventLoopLag?(i: number): Promise<EventLoopLagFigures | undefined>
  /** connect opens a session on member `i`. */
  connect(i: number, sessionTimeoutMs: number): Promise<BenchSession>
  /** sdkServers lists every member's WebSocket URL in member order, for plain Conclave SDK clients (Conclave only). */
  sdkServers?(): string[]
  /** exitReport names members whose process has exited, with the end of their logs ('' if none). */
  exitReport(): string
  /** stop ends every member and removes `dir` unless asked to keep it. */
  stop(): Promise<void>
}

/** roles asks every member at once. */
export function roles(ensemble: BenchEnsemble): Promise<Role[]> {
  return Promise.all(Array.from({ length: ensemble.size }, (_, i) => ensemble.role(i)))
}

/** leaderOf returns the index of the only leader when every other member follows, else -1. */
export function leaderOf(all: readonly Role[]): number {
  if (all.length === 1) return all[0] === 'standalone' || all[0] === 'leader' ? 0 : -1
  const leaders = all.flatMap((r, i) => (r === 'leader' ? [i] : []))
  return leaders.length === 1 && all.every((r) => r === 'leader' || r === 'follower')
    ? leaders[0]!
    : -1
}

async function pause(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** waitWhole waits until one member leads and all others follow (every process must be running); returns the leader's index. */
export async function waitWhole(ensemble: BenchEnsemble, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const last = await roles(ensemble)
    const leader = leaderOf(last)
    if (leader >= 0) return leader
    // A member that exited (a refused config, a crash) will not come back by waiting.
    const report = ensemble.exitReport()
    if (report !== '')
      throw new Error(`${ensemble.system} member exited while waiting for the ensemble:\n${report}`)
    if (performance.now() > deadline) {
      throw new Error(
        `${ensemble.system} not whole after ${timeoutMs} ms: roles ${last.join(', ')} (logs in ${ensemble.dir})\n${ensemble.exitReport()}`,
      )
    }
    await pause(100)
  }
}

/**
 * waitNewLeader polls the members other than `old` until one of them says it leads;
 * returns its index, or -1 after `timeoutMs`.
 */
export async function waitNewLeader(
  ensemble: BenchEnsemble,
  old: number,
  timeoutMs: number,
  pollMs = 20,
): Promise<number> {
  const deadline = performance.now() + timeoutMs
  const others = Array.from({ length: ensemble.size }, (_, i) => i).filter((i) => i !== old)
  while (performance.now() < deadline) {
    const found = await Promise.all(others.map((i) => ensemble.role(i)))
    const index = found.indexOf('leader')
    if (index >= 0) return others[index]!
    await pause(pollMs)
  }
  return -1
}
