/**
 * One measurement of one shape on one system: the shape runner's counts and latencies,
 * plus the CPU time every member and the load generator spent in the same window, and
 * (Conclave) each member's event-loop lag. Also the median of several such measurements.
 */
import { cpuBetween, sampleCpu, type CpuSample } from './cpu-sampler.js'
import type { BenchEnsemble } from './ensemble.js'
import { EventLoopProbe, type MemberLag } from './event-loop-probe.js'
import type { BenchSession } from './session.js'
import { runShape, type ShapeRun, type ShapeRunOptions } from './shape-runner.js'
import type { Shape } from './shapes.js'
import { median } from './stats.js'

/** ShapeResult is one (system, shape) measurement; CPU figures are µs of CPU time per reply counted. */
export interface ShapeResult extends ShapeRun {
  system: string
  shape: string
  /** serverCpuMicrosPerOp sums every member's CPU time in the window, divided by the ops counted. */
  serverCpuMicrosPerOp: number
  /** generatorCpuMicrosPerOp is the load generator's CPU time in the window per op. */
  generatorCpuMicrosPerOp: number
  /** generatorCores is the load generator's CPU time over the window's length (1 = one core busy). */
  generatorCores: number
  /** memberCpuMicros is each member's CPU time in the window, in member order. */
  memberCpuMicros: number[]
  /** memberCpuShares is each member's share (0..1) of the servers' CPU time in the window. */
  memberCpuShares: number[]
  /** eventLoop is each member's largest reported lag in the window (Conclave only). */
  eventLoop?: MemberLag[]
}

/** measureShape runs `shape` on `sessions` of `ensemble`, sampling CPU time at the window's edges. */
export async function measureShape(
  ensemble: BenchEnsemble,
  sessions: readonly BenchSession[],
  shape: Shape,
  options: Omit<ShapeRunOptions, 'onWindowStart' | 'onWindowEnd'>,
): Promise<ShapeResult> {
  const pids = Array.from({ length: ensemble.size }, (_, i) => ensemble.pid(i))
  const probe = new EventLoopProbe(ensemble)
  let start: CpuSample | undefined
  let end: CpuSample | undefined
  const run = await runShape(sessions, shape, {
    ...options,
    onWindowStart: () => {
      start = sampleCpu(pids)
      probe.start()
    },
    onWindowEnd: () => (end = sampleCpu(pids)),
  })
  const eventLoop = await probe.stop()
  if (start === undefined || end === undefined) throw new Error('the measured window never closed')
  const cpu = cpuBetween(start, end)
  return {
    system: ensemble.system,
    shape: shape.name,
    ...run,
    serverCpuMicrosPerOp: cpu.serverMicros / run.ops,
    generatorCpuMicrosPerOp: cpu.generatorMicros / run.ops,
    generatorCores: cpu.generatorMicros / 1e6 / run.windowSeconds,
    memberCpuMicros: cpu.memberMicros,
    memberCpuShares: cpu.memberMicros.map((m) => m / cpu.serverMicros),
    ...(eventLoop === undefined ? {} : { eventLoop }),
  }
}

/** medianResult combines the repeats of one (system, shape): the median of each figure, errors summed. */
export function medianResult(runs: readonly ShapeResult[]): ShapeResult {
  const first = runs[0]
  if (first === undefined) throw new Error('no runs to combine')
  const m = (f: (r: ShapeResult) => number) => median(runs.map(f))
  const perMember = (f: (r: ShapeResult, i: number) => number) =>
    first.memberCpuMicros.map((_, i) => m((r) => f(r, i)))
  const lag = first.eventLoop
  return {
    system: first.system,
    shape: first.shape,
    ops: m((r) => r.ops),
    windowSeconds: m((r) => r.windowSeconds),
    opsPerSecond: m((r) => r.opsPerSecond),
    p50Ms: m((r) => r.p50Ms),
    p99Ms: m((r) => r.p99Ms),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    serverCpuMicrosPerOp: m((r) => r.serverCpuMicrosPerOp),
    generatorCpuMicrosPerOp: m((r) => r.generatorCpuMicrosPerOp),
    generatorCores: m((r) => r.generatorCores),
    memberCpuMicros: perMember((r, i) => r.memberCpuMicros[i]!),
    memberCpuShares: perMember((r, i) => r.memberCpuShares[i]!),
    ...(lag === undefined
      ? {}
      : {
          eventLoop: lag.map((_, i) => ({
            lagMaxMs: m((r) => r.eventLoop?.[i]?.lagMaxMs ?? NaN),
            lagP99Ms: m((r) => r.eventLoop?.[i]?.lagP99Ms ?? NaN),
          })),
        }),
  }
}
