/**
 * The defaults of `conclave ensemble` that its flag definitions show, kept apart from
 * the layout code so that parsing flags loads nothing else.
 */

/** ENSEMBLE_SIZE_MAX is the largest local ensemble; nine members is already more than a laptop needs. */
export const ENSEMBLE_SIZE_MAX = 9

/** DEFAULT_BASE_PORT is member 1's client port. */
export const DEFAULT_BASE_PORT = 2281
