/**
 * Worker-thread entry for the seed loop: runs the seeds its parent sends, one at a
 * time, and posts each SeedResult back. Seeds are independent and deterministic, so
 * which worker runs a seed never changes its outcome or its trace hash.
 */
import { parentPort } from 'node:worker_threads'
import type { SimBug } from '../../server/core/index.js'
import { runSeed } from './run.js'
import type { FrontEndFault } from './server-clients.js'

/** SeedJob is one seed for a worker to run. */
export interface SeedJob {
  readonly seed: number
  readonly steps: number
  readonly bug: SimBug | undefined
  readonly frontEndFault: FrontEndFault | undefined
}

if (parentPort !== null) {
  const port = parentPort
  port.on('message', (job: SeedJob) => {
    port.postMessage(
      runSeed({ seed: job.seed, steps: job.steps, bug: job.bug, frontEndFault: job.frontEndFault }),
    )
  })
}
