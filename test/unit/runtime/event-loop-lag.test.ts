import { expect, it } from 'vitest'
import { EventLoopLag } from '../../../server/runtime/event-loop-lag.js'

it('reports a stall of the event loop as its longest delay', async () => {
  const lag = new EventLoopLag()
  try {
    await new Promise((resolve) => setTimeout(resolve, 50))
    const blockedUntil = performance.now() + 200
    while (performance.now() < blockedUntil) {
      // a synchronous stall, as a request processed in one piece would cause
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
    const report = lag.report()
    expect(report.lagMaxMs).toBeGreaterThanOrEqual(150)
    expect(report.lagMaxMs).toBeLessThan(5000)
  } finally {
    lag.stop()
  }
})
