/**
 * The hostile-client suite (issue 9), client-bounds part: attacks 4, 5 and 7 and the
 * small ones, each against a real 3-member ensemble while the harness's bystander keeps
 * writing and reading through every member. Each test ends in finishHostileRun: no
 * member exits, no election, the bystander's worst latency stays under 1 s, member RSS
 * grows less than the stated bound, and every acknowledged write survives a restart.
 * Limits are set low in each test's settings so the attack reaches them quickly.
 */
import { Packr } from 'msgpackr'
import WebSocket from 'ws'
import { describe, expect, it } from 'vitest'
import { connect } from '../../client/index.js'
import {
  CloseCode,
  ErrorCode,
  SET_WATCHES_PATHS_MAX,
  encodeClientMessage,
  type ServerMessage,
} from '../../protocol/index.js'
import {
  finishHostileRun,
  rawClient,
  startHostileRun,
  type ClosedInfo,
  type HostileRun,
  type HostileRunOptions,
  type RawClient,
} from '../helpers/hostile.js'
import { withDeadline } from '../helpers/wait.js'

const MiB = 1024 * 1024

/** RSS_GROWTH_MAX_MIB is the bound on any member's RSS growth during one attack. */
const RSS_GROWTH_MAX_MIB = 150

/** countMessages resolves once `raw` has received `n` more messages (without the harness's per-message search). */
function countMessages(raw: RawClient, n: number, timeoutMs: number, what: string): Promise<void> {
  let seen = 0
  return withDeadline(
    new Promise<void>((resolve) => {
      const onMessage = () => {
        if (++seen < n) return
        raw.ws.off('message', onMessage)
        resolve()
      }
      raw.ws.on('message', onMessage)
    }),
    timeoutMs,
    what,
  )
}

/**
 * underAttack starts a hostile run, runs `attack` and finishes the run with the
 * harness's checks; when the attack itself fails, the ensemble and bystander are still
 * stopped (and the logs saved) before the failure is reported.
 */
async function underAttack(
  options: HostileRunOptions,
  attack: (run: HostileRun) => Promise<void>,
): Promise<void> {
  const run = await startHostileRun(options)
  try {
    await attack(run)
    // The figures behind the checks, for the record (the harness asserts the bounds).
    const figures = run.ensemble.members.map(
      (m) =>
        `member ${m.id}: RSS +${run.rssGrowthMiB(m.id).toFixed(0)} MiB, loop lag max ${run.eventLoopLagMaxMs(m.id)} ms, bystander worst ${run.bystander.worstMs.get(m.id)} ms`,
    )
    process.stdout.write(`${options.name}: ${figures.join('; ')}\n`)
  } catch (err) {
    await finishHostileRun(run, { rssGrowthMaxMiB: RSS_GROWTH_MAX_MIB, restart: false }).catch(
      () => undefined,
    )
    throw err
  }
  await finishHostileRun(run, { rssGrowthMaxMiB: RSS_GROWTH_MAX_MIB })
}

/** openFrom opens a bare WebSocket from a given local address (127.0.0.x are all this host). */
async function openFrom(
  url: string,
  localAddress: string,
): Promise<{ ws: WebSocket; closed: Promise<ClosedInfo> }> {
  const ws = new WebSocket(url, { localAddress, perMessageDeflate: false })
  ws.on('error', () => undefined)
  const closed = new Promise<ClosedInfo>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  )
  await withDeadline(
    new Promise<void>(
      (resolve, reject) => (
        ws.once('open', () => resolve()),
        ws.once('close', () => reject(new Error('closed before open')))
      ),
    ),
    10_000,
    `open from ${localAddress}`,
  )
  return { ws, closed }
}

describe('hostile clients: output buffering (4)', () => {
  it('a client that stops reading while pipelining gets of a 1 MiB node is held to the buffer bound, then closed with 1008', async () => {
    await underAttack(
      { name: 'hostile-slow-reader', settings: { connectionStalledMaxMs: 3000 } },
      async (run) => {
        const target = run.ensemble.member(run.leaderId)
        const attacker = await rawClient(run.url(target.id))
        expect((await attacker.connect({ timeoutMs: 30_000 })).type).toBe('connected')
        attacker.request(1, {
          op: 'create',
          path: '/big',
          data: new Uint8Array(1_000_000).fill(7),
          mode: 'persistent',
        })
        expect((await attacker.reply(1, 30_000)).err).toBe(0)
        attacker.pauseReading()
        const since = target.logs.length
        // 2,000 gets of 1 MB: ~2 GB if the member computed and buffered them all.
        for (let xid = 2; xid < 2002; xid++)
          attacker.request(xid, { op: 'get', path: '/big', watch: false })
        await target.waitForLog((e) => e.msg === 'closing a client that stopped reading', {
          since,
          timeoutMs: 60_000,
        })
        await run.waitForBystanderOps(10)
        attacker.resumeReading()
        const closed = await withDeadline(attacker.closed, 30_000, 'attacker closed')
        expect(closed.code).toBe(CloseCode.CLIENT_NOT_READING)
        expect(closed.reason).toMatch(
          /^output buffer over \d+ bytes for 3000 ms: the client is not reading$/,
        )
        // It got only what fitted under the soft mark (4 MiB) plus what the kernel held: a few dozen replies.
        const replies = attacker.messages.filter((m) => m.type === 'reply').length
        expect(replies).toBeLessThan(200)
      },
    )
  }, 240_000)
})

describe('hostile clients: work per turn (5) and watches per session (7)', () => {
  it('200k pipelined watch registrations and a 60k-path setWatches neither block the leader nor pass maxWatchesPerSession', async () => {
    await underAttack(
      { name: 'hostile-watch-burst', settings: { maxWatchesPerSession: 50_000 } },
      async (run) => {
        const url = run.url(run.leaderId)
        const attacker = await rawClient(url)
        expect((await attacker.connect({ timeoutMs: 30_000 })).type).toBe('connected')
        const total = 200_000
        const answered = countMessages(attacker, total, 180_000, `${total} watch replies`)
        for (let xid = 1; xid <= total; xid++) {
          if (xid % 2 === 0) attacker.request(xid, { op: 'exists', path: `/w${xid}`, watch: true })
          else attacker.request(xid, { op: 'addWatch', path: `/w${xid}`, mode: 'persistent' })
        }
        await answered
        const replies = attacker.messages.filter(
          (m): m is Extract<ServerMessage, { type: 'reply' }> => m.type === 'reply',
        )
        expect(replies.length).toBe(total)
        expect(replies.filter((r) => r.err === 0).length).toBe(50_000)
        const refused = replies.filter((r) => r.err !== 0)
        expect(new Set(refused.map((r) => r.err))).toEqual(new Set([ErrorCode.QUOTA_EXCEEDED]))
        expect(refused[0]?.message).toMatch(/limit of 50000 \(maxWatchesPerSession\)/)
        attacker.terminate() // its 50,000 watches are dropped in slices

        const second = await rawClient(url)
        expect((await second.connect({ timeoutMs: 30_000 })).type).toBe('connected')
        const paths = Array.from({ length: 60_000 }, (_, i) => `/s${i}`)
        second.request(1, {
          op: 'setWatches',
          relativeZxid: 0n,
          data: [],
          exist: paths,
          child: [],
        })
        const reply = await second.reply(1, 60_000)
        expect(reply.err).toBe(ErrorCode.BAD_ARGUMENTS)
        // What the SDK sends instead: slices under the cap, accepted up to maxWatchesPerSession (50,000 here: 25 slices).
        const sliceErrs: number[] = []
        for (let slice = 0; slice < 26; slice++) {
          const exist = paths.slice(
            slice * SET_WATCHES_PATHS_MAX,
            (slice + 1) * SET_WATCHES_PATHS_MAX,
          )
          second.request(2 + slice, {
            op: 'setWatches',
            relativeZxid: 0n,
            data: [],
            exist,
            child: [],
          })
        }
        for (let slice = 0; slice < 26; slice++)
          sliceErrs.push((await second.reply(2 + slice, 60_000)).err)
        expect(sliceErrs).toEqual([...new Array(25).fill(0), ErrorCode.QUOTA_EXCEEDED])
        second.terminate()
        await run.waitForBystanderOps(10)
      },
    )
  }, 300_000)
})

describe('hostile clients: connection and session limits (7)', () => {
  it('a connection flood is refused past maxConnectionsPerAddress and maxConnections with 1013, the bystander unaffected', async () => {
    await underAttack(
      {
        name: 'hostile-conn-flood',
        settings: { maxConnectionsPerAddress: 20, maxConnections: 40 },
      },
      async (run) => {
        const url = run.url(run.leaderId)
        const opened: { ws: WebSocket; closed: Promise<ClosedInfo> }[] = []
        // From 127.0.0.1, where the bystander holds one connection already: 19 more fit.
        for (let i = 0; i < 25; i++) opened.push(await openFrom(url, '127.0.0.1'))
        await run.waitForBystanderOps(3)
        const perAddress = await Promise.all(
          opened.slice(19).map((o) => withDeadline(o.closed, 10_000, 'per-address refusal')),
        )
        for (const closed of perAddress)
          expect(closed).toEqual({
            code: CloseCode.TRY_AGAIN_LATER,
            reason: 'too many connections from your address: at most 20 (maxConnectionsPerAddress)',
          })
        for (const o of opened.slice(0, 19)) expect(o.ws.readyState).toBe(WebSocket.OPEN)
        // From other addresses until the member's total of 40 is reached.
        const more: { ws: WebSocket; closed: Promise<ClosedInfo> }[] = []
        for (let i = 0; i < 30; i++) more.push(await openFrom(url, `127.0.0.${2 + (i % 2)}`))
        const total = await Promise.all(
          more.slice(20).map((o) => withDeadline(o.closed, 10_000, 'total refusal')),
        )
        for (const closed of total)
          expect(closed).toEqual({
            code: CloseCode.TRY_AGAIN_LATER,
            reason: 'too many connections: this member holds 40 (maxConnections)',
          })
        await run.waitForBystanderOps(10)
        for (const o of [...opened, ...more]) o.ws.terminate()
      },
    )
  }, 240_000)

  it('a session-creation flood is throttled with THROTTLED, and an SDK client still gets in by backing off', async () => {
    await underAttack(
      { name: 'hostile-session-flood', settings: { maxSessionCreatesPerSecond: 20 } },
      async (run) => {
        const url = run.url(run.leaderId)
        const startedMs = Date.now()
        const answers = await Promise.all(
          Array.from({ length: 150 }, async () => {
            const raw = await rawClient(url)
            const answer = await raw.connect({ timeoutMs: 30_000 })
            const closed =
              answer.type === 'connectRefused'
                ? await withDeadline(raw.closed, 10_000, 'refused close')
                : undefined
            raw.terminate()
            return { answer, closed }
          }),
        )
        const elapsedS = (Date.now() - startedMs) / 1000
        const connected = answers.filter((a) => a.answer.type === 'connected').length
        const throttled = answers.filter((a) => a.answer.type === 'connectRefused')
        expect(connected).toBeLessThanOrEqual(20 + Math.ceil(20 * elapsedS))
        expect(throttled.length).toBeGreaterThan(0)
        for (const { answer, closed } of throttled) {
          expect(answer).toMatchObject({ type: 'connectRefused', code: ErrorCode.THROTTLED })
          expect(closed?.reason).toMatch(/^THROTTLED: too many new sessions/)
        }
        // The SDK treats THROTTLED as "try again": it backs off and gets its session.
        const client = await withDeadline(
          connect({ servers: [url], sessionTimeoutMs: 10_000 }),
          30_000,
          'SDK connect after the flood',
        )
        await client.close()
      },
    )
  }, 240_000)
})

describe('hostile clients: frames (small ones)', () => {
  it('oversized, malformed and extension-typed frames are closed with reasons that name the limit or failure, never the bytes', async () => {
    await underAttack({ name: 'hostile-frames' }, async (run) => {
      const url = run.url(run.leaderId)
      // A frame of three times the limit (1 MiB + 64 KiB): 1009, the reason names the limit.
      const big = await rawClient(url)
      expect((await big.connect()).type).toBe('connected')
      big.sendBytes(new Uint8Array(3 * (MiB + 64 * 1024)))
      expect(await withDeadline(big.closed, 30_000, 'oversized close')).toEqual({
        code: CloseCode.FRAME_TOO_LARGE,
        reason: `frame exceeds the limit of ${MiB + 64 * 1024} bytes`,
      })

      // A frame whose type is the attacker's text: the close reason does not repeat it.
      const echo = await rawClient(url)
      expect((await echo.connect()).type).toBe('connected')
      echo.sendBytes(encodeClientMessage({ type: 'ATTACKER-TEXT\r\nX-Injected: 1' } as never))
      const echoed = await withDeadline(echo.closed, 30_000, 'malformed close')
      expect(echoed).toEqual({
        code: CloseCode.PROTOCOL_ERROR,
        reason: 'malformed frame (MARSHALLING_ERROR)',
      })

      // msgpack extension types (here a RegExp, ext 0x78) are refused before they are built.
      const ext = await rawClient(url)
      expect((await ext.connect()).type).toBe('connected')
      ext.sendBytes(
        new Packr({ structuredClone: true, moreTypes: true }).pack({
          type: 'request',
          xid: 1,
          request: { op: 'get', path: /(a+)+$/ },
        }),
      )
      expect(await withDeadline(ext.closed, 30_000, 'extension close')).toEqual({
        code: CloseCode.PROTOCOL_ERROR,
        reason: 'malformed frame (MARSHALLING_ERROR)',
      })
      await run.waitForBystanderOps(10)
    })
  }, 240_000)
})
