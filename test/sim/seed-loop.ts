/**
 * runSeeds: the seed loop behind `npm run sim` and the simulator's vitest files. It
 * runs seeds `firstSeed .. firstSeed + seeds - 1`, in this thread or spread over
 * worker threads (each takes the next seed when it finishes one, so a slow seed does
 * not hold the others up), and reports every result as it arrives plus a summary.
 * Results are keyed by seed, so the summary does not depend on which worker ran what.
 */
import { availableParallelism } from 'node:os'
import { inspect } from 'node:util'
import { Worker } from 'node:worker_threads'
import type { PlantedBug } from './planted-bugs.js'
import { runSeed, type SeedResult } from './run.js'
import type { SeedJob } from './seed-worker.js'
import type { FrontBug } from '../../server/runtime/client-front.js'
import { summarize, type LoopSummary } from './summary.js'

/** LoopOptions configure a run of many seeds. */
export interface LoopOptions {
  readonly seeds: number
  readonly firstSeed?: number
  readonly steps: number
  readonly bug?: PlantedBug | undefined
  /** frontBug plants a runtime bug (for the tests proving the history checkers can fail). */
  readonly frontBug?: FrontBug | undefined
  /** workers is the number of worker threads; 1 runs in this thread. Default: the number of cores. */
  readonly workers?: number
  /** stopAtFirstViolation stops handing out seeds once one fails (for the bug-switch tests). */
  readonly stopAtFirstViolation?: boolean
  /** onResult is called for every seed as it finishes, in completion order. */
  readonly onResult?: (result: SeedResult) => void
}

/** runSeeds runs the seeds and resolves with the summary (results sorted by seed). */
export async function runSeeds(options: LoopOptions): Promise<LoopSummary> {
  if (!Number.isSafeInteger(options.seeds) || options.seeds < 1)
    throw new RangeError(`seeds must be a positive integer, got ${String(options.seeds)}`)
  if (!Number.isSafeInteger(options.steps) || options.steps < 1)
    throw new RangeError(`steps must be a positive integer, got ${String(options.steps)}`)
  const firstSeed = options.firstSeed ?? 1
  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), options.seeds))
  const startedMs = performance.now()
  const results =
    workers === 1
      ? runInThread(options, firstSeed)
      : await runInWorkers(options, firstSeed, workers)
  results.sort((a, b) => a.seed - b.seed)
  return summarize(results, performance.now() - startedMs)
}

function runInThread(options: LoopOptions, firstSeed: number): SeedResult[] {
  const results: SeedResult[] = []
  for (let seed = firstSeed; seed < firstSeed + options.seeds; seed++) {
    const result = runSeed({
      seed,
      steps: options.steps,
      bug: options.bug,
      frontBug: options.frontBug,
    })
    results.push(result)
    options.onResult?.(result)
    if (result.violation !== undefined && options.stopAtFirstViolation === true) break
  }
  return results
}

/**
 * startWorker starts a seed worker. Neither tsx's nor vitest's loader reaches a
 * worker thread, so a small JavaScript bootstrap registers tsx and then loads the
 * TypeScript entry.
 */
function startWorker(): Worker {
  const entry = new URL('./seed-worker.ts', import.meta.url).href
  return new Worker(new URL('./seed-worker-boot.mjs', import.meta.url), { workerData: { entry } })
}

function runInWorkers(
  options: LoopOptions,
  firstSeed: number,
  workerCount: number,
): Promise<SeedResult[]> {
  const results: SeedResult[] = []
  const lastSeed = firstSeed + options.seeds - 1
  let nextSeed = firstSeed
  let stopped = false
  return new Promise((resolve, reject) => {
    let running = workerCount
    const pool: Worker[] = []
    const finish = (error?: unknown) => {
      for (const w of pool) void w.terminate()
      if (error !== undefined) reject(error instanceof Error ? error : new Error(inspect(error)))
      else resolve(results)
    }
    const feed = (worker: Worker) => {
      if (stopped || nextSeed > lastSeed) {
        running -= 1
        if (running === 0) finish()
        return
      }
      const job: SeedJob = {
        seed: nextSeed++,
        steps: options.steps,
        bug: options.bug,
        frontBug: options.frontBug,
      }
      worker.postMessage(job)
    }
    for (let i = 0; i < workerCount; i++) {
      const worker = startWorker()
      pool.push(worker)
      worker.on('message', (result: SeedResult) => {
        results.push(result)
        options.onResult?.(result)
        if (result.violation !== undefined && options.stopAtFirstViolation === true) stopped = true
        feed(worker)
      })
      worker.on('error', (error) => finish(error))
      // Messages wait in the worker's port until its listener is attached.
      feed(worker)
    }
  })
}
