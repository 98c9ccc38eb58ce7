/**
 * Watches: the registry of one-shot, persistent and recursive watches per connection,
 * trigger computation and ZooKeeper's SetWatches rules. Pure and synchronous.
 */
export * from './errors.js'
export * from './path-index.js'
export * from './set-watches.js'
export * from './watch-kinds.js'
export * from './watch-registry.js'
