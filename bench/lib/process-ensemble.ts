/**
 * What the two benchmark ensembles share: member processes on loopback, each with its
 * config, data and log under one temp dir. Subclasses say how to start a member, how to
 * read its role and how to open a session on it.
 */
import { rmSync } from 'node:fs'
import type { BenchEnsemble, Role } from './ensemble.js'
import type { MemberProcess } from './member-process.js'
import type { BenchSession } from './session.js'

/** ProcessMember is one member: its id, client port, config and log files, and its current process. */
export interface ProcessMember {
  id: number
  clientPort: number
  config: string
  log: string
  process: MemberProcess
}

/** ProcessEnsemble implements everything of BenchEnsemble that does not depend on the system. */
export abstract class ProcessEnsemble implements BenchEnsemble {
  abstract readonly system: string
  readonly size: number

  constructor(
    readonly dir: string,
    protected readonly members: ProcessMember[],
    private readonly keep: boolean,
  ) {
    this.size = members.length
  }

  /** spawn starts a member's process from its config (used again by `restart`). */
  protected abstract spawn(member: ProcessMember): MemberProcess
  abstract role(i: number): Promise<Role>
  abstract connect(i: number, sessionTimeoutMs: number): Promise<BenchSession>

  protected member(i: number): ProcessMember {
    const member = this.members[i]
    if (member === undefined) throw new Error(`no ${this.system} member ${i}`)
    return member
  }

  signal(i: number, signal: NodeJS.Signals): void {
    this.member(i).process.signal(signal)
  }

  async restart(i: number): Promise<void> {
    const member = this.member(i)
    if (member.process.alive()) return
    member.process = this.spawn(member)
  }

  alive(i: number): boolean {
    return this.member(i).process.alive()
  }

  rssBytes(i: number): number | undefined {
    return this.member(i).process.rssBytes()
  }

  pid(i: number): number | undefined {
    return this.member(i).process.child.pid
  }

  /** exitReport names members whose process has exited, with the end of their logs. */
  exitReport(): string {
    return this.members
      .filter((m) => !m.process.alive())
      .map((m) => `${this.system} member ${m.id} exited; log ${m.log}:\n${m.process.logTail(600)}`)
      .join('\n')
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.process.stop()))
    if (!this.keep) rmSync(this.dir, { recursive: true, force: true })
  }
}
