/**
 * CPU time of the server processes and of the load generator over a measured window:
 * utime + stime of each member from /proc/<pid>/stat (all of a process's threads, so a
 * JVM's GC and JIT threads count too), and process.cpuUsage() for this process.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/**
 * clockTicksPerSecond is the kernel's USER_HZ, the unit of /proc/<pid>/stat's times, read
 * once from `getconf CLK_TCK`; 100 (what every Linux on x86 and arm64 reports) if
 * getconf is missing.
 */
export const clockTicksPerSecond: number = (() => {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100
  } catch {
    return 100
  }
})()

/** processCpuMicros is `pid`'s user + system CPU time in µs, or undefined if it cannot be read (gone). */
export function processCpuMicros(pid: number): number | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // Field 2 (comm) is in parentheses and may hold spaces; fields 14 and 15 (utime,
  // stime) are the 12th and 13th after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return Number.isFinite(ticks) ? (ticks * 1e6) / clockTicksPerSecond : undefined
}

/** CpuSample is one reading of every member's and the load generator's CPU time. */
export interface CpuSample {
  /** members holds each member's CPU µs, in member order (NaN where unreadable). */
  readonly members: readonly number[]
  readonly generator: NodeJS.CpuUsage
}

/** CpuUsed is the CPU time spent between two samples, in µs. */
export interface CpuUsed {
  /** memberMicros holds each member's CPU µs in the window (NaN where unreadable). */
  memberMicros: number[]
  /** serverMicros is the sum over the members. */
  serverMicros: number
  /** generatorMicros is the load generator's (this process's) user + system CPU µs. */
  generatorMicros: number
}

/** sampleCpu reads the CPU time of the processes `pids` (in member order) and of this process. */
export function sampleCpu(pids: readonly (number | undefined)[]): CpuSample {
  return {
    members: pids.map((pid) => (pid === undefined ? NaN : (processCpuMicros(pid) ?? NaN))),
    generator: process.cpuUsage(),
  }
}

/** cpuBetween is the CPU time spent from `start` to `end`; /proc's resolution is one clock tick (10 ms at 100 Hz). */
export function cpuBetween(start: CpuSample, end: CpuSample): CpuUsed {
  const memberMicros = end.members.map((micros, i) => micros - start.members[i]!)
  const generatorMicros =
    end.generator.user - start.generator.user + end.generator.system - start.generator.system
  return {
    memberMicros,
    serverMicros: memberMicros.reduce((sum, m) => sum + m, 0),
    generatorMicros,
  }
}
