/**
 * Sessions: the replicated session table with the leader's bucketed expiry clock, the
 * session id generator and the constant-time password check. Pure and synchronous.
 */
export * from './errors.js'
export * from './expiry-queue.js'
export * from './passwords.js'
export * from './session-ids.js'
export * from './session-table.js'
