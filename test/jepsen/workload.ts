/**
 * The Jepsen-style workload: concurrent SDK clients, each with its own session over
 * every member, doing creates, versioned sets, deletes, plain reads, sync+reads and
 * linearizable reads on a few dozen keys, one op at a time, every op recorded with
 * its call and return times and its outcome (recorder.ts).
 *
 * Each op touches one key under a permanent parent, so the per-path model of the
 * checker applies. Values are unique per op ("c<client>-<n>"), so a read names the
 * write it saw. Versioned sets and deletes use the version the client last saw for
 * that key (or -1 now and then), so BAD_VERSION and conditional success both occur.
 */
import { connect, ConclaveError, type Client } from '../../client/index.js'
import type { FailureCode, OpInput, OpOutput } from '../checker/index.js'
import type { Recorder } from './recorder.js'
import { ReplyProbe } from './reply-probe.js'

/** OpMix weighs each kind of op; weights need not sum to 1. */
export interface OpMix {
  create: number
  set: number
  delete: number
  read: number
  syncRead: number
  linRead: number
}

/** DEFAULT_MIX keeps writes and each kind of read frequent enough to matter. */
export const DEFAULT_MIX: OpMix = {
  create: 0.15,
  set: 0.25,
  delete: 0.1,
  read: 0.3,
  syncRead: 0.1,
  linRead: 0.1,
}

/** WorkloadOptions configure the clients. */
export interface WorkloadOptions {
  urls: string[]
  clients: number
  /** keys are full paths under a parent that exists before the workload starts. */
  keys: string[]
  recorder: Recorder
  /** randomFor gives each client its own seeded random source. */
  randomFor: (clientId: number) => () => number
  signal: AbortSignal
  mix?: OpMix
  sessionTimeoutMs?: number
  requestTimeoutMs?: number
}

/** WorkloadStats are figures of one workload run. */
export interface WorkloadStats {
  opsByKind: Record<string, number>
  /** errorsByCode counts every error a call raised, by code. */
  errorsByCode: Record<string, number>
  /** sessionsOpened counts distinct sessions the clients used. */
  sessionsOpened: number
  /** replyZxidMismatches counts sets whose reply zxid differed from the new Stat.mzxid (should be 0). */
  replyZxidMismatches: number
  /** unexpected lists errors that are not ConclaveErrors (bugs in the SDK or the harness). */
  unexpected: string[]
}

type Kind = keyof OpMix
const MODEL_CODES: readonly string[] = ['NO_NODE', 'NODE_EXISTS', 'BAD_VERSION']
const decoder = new TextDecoder()

/** runWorkload runs every client until `signal` aborts, then closes them; resolves with figures. */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadStats> {
  const stats: WorkloadStats = {
    opsByKind: {},
    errorsByCode: {},
    sessionsOpened: 0,
    replyZxidMismatches: 0,
    unexpected: [],
  }
  const sessions = new Set<bigint>()
  const workers = Array.from({ length: options.clients }, (_, i) =>
    runClient(i + 1, options, stats, sessions),
  )
  await Promise.all(workers)
  stats.sessionsOpened = sessions.size
  return stats
}

async function openClient(
  options: WorkloadOptions,
  random: () => number,
): Promise<Client | undefined> {
  const servers = shuffle(options.urls, random)
  while (!options.signal.aborted) {
    try {
      return await connect({
        servers,
        sessionTimeoutMs: options.sessionTimeoutMs ?? 6000,
        requestTimeoutMs: options.requestTimeoutMs ?? 8000,
        connectTimeoutMs: 10_000,
        signal: options.signal,
      })
    } catch {
      // No member accepted a session yet (all faulted): try again until the run ends.
    }
  }
  return undefined
}

async function runClient(
  clientId: number,
  options: WorkloadOptions,
  stats: WorkloadStats,
  sessions: Set<bigint>,
): Promise<void> {
  const random = options.randomFor(clientId)
  const client = await openClient(options, random)
  if (client === undefined) return
  const probe = new ReplyProbe(client)
  const versions = new Map<string, number>()
  const mix = options.mix ?? DEFAULT_MIX
  let n = 0
  try {
    while (!options.signal.aborted) {
      const path = options.keys[Math.floor(random() * options.keys.length)] as string
      const kind = pick(mix, random)
      stats.opsByKind[kind] = (stats.opsByKind[kind] ?? 0) + 1
      n++
      const context: OpContext = {
        clientId,
        client,
        probe,
        recorder: options.recorder,
        versions,
        stats,
        random,
        value: `c${clientId}-${n}`,
      }
      await runOp(kind, path, context)
      if (client.sessionId !== 0n) sessions.add(client.sessionId)
    }
  } finally {
    await client.close().catch(() => undefined)
  }
}

interface OpContext {
  clientId: number
  client: Client
  probe: ReplyProbe
  recorder: Recorder
  versions: Map<string, number>
  stats: WorkloadStats
  random: () => number
  value: string
}

function expectedVersion(path: string, context: OpContext): number {
  const known = context.versions.get(path)
  return known === undefined || context.random() < 0.3 ? -1 : known
}

function inputOf(kind: Kind, path: string, context: OpContext): OpInput {
  switch (kind) {
    case 'create':
      return { kind: 'create', path, value: context.value }
    case 'set':
      return {
        kind: 'set',
        path,
        value: context.value,
        expectedVersion: expectedVersion(path, context),
      }
    case 'delete':
      return { kind: 'delete', path, expectedVersion: expectedVersion(path, context) }
    case 'read':
    case 'syncRead':
    case 'linRead':
      return { kind: 'read', path }
  }
}

/** runOp performs one op and records it; it never throws. */
async function runOp(kind: Kind, path: string, context: OpContext): Promise<void> {
  const { client, probe, recorder } = context
  const input = inputOf(kind, path, context)
  probe.clear()
  // Between a lost session and the next one the id is 0n; a per-client stand-in keeps
  // such ops from being lumped together as one session by the session checker.
  const id = recorder.begin(
    context.clientId,
    client.sessionId === 0n ? BigInt(-context.clientId) : client.sessionId,
    input,
  )
  try {
    const { output, plainZxid } = await perform(kind, input, context)
    recorder.ok(id, output, {
      sessionId: client.sessionId,
      ...(plainZxid === undefined ? {} : { plainZxid }),
    })
    learnVersion(context.versions, path, output)
  } catch (err) {
    settleError(id, kind, input, err, context)
  }
}

async function perform(
  kind: Kind,
  input: OpInput,
  context: OpContext,
): Promise<{ output: OpOutput; plainZxid?: bigint }> {
  const { client, probe } = context
  const path = input.path
  switch (input.kind) {
    case 'create': {
      await client.create(path, input.value)
      const reply = probe.take('create', path)
      const stat = (reply?.result as { stat?: { mzxid: bigint } } | undefined)?.stat
      const zxid = stat?.mzxid ?? reply?.zxid
      return { output: { ok: true, version: 0, ...(zxid === undefined ? {} : { zxid }) } }
    }
    case 'set': {
      const stat = await client.set(path, input.value, { version: input.expectedVersion })
      const reply = probe.take('set', path)
      if (reply !== undefined && reply.zxid !== stat.mzxid) context.stats.replyZxidMismatches++
      return { output: { ok: true, version: stat.version, zxid: stat.mzxid } }
    }
    case 'delete': {
      await client.delete(path, { version: input.expectedVersion })
      const reply = probe.take('delete', path)
      return { output: { ok: true, ...(reply === undefined ? {} : { zxid: reply.zxid }) } }
    }
    case 'read':
      break
  }
  if (kind === 'read') {
    const output = await readOnce(context, path, false)
    return { output, plainZxid: output.zxid as bigint }
  }
  if (kind === 'syncRead') await client.sync(path)
  return { output: await readOnce(context, path, kind === 'linRead') }
}

/** NoReplyZxid means the probe missed a reply: the op cannot be recorded faithfully. */
class NoReplyZxid extends Error {}

async function readOnce(
  context: OpContext,
  path: string,
  linearizable: boolean,
): Promise<OpOutput & { ok: true }> {
  try {
    const { data, stat } = await context.client.get(
      path,
      linearizable ? { linearizable: true } : {},
    )
    const reply = context.probe.take('get', path)
    if (reply === undefined) throw new NoReplyZxid(`no reply zxid for get ${path}`)
    return {
      ok: true,
      exists: true,
      value: decoder.decode(data),
      version: stat.version,
      mzxid: stat.mzxid,
      zxid: reply.zxid,
    }
  } catch (err) {
    if (!(err instanceof ConclaveError) || err.code !== 'NO_NODE') throw err
    const reply = context.probe.take('get', path)
    if (reply === undefined) throw new NoReplyZxid(`no reply zxid for get ${path} (NO_NODE)`)
    return { ok: true, exists: false, zxid: reply.zxid }
  }
}

function settleError(
  id: number,
  kind: Kind,
  input: OpInput,
  err: unknown,
  context: OpContext,
): void {
  const { recorder, stats } = context
  if (!(err instanceof ConclaveError)) {
    stats.unexpected.push(
      `${kind} ${input.path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    )
    stats.errorsByCode.UNEXPECTED = (stats.errorsByCode.UNEXPECTED ?? 0) + 1
    // Nothing is known about what happened: a write stays open, a read is dropped.
    recorder.unknown(id, 'unexpected error')
    return
  }
  stats.errorsByCode[err.code] = (stats.errorsByCode[err.code] ?? 0) + 1
  if (input.kind !== 'read' && MODEL_CODES.includes(err.code) && err.definite) {
    recorder.fail(id, err.code as FailureCode, { sessionId: context.client.sessionId })
    // Whatever the failure, the version this client knew is no longer a good guess.
    context.versions.delete(input.path)
    return
  }
  if (!err.definite) return recorder.unknown(id, err.code)
  recorder.drop(id, err.code)
}

function learnVersion(versions: Map<string, number>, path: string, output: OpOutput): void {
  if (!output.ok) return
  if (output.exists === false) versions.delete(path)
  else if (output.version !== undefined) versions.set(path, output.version)
  else versions.delete(path) // a delete
}

function pick(mix: OpMix, random: () => number): Kind {
  const entries = Object.entries(mix) as [Kind, number][]
  const total = entries.reduce((sum, [, w]) => sum + w, 0)
  let r = random() * total
  for (const [kind, weight] of entries) {
    r -= weight
    if (r < 0) return kind
  }
  return entries[entries.length - 1]![0]
}

/** shuffle returns a copy of `items` in a random order (Fisher-Yates). */
export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j] as T, out[i] as T]
  }
  return out
}
