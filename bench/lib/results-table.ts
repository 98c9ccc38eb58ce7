/**
 * The ensemble benchmark's printed tables (Markdown): the comparison of every shape on
 * every system with the Conclave/ZooKeeper ratios, each member's share of the servers'
 * CPU time, and the Conclave members' event-loop lag.
 */
import type { ShapeResult } from './shape-measure.js'
import { fixed, table, thousands } from './stats.js'

const ratio = (a: number, b: number) => fixed(a / b, 2)

/**
 * comparisonTable has a row per (system, shape) with ops/s, p50 and p99 latency, server
 * CPU µs/op (all members summed) and load generator CPU µs/op, then per shape a
 * Conclave/ZooKeeper row of ratios (above 1: Conclave's figure is the larger).
 */
export function comparisonTable(
  results: readonly ShapeResult[],
  shapes: readonly string[],
): string {
  const rows = [
    [
      'system',
      'shape',
      'ops/s',
      'p50 ms',
      'p99 ms',
      'server CPU µs/op',
      'client CPU µs/op',
      'errors',
    ],
  ]
  const systems = [...new Set(results.map((r) => r.system))]
  for (const system of systems) {
    for (const shape of shapes) {
      const r = results.find((x) => x.system === system && x.shape === shape)
      if (r === undefined) continue
      rows.push([
        system,
        shape,
        thousands(r.opsPerSecond),
        fixed(r.p50Ms, 2),
        fixed(r.p99Ms, 2),
        thousands(r.serverCpuMicrosPerOp),
        thousands(r.generatorCpuMicrosPerOp),
        String(r.errors),
      ])
    }
  }
  for (const shape of shapes) {
    const conclave = results.find((r) => r.system === 'Conclave' && r.shape === shape)
    const zookeeper = results.find((r) => r.system === 'ZooKeeper' && r.shape === shape)
    if (conclave === undefined || zookeeper === undefined) continue
    rows.push([
      'Conclave/ZooKeeper',
      shape,
      ratio(conclave.opsPerSecond, zookeeper.opsPerSecond),
      ratio(conclave.p50Ms, zookeeper.p50Ms),
      ratio(conclave.p99Ms, zookeeper.p99Ms),
      ratio(conclave.serverCpuMicrosPerOp, zookeeper.serverCpuMicrosPerOp),
      ratio(conclave.generatorCpuMicrosPerOp, zookeeper.generatorCpuMicrosPerOp),
      '',
    ])
  }
  return table(rows, 2)
}

/**
 * memberCpuTable shows, per (system, shape), each member's share of the servers' CPU time
 * and its CPU µs per op; `leaders` names each system's leading member (index) to mark it.
 */
export function memberCpuTable(
  results: readonly ShapeResult[],
  leaders: ReadonlyMap<string, number>,
): string {
  const size = Math.max(...results.map((r) => r.memberCpuMicros.length))
  const rows = [
    ['system', 'shape', ...Array.from({ length: size }, (_, i) => `member ${i + 1} % (µs/op)`)],
  ]
  for (const r of results) {
    const leader = leaders.get(r.system)
    rows.push([
      r.system,
      r.shape,
      ...r.memberCpuShares.map(
        (share, i) =>
          `${i === leader ? 'L ' : ''}${fixed(share * 100, 0)}% (${thousands(r.memberCpuMicros[i]! / r.ops)})`,
      ),
    ])
  }
  return table(rows, 2)
}

/**
 * eventLoopTable shows each Conclave member's largest reported event-loop lag per shape
 * (p99 / max ms), or '' when no result carries lag figures.
 */
export function eventLoopTable(results: readonly ShapeResult[]): string {
  const withLag = results.filter((r) => r.eventLoop !== undefined)
  if (withLag.length === 0) return ''
  const size = Math.max(...withLag.map((r) => r.eventLoop!.length))
  const rows = [
    ['system', 'shape', ...Array.from({ length: size }, (_, i) => `member ${i + 1} p99 / max ms`)],
  ]
  for (const r of withLag)
    rows.push([
      r.system,
      r.shape,
      ...r.eventLoop!.map((lag) => `${fixed(lag.lagP99Ms, 1)} / ${fixed(lag.lagMaxMs, 1)}`),
    ])
  return table(rows, 2)
}
