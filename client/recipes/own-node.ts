/**
 * A contender's own node: created "protected" so that a lost create reply does not
 * leave an orphan, and deleted with retries so that a release during a connection
 * loss is not forgotten.
 *
 * Protected create (Curator's withProtection, kazoo's Lock): the node's name carries a
 * prefix unique to this attempt. When a create fails with `definite: false` (the
 * connection dropped or the call timed out after it was sent), the node may exist; the
 * next call on the same session is answered only after that create has been decided
 * (per-session FIFO; a create still travelling through a member the session left fails
 * with SESSION_MOVED), so listing the parent then tells for sure. A node found with our
 * prefix is adopted only if the current session owns it: one left by a session that is
 * over is doomed, and adopting it would grant a lock on a dying node (CURATOR-604).
 */
import { ConclaveError, NoNodeError, NodeExistsError, SessionExpiredError } from '../errors.js'
import { op } from '../multi-op.js'
import type { Stat } from '../../protocol/index.js'
import type { Data } from '../data.js'
import type { RecipeClient } from './recipe-client.js'
import { childOf, newProtectionId, parseContender, protectedPrefix } from './names.js'
import { backoffMs, isRetryable, retry, sleep, throwIfAborted } from './retry.js'

/** OwnNode is a contender node this client created. */
export interface OwnNode {
  path: string
  name: string
  /** stat is the node's Stat at creation; `czxid` is the fencing token of whatever it comes to own. */
  stat: Stat
  /** sessionId is the session that owns the node (its ephemeralOwner). */
  sessionId: bigint
  protectionId: string
}

/** CreateContenderOptions shape one protected create. */
export interface CreateContenderOptions {
  signal?: AbortSignal
  /** mode is the node's mode; default 'ephemeral-sequential' (a queue item is 'persistent-sequential'). */
  mode?: 'ephemeral-sequential' | 'persistent-sequential'
  /** ensureParent makes the parent when the create finds it missing; default: a container, with persistent ancestors. */
  ensureParent?: () => Promise<void>
}

/** RETRY_BASE_MS and RETRY_CAP_MS pace the recipes' own retries of passing failures. */
export const RETRY_BASE_MS = 25
export const RETRY_CAP_MS = 1000

/**
 * createContender creates `parent/_c_<id>-<kind>-<seq>` as an ephemeral (or persistent)
 * sequential node and returns it. Passing failures are retried; a parent that is missing is created.
 * If `signal` aborts, any node this attempt may have made is deleted in the background.
 */
export async function createContender(
  client: RecipeClient,
  parent: string,
  kind: string,
  data: Data,
  options: CreateContenderOptions = {},
): Promise<OwnNode> {
  const protectionId = newProtectionId()
  const requested = childOf(parent, protectedPrefix(protectionId, kind))
  const ensureParent =
    options.ensureParent ?? (() => ensureContainer(client, parent, options.signal))
  const signal = options.signal
  try {
    for (let failures = 0; ;) {
      throwIfAborted(signal)
      try {
        const [result] = await client.multi(
          [op.create(requested, data, { mode: options.mode ?? 'ephemeral-sequential' })],
          signal === undefined ? {} : { signal },
        )
        if (result?.path === undefined || result.stat === undefined)
          throw new ConclaveError('SYSTEM_ERROR', 'create in a multi returned no path or Stat')
        return ownNode(result.path, result.stat, protectionId)
      } catch (error) {
        if (error instanceof NoNodeError) {
          await ensureParent()
          continue
        }
        if (error instanceof ConclaveError && !error.definite) {
          throwIfAborted(signal)
          const found = await findOwn(client, parent, protectionId, signal)
          if (found !== null) return found
        }
        if (!isRetryable(error, true)) throw error
        await sleep(backoffMs(++failures, RETRY_BASE_MS, RETRY_CAP_MS), signal)
      }
    }
  } catch (error) {
    // The create may have gone through before the abort: leave nothing behind.
    // (in the background: discardProtected never rejects; the caller hears the abort now).
    if (signal?.aborted === true) void discardProtected(client, parent, protectionId)
    throw error
  }
}

/** ensureContainer creates `path` as a container (ancestors persistent); an existing node is fine. */
export async function ensureContainer(
  client: RecipeClient,
  path: string,
  signal?: AbortSignal,
  data: Data = '',
): Promise<void> {
  await retry(
    async () => {
      try {
        await client.create(path, data, {
          mode: 'container',
          makeParents: true,
          ...(signal === undefined ? {} : { signal }),
        })
      } catch (error) {
        if (!(error instanceof NodeExistsError)) throw error
      }
    },
    {
      maxAttempts: Infinity,
      idempotent: true,
      baseDelayMs: RETRY_BASE_MS,
      maxDelayMs: RETRY_CAP_MS,
      ...(signal === undefined ? {} : { signal }),
    },
  )
}

/**
 * findOwn looks under `parent` for the node of `protectionId`: the one owned by the
 * current session is returned; any left by an earlier session is deleted (it is ours,
 * and it would otherwise hold a place in line until the server expires it).
 */
async function findOwn(
  client: RecipeClient,
  parent: string,
  protectionId: string,
  signal: AbortSignal | undefined,
): Promise<OwnNode | null> {
  const options = signal === undefined ? {} : { signal }
  const retrying = {
    maxAttempts: Infinity,
    baseDelayMs: RETRY_BASE_MS,
    maxDelayMs: RETRY_CAP_MS,
    ...options,
  }
  let names: string[]
  try {
    names = await retry(() => client.children(parent, options), retrying)
  } catch (error) {
    if (error instanceof NoNodeError) return null
    throw error
  }
  let found: OwnNode | null = null
  for (const name of names) {
    if (parseContender(name)?.protectionId !== protectionId) continue
    const path = childOf(parent, name)
    const stat = await retry(() => client.exists(path, options), retrying)
    if (stat === null) continue
    // A persistent node (ephemeralOwner 0) is ours whatever the session.
    const mine = stat.ephemeralOwner === client.sessionId || stat.ephemeralOwner === 0n
    if (mine && found === null) found = ownNode(path, stat, protectionId)
    else void deleteNode(client, path) // in the background; deleteNode never rejects
  }
  return found
}

function ownNode(path: string, stat: Stat, protectionId: string): OwnNode {
  return {
    path,
    name: path.slice(path.lastIndexOf('/') + 1),
    stat,
    sessionId: stat.ephemeralOwner,
    protectionId,
  }
}

/**
 * deleteNode deletes a node this client owns, retrying passing failures until it is
 * gone, the session that owned it is over (the server deletes it then), or the client
 * is closed. It never rejects. After a session loss one more attempt runs on the new
 * session, because the client may have given the old one up before the server expired it.
 */
export async function deleteNode(client: RecipeClient, path: string): Promise<void> {
  let expiries = 0
  for (let failures = 0; ;) {
    try {
      await client.delete(path)
      return
    } catch (error) {
      if (error instanceof NoNodeError) return
      if (error instanceof SessionExpiredError && ++expiries <= 1) continue
      if (!isRetryable(error, true)) return
    }
    await sleep(backoffMs(++failures, RETRY_BASE_MS, RETRY_CAP_MS))
  }
}

/** discardProtected deletes whatever node of `protectionId` exists under `parent`; never rejects. */
export async function discardProtected(
  client: RecipeClient,
  parent: string,
  protectionId: string,
): Promise<void> {
  try {
    const names = await retry(() => client.children(parent), {
      maxAttempts: Infinity,
      baseDelayMs: RETRY_BASE_MS,
      maxDelayMs: RETRY_CAP_MS,
    })
    await Promise.all(
      names
        .filter((name) => parseContender(name)?.protectionId === protectionId)
        .map((name) => deleteNode(client, childOf(parent, name))),
    )
  } catch {
    // Parent gone, session over or client closed: nothing of ours is left to delete.
  }
}
