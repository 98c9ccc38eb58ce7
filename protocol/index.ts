/**
 * The Conclave protocol: types and codec shared by the server and every client.
 */
export * from './zxid.js'
export * from './error-codes.js'
export * from './limits.js'
export * from './paths.js'
export * from './types.js'
export * from './txn.js'
export * from './txn-size.js'
export * from './byte-budget.js'
export * from './client-messages.js'
export * from './codec.js'
export * from './peer-messages.js'
