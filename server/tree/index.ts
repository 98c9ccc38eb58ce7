/** The znode tree: DataTree and its types. */
export * from './data-tree.js'
export * from './znode.js'
export * from './digest.js'
