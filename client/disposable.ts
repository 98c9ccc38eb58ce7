/**
 * `Symbol.asyncDispose` for the SDK's declarations in any TypeScript project. The client
 * is `await using`-disposable, so its declarations name `Symbol.asyncDispose`; without
 * this, a project whose `lib` predates ESNext.Disposable (say ES2022 + DOM) and has no
 * Node.js types would fail to compile them. The same declaration as TypeScript's own lib
 * and @types/node, so it merges with either.
 */
declare global {
  interface SymbolConstructor {
    readonly asyncDispose: unique symbol
  }
}

export {}
