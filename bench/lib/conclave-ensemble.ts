/**
 * A Conclave ensemble on loopback: one `conclave server --config FILE` process per
 * member, every setting at its default. Each member has its own config, data dir and
 * log; all share one secret file (mode 0600). Size 1 runs a standalone server.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectConclave } from './conclave-session.js'
import type { BenchEnsemble, EventLoopLagFigures, Role } from './ensemble.js'
import { ProcessEnsemble, type ProcessMember } from './process-ensemble.js'
import { MemberProcess } from './member-process.js'
import { freePorts } from './ports.js'
import type { BenchSession } from './session.js'

/** CLI is the built `conclave` command (`npm run build`, run by `npm ci`'s prepare). */
const CLI = fileURLToPath(new URL('../../dist/server/cli/main.js', import.meta.url))

/** ConclaveOptions: ensemble size, extra config settings for every member, and whether to keep the temp dir. */
export interface ConclaveOptions {
  size?: number
  settings?: Record<string, unknown>
  keep?: boolean
  /** cpuProfileDir, when set, has every member write a V8 CPU profile there when it stops (node --cpu-prof). */
  cpuProfileDir?: string
}

/** startConclave writes the configs and starts every member (without waiting for a leader). */
export async function startConclave(options: ConclaveOptions = {}): Promise<BenchEnsemble> {
  const size = options.size ?? 3
  const dir = mkdtempSync(join(tmpdir(), 'bench-conclave-'))
  const ports = await freePorts(size * 2)
  const secretFile = join(dir, 'secret')
  writeFileSync(secretFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 })
  const list = Array.from({ length: size }, (_, i) => ({
    id: i + 1,
    host: '127.0.0.1',
    clientPort: ports[2 * i]!,
    peerPort: ports[2 * i + 1]!,
  }))
  const members: ProcessMember[] = []
  for (const entry of list) {
    const home = join(dir, `member${entry.id}`)
    const dataDir = join(home, 'data')
    mkdirSync(dataDir, { recursive: true })
    const ensemble = size > 1 ? { members: list, peerPort: entry.peerPort, secretFile } : {}
    const config = join(home, 'config.json')
    writeFileSync(
      config,
      JSON.stringify(
        {
          id: entry.id,
          host: '127.0.0.1',
          clientPort: entry.clientPort,
          dataDir,
          ...ensemble,
          ...options.settings,
        },
        null,
        2,
      ),
    )
    const log = join(home, 'server.log')
    members.push({
      id: entry.id,
      clientPort: entry.clientPort,
      config,
      log,
      process: spawnMember(config, log, options.cpuProfileDir),
    })
  }
  return new ConclaveEnsemble(dir, members, options.keep ?? false, options.cpuProfileDir)
}

function spawnMember(config: string, log: string, cpuProfileDir?: string): MemberProcess {
  const profile =
    cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`]
  return MemberProcess.spawn(
    process.execPath,
    [...profile, CLI, 'server', '--config', config, '--no-pretty'],
    log,
  )
}

/**
 * roleFrom maps a /status body to a Role. A leader or follower counts as such only once
 * it serves (its epoch is established), which is when ZooKeeper's `srvr` first names a
 * mode too, so "leader seen" means the same for both systems.
 */
function roleFrom(body: unknown): Role {
  const record = (body ?? {}) as { role?: unknown; serving?: unknown }
  if (record.role === 'standalone') return 'standalone'
  if (record.serving !== true) return 'looking'
  if (record.role === 'leading') return 'leader'
  if (record.role === 'following') return 'follower'
  return 'looking'
}

class ConclaveEnsemble extends ProcessEnsemble {
  readonly system = 'Conclave'

  constructor(
    dir: string,
    members: ProcessMember[],
    keep: boolean,
    private readonly cpuProfileDir?: string,
  ) {
    super(dir, members, keep)
  }

  protected spawn(member: ProcessMember): MemberProcess {
    return spawnMember(member.config, member.log, this.cpuProfileDir)
  }

  async role(i: number): Promise<Role> {
    const body = await this.status(i)
    return body === undefined ? 'down' : roleFrom(body)
  }

  async eventLoopLag(i: number): Promise<EventLoopLagFigures | undefined> {
    const body = (await this.status(i)) as { eventLoop?: EventLoopLagFigures } | undefined
    const figures = body?.eventLoop
    return typeof figures?.lagMaxMs === 'number' && typeof figures.lagP99Ms === 'number'
      ? figures
      : undefined
  }

  /** status is member `i`'s /status body, or undefined if it is down or does not answer within 500 ms. */
  private async status(i: number): Promise<unknown> {
    const member = this.member(i)
    if (!member.process.alive()) return undefined
    try {
      const reply = await fetch(`http://127.0.0.1:${member.clientPort}/status`, {
        signal: AbortSignal.timeout(500),
      })
      return (await reply.json()) as unknown
    } catch {
      return undefined
    }
  }

  connect(i: number, sessionTimeoutMs: number): Promise<BenchSession> {
    return connectConclave(this.member(i).clientPort, sessionTimeoutMs)
  }

  sdkServers(): string[] {
    return this.members.map((m) => `ws://127.0.0.1:${m.clientPort}`)
  }
}
