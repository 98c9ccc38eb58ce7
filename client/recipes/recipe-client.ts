/**
 * The part of the SDK the recipes use. Recipes are built on the public Client API only;
 * naming that surface as a type lets tests hand a recipe a wrapped client (counting
 * calls, delaying replies) without reaching into the SDK.
 */
import type { Client } from '../client.js'

/** RecipeClient is what every recipe needs from a client; a connected `Client` is one. */
export type RecipeClient = Pick<
  Client,
  | 'create'
  | 'get'
  | 'exists'
  | 'set'
  | 'delete'
  | 'children'
  | 'multi'
  | 'sync'
  | 'watch'
  | 'on'
  | 'off'
  | 'state'
  | 'sessionId'
  | 'lastZxid'
>
