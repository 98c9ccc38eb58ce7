/**
 * The deliberate bugs the simulator can plant (CONCLAVE_SIM_BUG), to prove it can
 * fail: the core's protocol bugs (server/core/config.ts SimBug) and the Ready
 * executor's (server/runtime/ready-executor.ts ExecutorBug), both in shipped code.
 */
import { SIM_BUGS, type SimBug } from '../../server/core/index.js'
import { EXECUTOR_BUGS, type ExecutorBug } from '../../server/runtime/ready-executor.js'

/** PlantedBug names one deliberate bug. */
export type PlantedBug = SimBug | ExecutorBug

/** PLANTED_BUGS lists every bug CONCLAVE_SIM_BUG accepts. */
export const PLANTED_BUGS: readonly PlantedBug[] = [...SIM_BUGS, ...EXECUTOR_BUGS]

/** coreBug is the bug to plant in the core, if `bug` is one of the core's. */
export function coreBug(bug: PlantedBug | undefined): SimBug | undefined {
  return (SIM_BUGS as readonly string[]).includes(bug ?? '') ? (bug as SimBug) : undefined
}

/** executorBug is the bug to plant in the Ready executor, if `bug` is one of its. */
export function executorBug(bug: PlantedBug | undefined): ExecutorBug | undefined {
  return (EXECUTOR_BUGS as readonly string[]).includes(bug ?? '') ? (bug as ExecutorBug) : undefined
}
