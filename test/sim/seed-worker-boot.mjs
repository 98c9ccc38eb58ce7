/**
 * Bootstrap for the seed loop's worker threads: registers tsx's TypeScript loader in
 * the worker (a worker does not inherit the loader hooks of a vitest or tsx parent)
 * and then loads the TypeScript entry named in workerData. Plain JavaScript because it
 * runs before any loader exists.
 */
import { workerData } from 'node:worker_threads'
import { register } from 'tsx/esm/api'

register()
await import(workerData.entry)
