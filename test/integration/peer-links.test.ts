/**
 * Peer links between real members over real sockets: three in-process PeerLinks on
 * port 0, every link dialed through its own fault proxy (test/helpers/fault-proxy.ts).
 *
 * What a replicated ensemble relies on, and what this proves:
 * - the members form a full mesh with exactly one connection per pair, and messages
 *   (maps, bigints, bytes) go both ways on every link;
 * - batching keeps order: one sendMany is one frame; a burst of sends in one turn
 *   shares frames; a large stream arrives complete and in order in frames within the limit;
 * - a link the proxy cuts, that a partition silences, or that flaps, goes down on both
 *   sides and comes back by itself once the network does (one connection per pair, up
 *   and down events alternating), and carries messages again;
 * - a peer that stops reading gets its link closed (SEND_QUEUE_OVERFLOW), with the
 *   queue bounded all along, and the link returns after the stall;
 * - a member with the wrong secret, another member list, or an unknown id never has a
 *   message delivered, is refused with a logged reason, and leaves the others' links alone.
 *
 * Waiting is on events with deadlines (waitFor), never on fixed sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { ServerId } from '../../server/net/peer-links.js'
import { waitFor } from '../helpers/wait.js'
import {
  SECRET,
  membersOf,
  startProxiedEnsemble,
  waitForMesh,
  type Ensemble,
  type Member,
} from '../unit/net/peer-test-kit.js'

let ensemble: Ensemble | undefined
afterEach(async () => {
  await ensemble?.close()
  ensemble = undefined
})

async function start(
  ids: ServerId[],
  overrides?: Parameters<typeof startProxiedEnsemble>[1],
): Promise<Ensemble> {
  ensemble = await startProxiedEnsemble(ids, overrides)
  return ensemble
}

const from = (m: Member, peer: ServerId) =>
  m.seen.messages.filter((x) => x.from === peer).map((x) => x.message)

describe('a three-member mesh', () => {
  it('forms one link per pair and carries messages both ways on each', async () => {
    const e = await start([1, 2, 3])
    const all = [...e.members.values()]
    await waitForMesh(all)
    for (const p of e.proxies.values()) expect(p.connectionCount).toBe(1)

    for (const sender of all) {
      for (const receiver of all) {
        if (receiver === sender) continue
        const sent = sender.links.send(receiver.id, {
          type: 'vote',
          leader: sender.id,
          zxid: (5n << 32n) | 7n,
          data: Uint8Array.of(sender.id, receiver.id),
        })
        expect(sent).toBe(true)
      }
    }
    await waitFor(() => all.every((m) => m.seen.messages.length === 2), {
      what: 'two messages at every member',
    })
    for (const receiver of all) {
      for (const sender of all) {
        if (sender === receiver) continue
        const [message] = from(receiver, sender.id) as {
          leader: number
          zxid: bigint
          data: Uint8Array
        }[]
        expect(message?.leader).toBe(sender.id)
        expect(message?.zxid).toBe((5n << 32n) | 7n)
        expect([...(message?.data ?? [])]).toEqual([sender.id, receiver.id])
      }
    }
    const states = e.member(3).links.linkStates()
    expect(states.map((s) => [s.id, s.state, s.dials])).toEqual([
      [1, 'up', true],
      [2, 'up', true],
    ])
    expect(
      e
        .member(1)
        .links.linkStates()
        .every((s) => !s.dials),
    ).toBe(true)
  })
})

describe('batching', () => {
  it('sendMany is one frame, in order; a burst of sends in one turn shares frames', async () => {
    const e = await start([1, 2])
    await waitForMesh([...e.members.values()])
    const [sender, receiver] = [e.member(2), e.member(1)]
    const framesBefore = receiver.links.linkStates()[0]?.framesReceived ?? 0
    const batch = Array.from({ length: 100 }, (_, i) => ({ type: 'proposal', n: i }))
    expect(sender.links.sendMany(1, batch)).toBe(true)
    await waitFor(() => receiver.seen.messages.length === 100, { what: '100 messages' })
    expect(from(receiver, 2)).toEqual(batch)
    expect(receiver.links.linkStates()[0]?.framesReceived).toBe(framesBefore + 1)

    for (let i = 0; i < 1000; i++) sender.links.send(1, { type: 'ack', n: i })
    await waitFor(() => receiver.seen.messages.length === 1100, { what: '1000 more messages' })
    expect(from(receiver, 2).slice(100)).toEqual(
      Array.from({ length: 1000 }, (_, i) => ({ type: 'ack', n: i })),
    )
    const frames = (receiver.links.linkStates()[0]?.framesReceived ?? 0) - framesBefore - 1
    expect(frames).toBeLessThanOrEqual(5)
  })

  it('flush frames what was queued at once, in one frame, instead of at the end of the turn', async () => {
    const e = await start([1, 2])
    await waitForMesh([...e.members.values()])
    const [sender, receiver] = [e.member(2), e.member(1)]
    const sentBefore = sender.links.linkStates()[0]?.framesSent ?? 0
    const receivedBefore = receiver.links.linkStates()[0]?.framesReceived ?? 0
    sender.links.send(1, { type: 'proposal', n: 1 })
    sender.links.send(1, { type: 'commit', n: 1 })
    // Queued, not yet framed: without flush they wait for the end of this turn.
    expect(sender.links.linkStates()[0]?.framesSent).toBe(sentBefore)
    sender.links.flush()
    expect(sender.links.linkStates()[0]?.framesSent).toBe(sentBefore + 1)
    sender.links.flush() // nothing queued: no empty frame
    expect(sender.links.linkStates()[0]?.framesSent).toBe(sentBefore + 1)
    await waitFor(() => receiver.seen.messages.length === 2, { what: 'both messages' })
    expect(from(receiver, 2)).toEqual([
      { type: 'proposal', n: 1 },
      { type: 'commit', n: 1 },
    ])
    expect(receiver.links.linkStates()[0]?.framesReceived).toBe(receivedBefore + 1)
  })

  it('a stream larger than many frames arrives complete and in order', async () => {
    const e = await start([1, 2], () => ({ sendQueueBytesMax: 64 * 1024 * 1024 }))
    await waitForMesh([...e.members.values()])
    const [sender, receiver] = [e.member(2), e.member(1)]
    const payload = new Uint8Array(1000).fill(7)
    const count = 20_000
    for (let i = 0; i < count; i++) sender.links.send(1, { n: i, payload })
    await waitFor(() => receiver.seen.messages.length === count, {
      timeoutMs: 20_000,
      what: `${count} messages`,
    })
    const order = from(receiver, 2).map((m) => (m as { n: number }).n)
    expect(order).toEqual(Array.from({ length: count }, (_, i) => i))
    const state = sender.links.linkStates()[0]
    // About 20 MB in frames of at most 256 KiB: many frames, far fewer than messages.
    expect(state?.framesSent).toBeGreaterThanOrEqual(75)
    expect(state?.framesSent).toBeLessThan(count / 10)
    expect(state?.messagesDropped).toBe(0)
  })
})

describe('links come back', () => {
  it('after the proxy cuts the connection', async () => {
    const e = await start([1, 2, 3])
    await waitForMesh([...e.members.values()])
    e.proxy(3, 1).resetConnections()
    await waitFor(() => e.member(1).seen.linkChanges.some((c) => c.peer === 3 && !c.up), {
      what: '1 sees 3 down',
    })
    await waitFor(() => e.member(3).seen.linkChanges.some((c) => c.peer === 1 && !c.up), {
      what: '3 sees 1 down',
    })
    await waitForMesh([...e.members.values()])
    expect(e.member(3).seen.linkChanges.filter((c) => c.peer === 1)).toEqual([
      { peer: 1, up: true },
      { peer: 1, up: false },
      { peer: 1, up: true },
    ])
    expect(e.member(3).links.linkStates()[0]?.lastDownReason).toBeDefined()
    // The other links never noticed.
    expect(e.member(2).seen.linkChanges).toEqual(
      expect.arrayContaining([
        { peer: 1, up: true },
        { peer: 3, up: true },
      ]),
    )
    expect(e.member(2).seen.linkChanges.every((c) => c.up)).toBe(true)
    e.member(1).links.send(3, 'after the cut')
    await waitFor(() => from(e.member(3), 1).includes('after the cut'), {
      what: 'message on the new link',
    })
    expect(e.proxy(3, 1).connectionCount).toBe(1)
  })

  it('after a partition silences it (keep-alive) and then heals', async () => {
    const e = await start([1, 2], () => ({ keepAliveMs: 150 }))
    await waitForMesh([...e.members.values()])
    e.proxy(2, 1).setMode({ kind: 'drop-all', how: 'hold' })
    await waitFor(() => !e.member(1).links.isUp(2) && !e.member(2).links.isUp(1), {
      what: 'both sides see the link down',
    })
    expect(
      e.member(2).log.find('peer link closed', { codeName: 'PEER_SILENT' }).length,
    ).toBeGreaterThanOrEqual(1)
    expect(e.member(2).links.send(1, 'dropped while down')).toBe(false)
    e.proxy(2, 1).heal()
    await waitForMesh([...e.members.values()])
    e.member(2).links.send(1, 'after healing')
    await waitFor(() => from(e.member(1), 2).includes('after healing'), {
      what: 'message after healing',
    })
    expect(from(e.member(1), 2)).not.toContain('dropped while down')
  })

  it('after a flapping network, settling on one connection per pair', async () => {
    const e = await start([1, 2, 3], () => ({ keepAliveMs: 100 }))
    await waitForMesh([...e.members.values()])
    for (const p of e.proxies.values()) p.setMode({ kind: 'flap', periodMs: 80, down: 'reset' })
    await waitFor(() => e.member(1).seen.linkChanges.filter((c) => !c.up).length >= 4, {
      what: 'several outages',
    })
    for (const p of e.proxies.values()) p.heal()
    await waitForMesh([...e.members.values()])
    for (const p of e.proxies.values()) expect(p.connectionCount).toBe(1)
    for (const m of e.members.values()) {
      // Every member's history per peer alternates up/down and ends up.
      for (const peer of [1, 2, 3].filter((id) => id !== m.id)) {
        const changes = m.seen.linkChanges.filter((c) => c.peer === peer).map((c) => c.up)
        expect(changes.every((up, i) => up === (i % 2 === 0))).toBe(true)
        expect(changes.at(-1)).toBe(true)
      }
    }
    e.member(1).links.send(3, 'settled')
    await waitFor(() => from(e.member(3), 1).includes('settled'), {
      what: 'message after flapping',
    })
  })

  it('closes the link of a peer that stops reading, keeping the queue bounded, and re-dials', async () => {
    const bound = 512 * 1024
    const e = await start([1, 2], () => ({ keepAliveMs: 0, sendQueueBytesMax: bound }))
    await waitForMesh([...e.members.values()])
    const sender = e.member(2)
    e.proxy(2, 1).setMode({ kind: 'drop-all', how: 'hold' })
    const chunk = { payload: new Uint8Array(64 * 1024) }
    let sentBytes = 0
    await waitFor(
      async () => {
        for (let i = 0; i < 16 && sender.links.isUp(1); i++) {
          sender.links.send(1, chunk)
          sentBytes += chunk.payload.length
          expect(sender.links.linkStates()[0]?.queuedBytes).toBeLessThanOrEqual(bound)
        }
        await new Promise((resolve) => setImmediate(resolve))
        return !sender.links.isUp(1)
      },
      { timeoutMs: 20_000, intervalMs: 1, what: 'the stalled link to close' },
    )
    const [line] = sender.log.find('peer link closed', { codeName: 'SEND_QUEUE_OVERFLOW', peer: 1 })
    expect(line?.detail).toMatch(/the peer stopped reading/)
    expect(sentBytes).toBeGreaterThan(bound)
    expect(sender.links.linkStates()[0]?.messagesDropped).toBeGreaterThan(0)
    e.proxy(2, 1).heal()
    await waitForMesh([...e.members.values()], 15_000)
    sender.links.send(1, 'after the stall')
    await waitFor(() => from(e.member(1), 2).includes('after the stall'), {
      what: 'message after the stall',
    })
  })
})

describe('misconfigured and foreign members', () => {
  /** expectIsolated checks member 3 never delivered anything and 1 and 2 still talk. */
  async function expectIsolated(e: Ensemble): Promise<void> {
    const good = [e.member(1), e.member(2)]
    await waitFor(() => e.member(1).links.isUp(2) && e.member(2).links.isUp(1), {
      what: 'the link between 1 and 2',
    })
    expect(e.member(3).links.send(1, 'let me in')).toBe(false)
    e.member(1).links.send(2, 'between members')
    await waitFor(() => from(e.member(2), 1).includes('between members'), {
      what: 'good link works',
    })
    for (const m of good) {
      expect(m.seen.messages.filter((x) => x.from === 3)).toEqual([])
      expect(m.seen.linkChanges.filter((c) => c.peer === 3)).toEqual([])
    }
    expect(e.member(3).seen.messages).toEqual([])
    expect(e.member(3).seen.linkChanges).toEqual([])
  }

  it('with the wrong secret: refused on both sides, nothing delivered', async () => {
    const e = await start([1, 2, 3], (id) =>
      id === 3 ? { secret: new TextEncoder().encode('the-wrong-secret-for-this-group') } : {},
    )
    await waitFor(
      () =>
        e.member(1).log.find('peer link refused by peer', { peer: 3, codeName: 'AUTH_FAILED' })
          .length > 0,
      { what: "1 logs 3's refusal" },
    )
    const [line] = e.member(3).log.find('peer link refused', { peer: 1, codeName: 'AUTH_FAILED' })
    expect(line?.detail).toBe('member 1 failed to prove the shared secret (wrong secret?)')
    await expectIsolated(e)
  })

  it('with another member list: refused with the difference named', async () => {
    const theirs = membersOf([1, 2, 3]).map((m) => (m.id === 2 ? { ...m, peerPort: 29_002 } : m))
    const e = await start([1, 2, 3], (id) => (id === 3 ? { members: theirs } : {}))
    await waitFor(
      () =>
        e.member(1).log.find('peer link refused', { peer: 3, codeName: 'ENSEMBLE_MISMATCH' })
          .length > 0,
      { what: '1 refuses 3' },
    )
    const [line] = e
      .member(1)
      .log.find('peer link refused', { peer: 3, codeName: 'ENSEMBLE_MISMATCH' })
    expect(line?.detail).toBe(
      'member 3 has a different member list: member 2 is 2@127.0.0.1:20002 here but 2@127.0.0.1:29002 at the peer',
    )
    await waitFor(
      () =>
        e
          .member(3)
          .log.find('peer link refused by peer', { peer: 1, codeName: 'ENSEMBLE_MISMATCH' })
          .length > 0,
      {
        what: '3 logs being refused',
      },
    )
    await expectIsolated(e)
  })

  it('with an unknown id: refused, naming the id', async () => {
    // Member 3 believes the ensemble is {1, 2, 3}; 1 and 2 believe it is {1, 2, 4}.
    const e = await start([1, 2, 3], (id) => (id === 3 ? {} : { members: membersOf([1, 2, 4]) }))
    await waitFor(
      () =>
        e.member(1).log.find('peer link refused', { peer: 3, codeName: 'UNKNOWN_MEMBER' }).length >
        0,
      { what: '1 refuses 3' },
    )
    const [line] = e
      .member(1)
      .log.find('peer link refused', { peer: 3, codeName: 'UNKNOWN_MEMBER' })
    expect(line?.detail).toBe(
      'peer claims id 3, which is not a member of this ensemble (members: 1, 2, 4)',
    )
    await waitFor(
      () =>
        e.member(2).log.find('peer link refused', { peer: 3, codeName: 'UNKNOWN_MEMBER' }).length >
        0,
      { what: '2 refuses 3' },
    )
    await expectIsolated(e)
  })

  it('with the right secret everything works (control for the cases above)', async () => {
    const e = await start([1, 2, 3], () => ({ secret: SECRET }))
    await waitForMesh([...e.members.values()])
    e.member(3).links.send(1, 'welcome')
    await waitFor(() => from(e.member(1), 3).includes('welcome'), { what: 'message from 3' })
  })
})
