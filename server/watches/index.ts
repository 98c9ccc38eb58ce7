/**
 * Watches: the registry of one-shot, persistent and recursive watches per connection,
 * trigger computation, the window of recent changes and the replays it allows, and
 * SetWatches for one-shot watches. Pure and synchronous.
 */
export * from './change-window.js'
export * from './errors.js'
export * from './path-index.js'
export * from './replay.js'
export * from './set-watches.js'
export * from './watch-kinds.js'
export * from './watch-registry.js'
