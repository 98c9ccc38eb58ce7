/**
 * Both checkers against whole simulated runs: clients calling a correct in-memory
 * store one request at a time, on a virtual clock, with lost replies and lagging plain
 * reads (simulateHistory). Goal: realistic histories of thousands of ops pass within
 * a fixed step budget, and a store with a planted bug (stale linearizable reads, a
 * session going back in time) is caught. Method: fixed seeds, so every run and every
 * failure replays exactly; assertions are on verdicts, never on wall-clock time.
 */
import { describe, expect, it } from 'vitest'
import { renderLinearizabilityReport, renderSessionReport } from './format.js'
import { checkLinearizable } from './linearizable.js'
import { seededRandom } from './seeded-random.js'
import { checkSessionGuarantees } from './session-guarantees.js'
import { simulateHistory, type SimulatedHistoryOptions } from './simulated-history.js'

const SEEDS = [1, 2, 3]

describe('performance', () => {
  it('a 5,000-op, 20-path, 10-client history with 5% unknown outcomes checks ok within its budget', () => {
    const options: SimulatedHistoryOptions = {
      operationCount: 5000,
      pathCount: 20,
      clientCount: 10,
      unknownRate: 0.05,
      plainReadRate: 0.2,
      latencyTicksMax: 20,
      thinkTicksMax: 5,
    }
    for (const seed of SEEDS) {
      const history = simulateHistory(options, seededRandom(seed))
      expect(history.filter((op) => op.output === null).length).toBeGreaterThan(150)
      // About 10k steps are needed; the budget leaves room, a regression to exponential search does not fit.
      const report = checkLinearizable(history, { maxStepsPerPath: 50_000 })
      expect(report.result, renderLinearizabilityReport(report)).toBe('ok')
      expect(report.perPath).toHaveLength(20)
      const session = checkSessionGuarantees(history)
      expect(session.ok, renderSessionReport(session)).toBe(true)
      expect(session.checkedOperationCount).toBeGreaterThan(2500)
    }
  })

  it('one path, ten busy clients, 5% unknown outcomes: 3,000 ops check ok', () => {
    const options: SimulatedHistoryOptions = {
      operationCount: 3000,
      pathCount: 1,
      clientCount: 10,
      unknownRate: 0.05,
      latencyTicksMax: 50,
      thinkTicksMax: 2,
    }
    for (const seed of SEEDS) {
      const report = checkLinearizable(simulateHistory(options, seededRandom(seed)), {
        maxStepsPerPath: 500_000,
      })
      expect(report.result, renderLinearizabilityReport(report)).toBe('ok')
    }
  })
})

describe('planted bugs', () => {
  const base: SimulatedHistoryOptions = {
    operationCount: 2000,
    pathCount: 5,
    clientCount: 10,
    unknownRate: 0.02,
    plainReadRate: 0.3,
    latencyTicksMax: 20,
    thinkTicksMax: 5,
  }

  it('stale linearizable reads are illegal, with a witness naming a read that saw an older value', () => {
    for (const seed of SEEDS) {
      const report = checkLinearizable(
        simulateHistory({ ...base, fault: 'stale-read' }, seededRandom(seed)),
      )
      expect(report.result).toBe('illegal')
      const culprits = report.witness?.candidates.filter((c) => !c.fits) ?? []
      expect(culprits.length).toBeGreaterThan(0)
    }
  })

  it('plain reads that go back in time break the session guarantees but not linearizability', () => {
    for (const seed of SEEDS) {
      const history = simulateHistory({ ...base, fault: 'session-goes-back' }, seededRandom(seed))
      expect(checkLinearizable(history).result).toBe('ok')
      const session = checkSessionGuarantees(history)
      expect(session.ok).toBe(false)
      const kinds = new Set(session.violations.map((v) => v.kind))
      expect([...kinds].every((k) => k === 'zxid-went-back' || k === 'read-your-writes')).toBe(true)
    }
  })

  it('the same runs without the fault pass both checkers', () => {
    for (const seed of SEEDS) {
      const history = simulateHistory(base, seededRandom(seed))
      expect(checkLinearizable(history).result).toBe('ok')
      expect(checkSessionGuarantees(history).ok).toBe(true)
    }
  })
})
