/**
 * Plain SDK clients for the failover benchmark: each is a `connect()` with the full
 * server list and the SDK's default timeouts, as a user would configure it, writing one
 * 16-byte `set` at a time to its own node. A failed write is simply issued again by the
 * same client; nothing on the bench side picks a member, times a call out or retries
 * elsewhere. What the figures show is the SDK's own failover.
 *
 * Placement: the SDK picks a member at random from the list. To have clients on every
 * member (the leader included), `SdkClients.open` connects clients one at a time with
 * the full list and keeps a client only while the member it landed on still needs
 * clients; the rest are closed at once. The kept clients are ordinary clients whose
 * random first pick happened to spread them evenly.
 */
import { connect, NodeExistsError, type Client } from '../../client/index.js'
import type { WriteRecord } from './writers.js'

/** FAST_FAILURE_PAUSE_MS keeps a client whose writes fail at once from spinning on the CPU the servers need. */
const FAST_FAILURE_PAUSE_MS = 10
/** CLOSE_WAIT_MS bounds stop()'s wait for a write in flight before the client is closed under it. */
const CLOSE_WAIT_MS = 3000
/** ATTEMPTS_PER_CLIENT bounds the connects placement may take per client kept. */
const ATTEMPTS_PER_CLIENT = 30

/** SdkWriter is one client, its node, and its successful writes. */
export class SdkWriter {
  /** done holds every successful write, in completion order. */
  readonly done: WriteRecord[] = []
  failures = 0
  private stopped = false
  private loop: Promise<void> | undefined

  constructor(
    readonly client: Client,
    private readonly path: string,
  ) {}

  /** memberIndex is the index (id - 1) of the member the client is connected to now. */
  get memberIndex(): number {
    return this.client.serverId - 1
  }

  /** start begins writing until stop(). */
  start(): void {
    this.loop = this.run()
  }

  /** stop ends the writes (waiting a moment for the one in flight) and closes the client. */
  async stop(): Promise<void> {
    this.stopped = true
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      this.loop,
      new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS))),
    ])
    clearTimeout(timer)
    await this.client.close().catch(() => {})
    await this.loop
  }

  private async run(): Promise<void> {
    let counter = 0
    const value = new Uint8Array(16)
    const view = new DataView(value.buffer)
    while (!this.stopped) {
      view.setUint32(0, ++counter)
      const startedAt = performance.now()
      try {
        // The SDK's defaults: the call waits up to requestTimeoutMs (the session timeout),
        // across reconnects.
        await this.client.set(this.path, value)
        this.done.push({ startedAt, doneAt: performance.now() })
      } catch {
        if (this.stopped) return
        this.failures++
        if (performance.now() - startedAt < FAST_FAILURE_PAUSE_MS)
          await new Promise((resolve) => setTimeout(resolve, FAST_FAILURE_PAUSE_MS))
      }
    }
  }
}

/** SdkClientsOptions say where and how many. */
export interface SdkClientsOptions {
  /** servers is every member's WebSocket URL, in member order (index = id - 1). */
  servers: string[]
  perMember: number
  /** pathPrefix names the clients' nodes (`${pathPrefix}${n}`). */
  pathPrefix: string
  sessionTimeoutMs: number
}

/** openSdkClients connects clients until every member has `perMember` of them, and creates their nodes. */
export async function openSdkClients(options: SdkClientsOptions): Promise<SdkWriter[]> {
  const { servers, perMember } = options
  const byMember: Client[][] = servers.map(() => [])
  const wanted = servers.length * perMember
  let attempts = 0
  try {
    while (byMember.some((clients) => clients.length < perMember)) {
      if (++attempts > wanted * ATTEMPTS_PER_CLIENT)
        throw new Error(
          `could not place ${perMember} SDK clients on every member in ${attempts - 1} connects (placed ${byMember.map((c) => c.length).join('/')})`,
        )
      const client = await connect({ servers, sessionTimeoutMs: options.sessionTimeoutMs })
      const slot = byMember[client.serverId - 1]
      if (slot !== undefined && slot.length < perMember) slot.push(client)
      else await client.close()
    }
  } catch (err) {
    await Promise.all(byMember.flat().map((c) => c.close().catch(() => {})))
    throw err
  }
  const clients = byMember.flat()
  return Promise.all(
    clients.map(async (client, n) => {
      const path = `${options.pathPrefix}${n}`
      try {
        await client.create(path, new Uint8Array(16))
      } catch (err) {
        if (!(err instanceof NodeExistsError)) throw err
      }
      return new SdkWriter(client, path)
    }),
  )
}
