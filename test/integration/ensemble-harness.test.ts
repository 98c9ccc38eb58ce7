/**
 * The ensemble harness itself (test/helpers/ensemble.ts), so the fault tests can trust
 * it: every peer link really runs through its proxy (only the larger id dials), the
 * link controls switch exactly the links they name, artifacts hold every member's
 * logs, and stopAll leaves no process behind, also for a member stopped with SIGSTOP.
 * Plus the pure helpers: zxid parsing and free ports.
 *
 * The process part is skipped until the ensemble runtime is in the tree.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  finishEnsemble,
  freePorts,
  parseZxid,
  startEnsemble,
  toMemberStatus,
  type Ensemble,
} from '../helpers/ensemble.js'
import { waitFor } from '../helpers/wait.js'

let ensemble: Ensemble | undefined
afterEach(async (context) => {
  await finishEnsemble(ensemble, context.task.result?.state === 'fail', context.task.name)
  ensemble = undefined
}, 30_000)

describe('pure helpers', () => {
  it('parses zxids in every form /status uses', () => {
    expect(parseZxid('0x1_0000002a')).toBe((1n << 32n) | 42n)
    expect(parseZxid('4294967338')).toBe((1n << 32n) | 42n)
    expect(parseZxid(7)).toBe(7n)
    expect(parseZxid('nonsense')).toBeUndefined()
    expect(
      toMemberStatus({ id: 2, role: 'following', epoch: null, zxid: '0x3_00000001', digest: 12 }),
    ).toMatchObject({ id: 2, epoch: undefined, zxid: (3n << 32n) | 1n, digest: '12' })
    expect(() => toMemberStatus({ id: 2, role: 'x' })).toThrow(/no readable zxid/)
  })

  it('hands out distinct free ports', async () => {
    const ports = await freePorts(6)
    expect(new Set(ports).size).toBe(6)
    for (const p of ports) expect(p).toBeGreaterThan(0)
  })
})

describe('a proxied 3-member ensemble', () => {
  it(
    'routes every peer link through its proxy, switches only the named links, keeps logs and leaves no process behind',
    { timeout: 120_000 },
    async () => {
      const e = (ensemble = await startEnsemble({ size: 3, proxies: true, name: 'harness' }))
      await e.leader()
      for (const [i, j] of [
        [2, 1],
        [3, 1],
        [3, 2],
      ] as const) {
        await waitFor(() => e.link(i, j).connectionCount === 1, {
          what: `one connection through the ${i}-${j} proxy`,
        })
        expect(e.link(i, j).stats.bytesToTarget).toBeGreaterThan(0)
        expect(e.link(j, i)).toBe(e.link(i, j))
        expect(e.member(i).config.dialAddresses).toMatchObject({
          [String(j)]: `127.0.0.1:${e.link(i, j).port}`,
        })
      }
      expect(e.member(1).config.dialAddresses).toBeUndefined()

      e.partition([1], [2, 3])
      expect([e.link(2, 1).mode.kind, e.link(3, 1).mode.kind, e.link(3, 2).mode.kind]).toEqual([
        'drop-all',
        'drop-all',
        'pass',
      ])
      e.oneWay(1, 3)
      expect(e.link(3, 1).mode).toEqual({ kind: 'one-way', forward: 'from-target' })
      e.oneWay(3, 1)
      expect(e.link(3, 1).mode).toEqual({ kind: 'one-way', forward: 'to-target' })
      e.isolate(2)
      expect([e.link(2, 1).mode.kind, e.link(3, 2).mode.kind]).toEqual(['drop-all', 'drop-all'])
      e.heal()
      expect([e.link(2, 1).mode.kind, e.link(3, 1).mode.kind, e.link(3, 2).mode.kind]).toEqual([
        'pass',
        'pass',
        'pass',
      ])
      await e.converged()

      const pids = e.members.map((m) => m.pid!)
      await e.member(2).kill('SIGSTOP')
      expect(e.member(2).state).toBe('paused')
      const folder = await e.saveArtifacts('harness self-test')
      try {
        for (const id of [1, 2, 3])
          expect(readFileSync(join(folder, `member-${id}.log`), 'utf8')).toContain(
            '"msg":"listening"',
          )
        expect(existsSync(join(folder, 'links.json'))).toBe(true)
      } finally {
        rmSync(folder, { recursive: true, force: true })
      }
      await e.stopAll()
      const alive = pids.filter((pid) => {
        try {
          process.kill(pid, 0)
          return true
        } catch {
          return false
        }
      })
      expect(alive).toEqual([])
      expect(existsSync(e.dir)).toBe(false)
      expect(e.unexpectedExits()).toEqual([])
    },
  )
})
