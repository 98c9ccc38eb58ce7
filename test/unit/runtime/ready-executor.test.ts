/**
 * The ReadyExecutor carries out the core's Readys for production, the simulator and the
 * scenario harness alike. These tests pin its ordering rules with a scripted core:
 * acknowledgements leave only after the persistence is durable, commits durable before
 * the Ready are applied while its fsync runs and the others only after, long commit
 * lists are applied a chunk per turn, a failed or abandoned persistence sends and
 * applies nothing more.
 */
import { describe, expect, test } from 'vitest'
import type { Envelope, PeerMessage, Txn } from '../../../protocol/index.js'
import type { Ready } from '../../../server/core/index.js'
import { readyOf } from '../../helpers/ready.js'
import {
  ReadyExecutor,
  type ExecutorBug,
  type ReadyHandlers,
} from '../../../server/runtime/ready-executor.js'

const ack: PeerMessage = { type: 'ack', epoch: 1, zxid: 7n }
const ping: PeerMessage = {
  type: 'ping',
  epoch: 1,
  seq: 1,
  committedZxid: 0n,
  lastZxid: 0n,
  established: true,
}

function txn(counter: number): Txn {
  return { zxid: BigInt(counter), timeMs: 0, sessionId: 0n, xid: 0, op: { type: 'error', code: 0 } }
}

function ready(fields: Partial<Ready>): Ready {
  return readyOf({ role: 'following', ...fields })
}

/** run drives an executor over scripted Readys and records what it did, in order. */
function run(readys: Ready[], bug?: ExecutorBug, applyChunkTxns = 100, logFlushes = false) {
  const log: string[] = []
  const pendingDone: ((error?: unknown) => void)[] = []
  const turns: (() => void)[] = []
  const failures: unknown[] = []
  const core = {
    hasReady: () => readys.length > 0,
    ready: () => readys.shift() as Ready,
    advance: () => log.push('advance'),
  }
  const handlers: ReadyHandlers = {
    send: (e: Envelope) => log.push(`send ${e.message.type}`),
    ...(logFlushes ? { flushSends: () => log.push('flush') } : {}),
    persist: (work, done) => {
      log.push(`persist ${work.txns.length}`)
      pendingDone.push(done)
    },
    installSnapshot: () => log.push('install'),
    apply: (t) => log.push(`apply ${t.zxid}`),
    afterApply: () => log.push('afterApply'),
    nextTurn: (fn) => turns.push(fn),
    persistFailed: (error) => failures.push(error),
    fatal: (error) => {
      throw error
    },
  }
  const executor = new ReadyExecutor(core, handlers, { applyChunkTxns, bug })
  return { executor, log, pendingDone, turns, failures }
}

describe('ReadyExecutor', () => {
  test('sends acknowledgements only once the persistence is durable, and applies after it', () => {
    const { executor, log, pendingDone } = run([
      ready({
        persist: { txns: [txn(7)] },
        send: [{ to: 2, message: ping }],
        sendAfterPersist: [{ to: 1, message: ack }],
        commit: [txn(5), txn(6)],
        commitDurable: 1,
      }),
    ])
    executor.pump()
    // The durable commit is applied while the fsync runs; the ack and the other commit wait.
    expect(log).toEqual(['send ping', 'persist 1', 'apply 5'])
    expect(executor.inFlight).toBeDefined()
    pendingDone[0]?.()
    expect(log).toEqual([
      'send ping',
      'persist 1',
      'apply 5',
      'send ack',
      'apply 6',
      'afterApply',
      'advance',
    ])
    expect(executor.inFlight).toBeUndefined()
  })

  test('flushes the sends before the fsync starts and the acknowledgements before the apply', () => {
    const { executor, log, pendingDone } = run(
      [
        ready({
          persist: { txns: [txn(7)] },
          send: [{ to: 2, message: ping }],
          sendAfterPersist: [{ to: 1, message: ack }],
          commit: [txn(6)],
        }),
        ready({ send: [{ to: 2, message: ping }], commit: [txn(7)] }),
      ],
      undefined,
      100,
      true,
    )
    executor.pump()
    expect(log).toEqual(['send ping', 'flush', 'persist 1'])
    pendingDone[0]?.()
    // The second Ready needs no fsync: its sends go out in one flush, still before its apply.
    expect(log).toEqual([
      'send ping',
      'flush',
      'persist 1',
      'send ack',
      'flush',
      'apply 6',
      'afterApply',
      'advance',
      'send ping',
      'flush',
      'apply 7',
      'afterApply',
      'advance',
    ])
  })

  test('the planted bug runtime-send-before-persist sends the ack before the fsync', () => {
    const { executor, log } = run(
      [ready({ persist: { txns: [txn(7)] }, sendAfterPersist: [{ to: 1, message: ack }] })],
      'runtime-send-before-persist',
    )
    executor.pump()
    expect(log).toEqual(['send ack', 'persist 1'])
  })

  test('takes the next Ready only after the previous one was advanced (one outstanding at a time)', () => {
    const { executor, log, pendingDone } = run([
      ready({ persist: { txns: [txn(1)] } }),
      ready({ persist: { txns: [txn(2)] } }),
    ])
    executor.pump()
    executor.pump()
    expect(log).toEqual(['persist 1'])
    pendingDone[0]?.()
    expect(log).toEqual(['persist 1', 'afterApply', 'advance', 'persist 1'])
  })

  test('carries out a Ready with nothing to persist at once, inside pump', () => {
    const { executor, log } = run([ready({ commit: [txn(3)], sendAfterPersist: [] })])
    executor.pump()
    expect(log).toEqual(['apply 3', 'afterApply', 'advance'])
  })

  test('applies a long commit list a chunk per turn', () => {
    const commit = Array.from({ length: 250 }, (_, i) => txn(i + 1))
    const { executor, log, turns } = run([ready({ commit })], undefined, 100)
    executor.pump()
    expect(log.filter((line) => line.startsWith('apply'))).toHaveLength(100)
    turns.shift()?.()
    expect(log.filter((line) => line.startsWith('apply'))).toHaveLength(200)
    expect(log).not.toContain('advance')
    turns.shift()?.()
    expect(log.filter((line) => line.startsWith('apply'))).toHaveLength(250)
    expect(log.slice(-2)).toEqual(['afterApply', 'advance'])
    expect(turns).toHaveLength(0)
  })

  test('a failed persistence is reported and nothing it promised goes out', () => {
    const { executor, log, pendingDone, failures } = run([
      ready({
        persist: { txns: [txn(7)] },
        sendAfterPersist: [{ to: 1, message: ack }],
        commit: [txn(6)],
      }),
    ])
    executor.pump()
    const error = new Error('EIO')
    pendingDone[0]?.(error)
    expect(failures).toEqual([error])
    expect(log).toEqual(['persist 1'])
  })

  test('after stop, a persistence that completes sends and applies nothing', () => {
    const { executor, log, pendingDone } = run([
      ready({ persist: { txns: [txn(7)] }, sendAfterPersist: [{ to: 1, message: ack }] }),
      ready({ persist: { txns: [txn(8)] } }),
    ])
    executor.pump()
    executor.stop()
    pendingDone[0]?.()
    executor.pump()
    expect(log).toEqual(['persist 1'])
  })
})
