/**
 * Runs one load shape against one ensemble's sessions: every slot (client x in-flight)
 * keeps one request outstanding through a warm-up and then a measured window. The
 * window's edges are timers in this process, and the caller's hooks run at exactly those
 * instants, so whatever they sample (CPU time, lag) covers the same span as the count.
 */
import { mulberry32 } from '../../test/helpers/mulberry32.js'
import type { BenchSession } from './session.js'
import { keyOf, type Shape } from './shapes.js'
import { percentile } from './stats.js'

/** MIX_GET_SHARE is the share of gets in the `mix` shape; the rest are sets. */
export const MIX_GET_SHARE = 0.9

/** ShapeRunOptions: timing, the value written, the per-call deadline and the mix's seed. */
export interface ShapeRunOptions {
  warmupSeconds: number
  seconds: number
  value: Uint8Array
  callTimeoutMs: number
  /** seed makes the `mix` shape's choices repeatable: slot i of a run draws from mulberry32(seed + i). */
  seed: number
  /** onWindowStart runs when the measured window opens (after the warm-up). */
  onWindowStart?: () => void
  /** onWindowEnd runs when the measured window closes, before the outstanding requests drain. */
  onWindowEnd?: () => void
}

/** ShapeRun is what one run of a shape measured: replies inside the window, and their latencies. */
export interface ShapeRun {
  /** ops is how many replies arrived inside the window. */
  ops: number
  /** windowSeconds is the window's actual length (timers may fire a little late). */
  windowSeconds: number
  opsPerSecond: number
  p50Ms: number
  p99Ms: number
  /** errors counts failed requests (errors and bench-side deadlines) that ended inside the window. */
  errors: number
}

/** createSeq numbers created nodes across every run of the process, so no create ever hits an existing node. */
let createSeq = 0

/**
 * runShape drives `shape` on the first `shape.clients` of `sessions` (sessions[c] is
 * client c) and resolves once every slot has stopped and its last request has settled.
 */
export async function runShape(
  sessions: readonly BenchSession[],
  shape: Shape,
  options: ShapeRunOptions,
): Promise<ShapeRun> {
  if (sessions.length < shape.clients)
    throw new Error(`shape ${shape.name} needs ${shape.clients} sessions, have ${sessions.length}`)
  const { value, callTimeoutMs } = options
  const latencies: number[] = []
  let errors = 0
  let phase: 'warmup' | 'measuring' | 'done' = 'warmup'
  let windowStart = 0
  let windowEnd = 0
  const startTimer = setTimeout(() => {
    options.onWindowStart?.()
    windowStart = performance.now()
    phase = 'measuring'
  }, options.warmupSeconds * 1000)
  const endTimer = setTimeout(
    () => {
      windowEnd = performance.now()
      phase = 'done'
      options.onWindowEnd?.()
    },
    (options.warmupSeconds + options.seconds) * 1000,
  )

  const request = (session: BenchSession, key: string, pick: () => number): Promise<void> => {
    switch (shape.op) {
      case 'set':
        return session.set(key, value, callTimeoutMs)
      case 'get':
        return session.get(key, callTimeoutMs)
      case 'create':
        return session.ensure(`/bench-create/n${++createSeq}`, value, callTimeoutMs)
      case 'mix':
        return pick() < MIX_GET_SHARE
          ? session.get(key, callTimeoutMs)
          : session.set(key, value, callTimeoutMs)
    }
  }

  const slot = async (client: number, s: number, pick: () => number) => {
    const session = sessions[client]!
    const key = keyOf(client, s)
    while (phase !== 'done') {
      const startedAt = performance.now()
      try {
        await request(session, key, pick)
        // Replies and the window's timers run on this one event loop, so `phase` here is
        // exactly whether the reply came inside the window the hooks sampled.
        if (phase === 'measuring') latencies.push(performance.now() - startedAt)
      } catch {
        if (phase === 'measuring') errors++
      }
    }
  }

  try {
    await Promise.all(
      Array.from({ length: shape.clients }, (_, client) =>
        Array.from({ length: shape.inFlight }, (_, s) =>
          slot(client, s, mulberry32(options.seed + client * shape.inFlight + s)),
        ),
      ).flat(),
    )
  } finally {
    clearTimeout(startTimer)
    clearTimeout(endTimer)
  }
  const windowSeconds = (windowEnd - windowStart) / 1000
  return {
    ops: latencies.length,
    windowSeconds,
    opsPerSecond: windowSeconds > 0 ? latencies.length / windowSeconds : NaN,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    errors,
  }
}
