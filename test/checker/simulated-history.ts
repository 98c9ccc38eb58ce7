/**
 * simulateHistory: realistic histories from a correct (or deliberately faulty)
 * in-memory znode store, for the checker's self-tests and for anyone who needs a
 * known-good history to compare with.
 *
 * Clients issue one request at a time (like one SDK call awaited after another) on a
 * shared virtual clock. Every request gets a linearization point inside its interval;
 * the store applies requests in the order of those points, giving zxids to successful
 * writes. Some requests lose their reply (unknown outcome); half of those unknown
 * writes never take effect. Plain reads are answered from a lagging replica: any state
 * between what the session has already seen and the leader's newest.
 *
 * Faults, used to prove the checkers catch bugs: `stale-read` makes some linearizable
 * reads answer from the state before the path's latest write; `session-goes-back`
 * makes some plain reads answer from before what the session has seen.
 */
import { makeZxid, type Zxid } from '../../protocol/zxid.js'
import type { OpInput, Operation, OpOutput } from './history.js'
import { ABSENT, applyInput, type ZnodeState } from './model.js'

/** RandomSource supplies uniform integers in [0, maxExclusive); seed it for replayable runs. */
export interface RandomSource {
  int(maxExclusive: number): number
}

/** SimulatedFault is a bug the simulated store can be told to have. */
export type SimulatedFault = 'none' | 'stale-read' | 'session-goes-back'

/** SimulatedHistoryOptions shapes the generated history. Times are virtual ticks. */
export interface SimulatedHistoryOptions {
  readonly operationCount: number
  readonly pathCount: number
  readonly clientCount: number
  /** unknownRate is the fraction of ops whose reply is lost (0..1). */
  readonly unknownRate: number
  /** plainReadRate is the fraction of reads that are plain rather than linearizable (0..1). */
  readonly plainReadRate?: number
  /** latencyTicksMax bounds call-to-apply and apply-to-reply; larger means more overlap. */
  readonly latencyTicksMax: number
  /** thinkTicksMax bounds the pause between a client's reply and its next call. */
  readonly thinkTicksMax: number
  readonly fault?: SimulatedFault
  /** faultRate is the fraction of eligible reads the fault hits; default 0.1. */
  readonly faultRate?: number
}

interface PlannedOp {
  readonly index: number
  readonly clientId: number
  readonly path: string
  readonly kind: OpInput['kind']
  readonly plain: boolean
  readonly callTime: number
  readonly applyTime: number
  readonly returnTime: number
  readonly unknown: boolean
  readonly neverApplied: boolean
}

/** PathVersion is one state of a path and the zxid that produced it. */
interface PathVersion {
  readonly zxid: Zxid
  readonly state: ZnodeState
}

const EPOCH = 1

/** simulateHistory generates a history; op ids are 0..operationCount-1 in call order per client. */
export function simulateHistory(
  options: SimulatedHistoryOptions,
  random: RandomSource,
): Operation[] {
  const planned = planTimeline(options, random)
  const store = new SimulatedStore(options, random)
  const byApplyTime = [...planned].sort((a, b) => a.applyTime - b.applyTime || a.index - b.index)
  const history: Operation[] = new Array<Operation>(planned.length)
  for (const op of byApplyTime) history[op.index] = store.execute(op)
  return history
}

/** planTimeline decides who calls what when; the client that is free first goes next. */
function planTimeline(options: SimulatedHistoryOptions, random: RandomSource): PlannedOp[] {
  const freeAt = new Array<number>(options.clientCount).fill(0)
  const latency = (): number => 1 + random.int(options.latencyTicksMax)
  const planned: PlannedOp[] = []
  for (let index = 0; index < options.operationCount; index += 1) {
    const clientId = freeAt.indexOf(Math.min(...freeAt))
    const callTime = (freeAt[clientId] as number) + random.int(options.thinkTicksMax + 1)
    const applyTime = callTime + latency()
    const returnTime = applyTime + latency()
    const unknown = random.int(1_000_000) < options.unknownRate * 1_000_000
    const kind = pickKind(random)
    const plain =
      kind === 'read' && random.int(1_000_000) < (options.plainReadRate ?? 0) * 1_000_000
    planned.push({
      index,
      clientId,
      path: `/p${random.int(options.pathCount)}`,
      kind,
      plain,
      callTime,
      applyTime,
      returnTime,
      unknown,
      neverApplied: unknown && kind !== 'read' && random.int(2) === 0,
    })
    // After a lost reply the client waits out its timeout, by which time the op was applied or dropped.
    freeAt[clientId] = unknown ? callTime + 2 * options.latencyTicksMax + 2 : returnTime
  }
  return planned
}

function pickKind(random: RandomSource): OpInput['kind'] {
  const roll = random.int(100)
  if (roll < 15) return 'create'
  if (roll < 45) return 'set'
  if (roll < 55) return 'delete'
  return 'read'
}

/** SimulatedStore applies ops in linearization order and keeps every path's past states. */
class SimulatedStore {
  private readonly options: SimulatedHistoryOptions
  private readonly random: RandomSource
  private zxidCounter = 0
  private readonly versionsByPath = new Map<string, PathVersion[]>()
  private readonly seenBySession = new Map<number, Zxid>()

  constructor(options: SimulatedHistoryOptions, random: RandomSource) {
    this.options = options
    this.random = random
  }

  execute(op: PlannedOp): Operation {
    const input = this.chooseInput(op)
    const base = {
      id: op.index,
      clientId: op.clientId,
      sessionId: BigInt(0x1000 + op.clientId),
      input,
      callTime: op.callTime,
    }
    if (op.kind === 'read') return this.read(op, base)
    let output: OpOutput | null = null
    if (!op.neverApplied) output = this.write(input)
    if (op.unknown) return { ...base, returnTime: null, output: null }
    if (output?.ok === true && output.zxid !== undefined) this.see(op.clientId, output.zxid)
    return { ...base, returnTime: op.returnTime, output }
  }

  private get currentZxid(): Zxid {
    return makeZxid(EPOCH, this.zxidCounter)
  }

  private versions(path: string): PathVersion[] {
    let versions = this.versionsByPath.get(path)
    if (versions === undefined) {
      versions = [{ zxid: makeZxid(EPOCH, 0), state: ABSENT }]
      this.versionsByPath.set(path, versions)
    }
    return versions
  }

  private latestState(path: string): ZnodeState {
    const versions = this.versions(path)
    return (versions[versions.length - 1] as PathVersion).state
  }

  /** chooseInput picks the expected version now, so that both matches and mismatches happen. */
  private chooseInput(op: PlannedOp): OpInput {
    const value = `v${op.index}`
    const state = this.latestState(op.path)
    const current = state.exists ? state.version : 0
    const roll = this.random.int(10)
    const expectedVersion =
      roll < 4
        ? -1
        : roll < 8
          ? current
          : Math.max(0, current + (this.random.int(2) === 0 ? -1 : 1))
    switch (op.kind) {
      case 'create':
        return { kind: 'create', path: op.path, value }
      case 'set':
        return { kind: 'set', path: op.path, value, expectedVersion }
      case 'delete':
        return { kind: 'delete', path: op.path, expectedVersion }
      case 'read':
        return { kind: 'read', path: op.path }
    }
  }

  private write(input: OpInput): OpOutput {
    const versions = this.versions(input.path)
    const { outcome, next } = applyInput(this.latestState(input.path), input)
    if (!outcome.ok) return { ok: false, code: outcome.code }
    this.zxidCounter += 1
    versions.push({ zxid: this.currentZxid, state: next })
    if (outcome.kind === 'create' || outcome.kind === 'set')
      return { ok: true, version: outcome.version, zxid: this.currentZxid }
    return { ok: true, zxid: this.currentZxid }
  }

  private read(op: PlannedOp, base: Omit<Operation, 'returnTime' | 'output'>): Operation {
    if (op.unknown) return { ...base, returnTime: null, output: null }
    const faulty = this.random.int(1_000_000) < (this.options.faultRate ?? 0.1) * 1_000_000
    const fault = this.options.fault ?? 'none'
    const versions = this.versions(op.path)
    let atZxid = this.currentZxid
    if (op.plain) {
      const seen = this.seenBySession.get(op.clientId) ?? makeZxid(EPOCH, 0)
      const goesBack = fault === 'session-goes-back' && faulty && seen > makeZxid(EPOCH, 0)
      atZxid = goesBack
        ? seen - 1n
        : seen + BigInt(this.random.int(Number(this.currentZxid - seen) + 1))
    } else if (fault === 'stale-read' && faulty && versions.length > 1) {
      atZxid = (versions[versions.length - 2] as PathVersion).zxid
    }
    const version = stateAt(versions, atZxid)
    this.see(op.clientId, atZxid)
    const output = readOutput(version, atZxid, !op.plain && this.random.int(2) === 0)
    return {
      ...base,
      returnTime: op.returnTime,
      output,
      ...(op.plain ? { plain: { zxid: atZxid } } : {}),
    }
  }

  private see(clientId: number, zxid: Zxid): void {
    const seen = this.seenBySession.get(clientId)
    if (seen === undefined || zxid > seen) this.seenBySession.set(clientId, zxid)
  }
}

function stateAt(versions: readonly PathVersion[], zxid: Zxid): PathVersion {
  for (let i = versions.length - 1; i >= 0; i -= 1) {
    const version = versions[i] as PathVersion
    if (version.zxid <= zxid) return version
  }
  return versions[0] as PathVersion
}

function readOutput(version: PathVersion, replyZxid: Zxid, absentAsNoNode: boolean): OpOutput {
  const { state } = version
  if (!state.exists)
    return absentAsNoNode
      ? { ok: false, code: 'NO_NODE' }
      : { ok: true, exists: false, zxid: replyZxid }
  return {
    ok: true,
    exists: true,
    value: state.value,
    version: state.version,
    mzxid: version.zxid,
    zxid: replyZxid,
  }
}
