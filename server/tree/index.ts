/** The znode tree: DataTree, its node and snapshot records, the digest and its errors. */
export * from './data-tree.js'
export * from './znode.js'
export * from './digest.js'
export * from './errors.js'
