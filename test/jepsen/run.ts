/**
 * One Jepsen-style run: a proxied ensemble, concurrent SDK clients (workload.ts), a
 * nemesis (nemesis.ts) for `seconds`, then heal everything, wait for convergence,
 * read every key through every member, and judge the history:
 * - writes, sync+reads and linearizable reads are linearizable (test/checker);
 * - plain reads keep the session guarantees;
 * - no acknowledged write is lost (lost-writes.ts);
 * - every member answers the same final state, and no member crashed by itself.
 * A failing run saves the history, the report, the nemesis log and every member's
 * logs under test-artifacts/ and names the folder in its summary.
 */
import { setMaxListeners } from 'node:events'
import { performance } from 'node:perf_hooks'
import { connect, ConclaveError, type Client } from '../../client/index.js'
import {
  checkLinearizable,
  checkSessionGuarantees,
  renderLinearizabilityReport,
  renderOperation,
  renderSessionReport,
  saveHistory,
  type History,
  type LinearizabilityReport,
  type SessionReport,
} from '../checker/index.js'
import { startEnsemble, type Ensemble } from '../helpers/ensemble.js'
import { mulberry32 } from '../helpers/mulberry32.js'
import { waitFor } from '../helpers/wait.js'
import { findLostWrites, type FinalState, type LostWrite } from './lost-writes.js'
import { restoreAll, runNemesis, type FaultKind, type NemesisResult } from './nemesis.js'
import { Recorder } from './recorder.js'
import { ReplyProbe } from './reply-probe.js'
import { runWorkload, type WorkloadStats } from './workload.js'

/** JepsenOptions configure a run; only `seconds` is required. */
export interface JepsenOptions {
  /** seconds of nemesis while the clients run. */
  seconds: number
  clients?: number
  keys?: number
  seed?: number
  size?: number
  tickMs?: number
  leaderTimeoutTicks?: number
  faults?: readonly FaultKind[]
  /** log receives progress lines (default: none). */
  log?: (line: string) => void
}

/** JepsenResult is the verdict of a run with everything needed to explain it. */
export interface JepsenResult {
  ok: boolean
  /** summary is a readable account: figures, faults, verdicts, problems, artifacts folder. */
  summary: string
  problems: string[]
  artifacts: string | undefined
  seed: number
  history: History
  linearizability: LinearizabilityReport
  sessions: SessionReport
  lostWrites: LostWrite[]
  nemesis: NemesisResult
  workload: WorkloadStats
}

/** runJepsen runs the whole experiment and never leaves a process behind. */
export async function runJepsen(options: JepsenOptions): Promise<JepsenResult> {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31)
  const log = options.log ?? (() => {})
  const tickMs = options.tickMs ?? 50
  const leaderTimeoutTicks = options.leaderTimeoutTicks ?? 10
  const ensemble = await startEnsemble({
    size: options.size ?? 3,
    proxies: true,
    tickMs,
    leaderTimeoutTicks,
    name: `jepsen-seed${seed}`,
  })
  try {
    return await experiment(ensemble, options, seed, tickMs * leaderTimeoutTicks, log)
  } catch (err) {
    const folder = await ensemble
      .saveArtifacts(`jepsen run broke (seed ${seed}): ${String(err)}`)
      .catch(() => '(could not save artifacts)')
    throw new Error(
      `jepsen run (seed ${seed}) broke: ${(err as Error).message}\nartifacts (member logs): ${folder}`,
      { cause: err },
    )
  } finally {
    await ensemble.stopAll()
  }
}

async function experiment(
  ensemble: Ensemble,
  options: JepsenOptions,
  seed: number,
  leaderTimeoutMs: number,
  log: (line: string) => void,
): Promise<JepsenResult> {
  const leader = await ensemble.leader({ timeoutMs: 30_000 })
  log(`seed ${seed}: leader ${leader.id}; setting up`)
  const keys = Array.from(
    { length: options.keys ?? 30 },
    (_, i) => `/jepsen/k${String(i).padStart(2, '0')}`,
  )
  await createParent(ensemble)

  const t0 = performance.now()
  const now = () => Math.round((performance.now() - t0) * 1000) / 1000
  const recorder = new Recorder(now)
  const stopNemesis = new AbortController()
  const stopWorkload = new AbortController()
  // Every client's connect listens on this signal.
  setMaxListeners(200, stopWorkload.signal)
  const workload = runWorkload({
    urls: ensemble.urls,
    clients: options.clients ?? 20,
    keys,
    recorder,
    randomFor: (clientId) => mulberry32(seed * 7919 + clientId),
    signal: stopWorkload.signal,
  })
  const timer = setTimeout(() => stopNemesis.abort(), options.seconds * 1000)
  let nemesis: NemesisResult
  try {
    nemesis = await runNemesis(ensemble, {
      random: mulberry32(seed),
      now,
      signal: stopNemesis.signal,
      stallMinMs: leaderTimeoutMs * 2,
      ...(options.faults === undefined ? {} : { faults: options.faults }),
    })
    log(`nemesis done: ${JSON.stringify(nemesis.faults)}; restoring`)
    await restoreAll(ensemble)
  } finally {
    // Also when the nemesis failed: no client may keep running after the run.
    clearTimeout(timer)
    stopWorkload.abort()
  }
  const workloadStats = await workload
  log(`workload done: ${recorder.size} ops recorded ${JSON.stringify(recorder.counts)}`)

  const problems: string[] = [...nemesis.recoveryFailures]
  await ensemble
    .leader({ timeoutMs: 30_000 })
    .catch((err: unknown) => problems.push(`no leader after healing: ${(err as Error).message}`))
  const converged = await ensemble.converged({ timeoutMs: 60_000 }).catch((err: unknown) => {
    problems.push(`members did not converge after healing: ${(err as Error).message}`)
    return undefined
  })

  const finals = await finalReads(ensemble, keys, recorder)
  problems.push(...finals.problems)
  const history = recorder.history()
  log(`checking ${history.length} ops`)
  const linearizability = checkLinearizable(history, {
    maxStepsPerPath: 2_000_000,
    timeBudgetMs: 90_000,
    now: () => performance.now(),
  })
  const sessions = checkSessionGuarantees(history)
  const lostWrites = findLostWrites(history, finals.states)
  if (linearizability.result !== 'ok') problems.push(renderLinearizabilityReport(linearizability))
  if (!sessions.ok) problems.push(renderSessionReport(sessions))
  if (lostWrites.length > 0) {
    problems.push(
      `${lostWrites.length} acknowledged write(s) lost:\n${lostWrites
        .slice(0, 20)
        .map((l) => `  ${renderOperation(l.op)}: ${l.reason}`)
        .join('\n')}`,
    )
  }
  problems.push(...ensemble.unexpectedExits().map((e) => `unexpected exit: ${e}`))
  if (workloadStats.unexpected.length > 0)
    problems.push(
      `unexpected client errors:\n  ${workloadStats.unexpected.slice(0, 5).join('\n  ')}`,
    )
  if (workloadStats.replyZxidMismatches > 0)
    problems.push(
      `${workloadStats.replyZxidMismatches} set replies carried a zxid other than the new mzxid`,
    )
  const acked = history.filter(
    (op) => op.input.kind !== 'read' && op.output !== null && op.output.ok,
  ).length
  if (acked === 0) problems.push('no write was acknowledged: the run proves nothing')

  const figures = [
    `seed ${seed}, ${options.seconds} s of nemesis, ${options.clients ?? 20} clients, ${keys.length} keys, ${ensemble.size} members`,
    `ops recorded ${history.length}: ${JSON.stringify(recorder.counts)}; acknowledged writes ${acked}; dropped by ${JSON.stringify(Object.fromEntries(recorder.droppedBy))}`,
    `ops by kind ${JSON.stringify(workloadStats.opsByKind)}; client errors ${JSON.stringify(workloadStats.errorsByCode)}; sessions ${workloadStats.sessionsOpened}`,
    `faults ${JSON.stringify(nemesis.faults)}`,
    `final zxid ${converged === undefined ? '?' : `0x${converged.zxid.toString(16)}`}; linearizability ${linearizability.result}; session violations ${sessions.violations.length}; lost acknowledged writes ${lostWrites.length}`,
  ]
  const ok = problems.length === 0
  let artifacts: string | undefined
  if (!ok) {
    artifacts = await ensemble.saveArtifacts(`jepsen run failed (seed ${seed})`, {
      'history.json': saveHistory(history),
      'report.txt': `${figures.join('\n')}\n\n${problems.join('\n\n')}\n`,
      'nemesis.json': JSON.stringify(nemesis.events, null, 2),
    })
  }
  const summary = [
    ...figures,
    ...(ok
      ? []
      : ['PROBLEMS:', ...problems, `artifacts (history, report, member logs): ${artifacts}`]),
  ].join('\n')
  return {
    ok,
    summary,
    problems,
    artifacts,
    seed,
    history,
    linearizability,
    sessions,
    lostWrites,
    nemesis,
    workload: workloadStats,
  }
}

async function createParent(ensemble: Ensemble): Promise<void> {
  const client = await connect({ servers: ensemble.urls, sessionTimeoutMs: 10_000 })
  try {
    await waitFor(
      async () => {
        try {
          await client.create('/jepsen', '')
          return true
        } catch (err) {
          if (err instanceof ConclaveError && err.code === 'NODE_EXISTS') return true
          throw err
        }
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'the /jepsen parent created' },
    )
  } finally {
    await client.close()
  }
}

/**
 * finalReads reads every key through every member with sync+get, records each read in
 * the history (they must be linearizable too), and returns the agreed final states and
 * any disagreement between members.
 */
async function finalReads(
  ensemble: Ensemble,
  keys: string[],
  recorder: Recorder,
): Promise<{ states: Map<string, FinalState>; problems: string[] }> {
  const problems: string[] = []
  const perMember = new Map<number, Map<string, FinalState>>()
  for (const member of ensemble.members) {
    let client: Client | undefined
    try {
      client = await connect({
        servers: [member.url],
        sessionTimeoutMs: 10_000,
        requestTimeoutMs: 10_000,
      })
      const probe = new ReplyProbe(client)
      const states = new Map<string, FinalState>()
      for (const path of keys) {
        const id = recorder.begin(1000 + member.id, client.sessionId, { kind: 'read', path })
        await client.sync(path)
        try {
          const { data, stat } = await client.get(path)
          const zxid = probe.take('get', path)?.zxid
          const value = new TextDecoder().decode(data)
          recorder.ok(id, {
            ok: true,
            exists: true,
            value,
            version: stat.version,
            mzxid: stat.mzxid,
            ...(zxid === undefined ? {} : { zxid }),
          })
          states.set(path, { exists: true, value, version: stat.version, mzxid: stat.mzxid })
        } catch (err) {
          if (!(err instanceof ConclaveError) || err.code !== 'NO_NODE') throw err
          const zxid = probe.take('get', path)?.zxid
          recorder.ok(id, { ok: true, exists: false, ...(zxid === undefined ? {} : { zxid }) })
          states.set(path, { exists: false })
        }
      }
      perMember.set(member.id, states)
    } catch (err) {
      problems.push(`final reads through member ${member.id} failed: ${(err as Error).message}`)
    } finally {
      await client?.close().catch(() => undefined)
    }
  }
  const [first, ...rest] = [...perMember.entries()]
  const states = first?.[1] ?? new Map<string, FinalState>()
  for (const [id, other] of rest) {
    for (const path of keys) {
      const a = JSON.stringify(states.get(path), bigintJson)
      const b = JSON.stringify(other.get(path), bigintJson)
      if (a !== b)
        problems.push(`members ${first?.[0]} and ${id} disagree on ${path}: ${a} vs ${b}`)
    }
  }
  return { states, problems }
}

function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `0x${value.toString(16)}` : value
}
