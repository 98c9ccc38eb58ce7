/**
 * Worker-thread entry for the seed loop: runs the seeds its parent sends, one at a
 * time, and posts each SeedResult back. Seeds are independent and deterministic, so
 * which worker runs a seed never changes its outcome or its trace hash.
 */
import { parentPort } from 'node:worker_threads'
import type { PlantedBug } from './planted-bugs.js'
import { runSeed } from './run.js'
import type { FrontBug } from '../../server/runtime/client-front.js'

/** SeedJob is one seed for a worker to run. */
export interface SeedJob {
  readonly seed: number
  readonly steps: number
  readonly bug: PlantedBug | undefined
  readonly frontBug: FrontBug | undefined
}

if (parentPort !== null) {
  const port = parentPort
  port.on('message', (job: SeedJob) => {
    port.postMessage(
      runSeed({ seed: job.seed, steps: job.steps, bug: job.bug, frontBug: job.frontBug }),
    )
  })
}
