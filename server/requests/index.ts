/** Request preparation: the txn builder, its pending state, validation, reads and write replies. */
export * from './txn-builder.js'
export * from './pending-state.js'
export * from './validate.js'
export * from './reply.js'
export * from './reads.js'
export * from './write-reply.js'
export * from './acl.js'
