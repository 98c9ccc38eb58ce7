/**
 * BenchSession over the Conclave SDK: one session whose server list names a single
 * member, so the load generator decides where each call goes.
 */
import { connect, NodeExistsError, type Client } from '../../client/index.js'
import { withTimeout, type BenchSession } from './session.js'

/** connectConclave opens a session on `ws://127.0.0.1:port` and resolves once it is connected. */
export async function connectConclave(
  port: number,
  sessionTimeoutMs: number,
  connectTimeoutMs = 10_000,
): Promise<BenchSession> {
  const client = await connect({
    servers: [`ws://127.0.0.1:${port}`],
    sessionTimeoutMs,
    connectTimeoutMs,
  })
  return new ConclaveSession(client)
}

class ConclaveSession implements BenchSession {
  constructor(private readonly client: Client) {}

  async set(path: string, data: Uint8Array, timeoutMs: number): Promise<void> {
    await this.client.set(path, data, { timeoutMs })
  }

  async get(path: string, timeoutMs: number): Promise<void> {
    await this.client.get(path, { timeoutMs })
  }

  async ensure(path: string, data: Uint8Array, timeoutMs: number): Promise<void> {
    try {
      await this.client.create(path, data, { timeoutMs })
    } catch (err) {
      if (!(err instanceof NodeExistsError)) throw err
    }
  }

  connected(): boolean {
    return this.client.state === 'connected'
  }

  async close(): Promise<void> {
    // close() waits at most min(2 s, requestTimeoutMs) for the server; never longer here.
    await withTimeout(this.client.close(), 3000, 'close').catch(() => {})
  }
}
