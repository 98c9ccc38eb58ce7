/**
 * BenchSession over node-zookeeper-client: one ZooKeeper session whose connection
 * string names a single server, so the load generator decides where each call goes.
 */
import zookeeper, { type ZkClient, type ZkException } from 'node-zookeeper-client'
import { withTimeout, type BenchSession } from './session.js'

const NODE_EXISTS = -110
const SYNC_CONNECTED = 3

/**
 * The client library waits a random 0..spinDelay ms before each reconnect (default
 * 1000, like the Java client). A short one keeps the client's own jitter out of the
 * figures, as the Conclave SDK's first reconnect waits only ~25 ms.
 */
const SPIN_DELAY_MS = 50

/** connectZooKeeper opens a session on `127.0.0.1:port` and resolves once it is connected. */
export async function connectZooKeeper(
  port: number,
  sessionTimeoutMs: number,
  connectTimeoutMs = 10_000,
): Promise<BenchSession> {
  const client = zookeeper.createClient(`127.0.0.1:${port}`, {
    sessionTimeout: sessionTimeoutMs,
    spinDelay: SPIN_DELAY_MS,
    retries: 0,
  })
  const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()))
  client.connect()
  try {
    await withTimeout(connected, connectTimeoutMs, `ZooKeeper connect to port ${port}`)
  } catch (err) {
    client.close()
    throw err
  }
  return new ZooKeeperSession(client)
}

/** settle adapts a node-zookeeper-client callback to a promise's resolve and reject. */
function settle<T>(
  resolve: (value: T) => void,
  reject: (err: Error) => void,
): (error: ZkException | null, value: T) => void {
  return (error, value) => (error ? reject(error) : resolve(value))
}

class ZooKeeperSession implements BenchSession {
  constructor(private readonly client: ZkClient) {}

  set(path: string, data: Uint8Array, timeoutMs: number): Promise<void> {
    const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    const call = new Promise<unknown>((resolve, reject) =>
      this.client.setData(path, buffer, -1, settle(resolve, reject)),
    )
    return withTimeout(call, timeoutMs, `setData ${path}`).then(() => undefined)
  }

  get(path: string, timeoutMs: number): Promise<void> {
    const call = new Promise<Buffer>((resolve, reject) =>
      this.client.getData(path, settle(resolve, reject)),
    )
    return withTimeout(call, timeoutMs, `getData ${path}`).then(() => undefined)
  }

  async ensure(path: string, data: Uint8Array, timeoutMs: number): Promise<void> {
    const call = new Promise<string>((resolve, reject) =>
      this.client.create(path, Buffer.from(data), settle(resolve, reject)),
    )
    try {
      await withTimeout(call, timeoutMs, `create ${path}`)
    } catch (err) {
      if ((err as Partial<ZkException>).getCode?.() !== NODE_EXISTS) throw err
    }
  }

  connected(): boolean {
    return this.client.getState().code === SYNC_CONNECTED
  }

  async close(): Promise<void> {
    // close() queues closeSession and the library drops the socket once it is answered;
    // a session whose server is gone never answers, so the wait is capped.
    const disconnected = new Promise<void>((resolve) =>
      this.client.once('disconnected', () => resolve()),
    )
    this.client.close()
    await withTimeout(disconnected, 1000, 'close').catch(() => {})
  }
}
