/**
 * The few parts of node-zookeeper-client (a pure-JS ZooKeeper client, which ships no
 * types) that the benchmarks use to drive Apache ZooKeeper.
 */
declare module 'node-zookeeper-client' {
  /** ZkException is the client's error; getCode() is ZooKeeper's error code (NODE_EXISTS is -110). */
  export interface ZkException extends Error {
    getCode(): number
  }
  /** ZkState is a connection state; SYNC_CONNECTED has code 3. */
  export interface ZkState {
    name: string
    code: number
  }
  /** ZkClient is one session's connection to the servers of its connection string. */
  export interface ZkClient {
    connect(): void
    close(): void
    getState(): ZkState
    once(event: 'connected' | 'disconnected' | 'expired', listener: () => void): this
    on(event: 'state', listener: (state: ZkState) => void): this
    create(
      path: string,
      data: Buffer,
      callback: (error: ZkException | null, path: string) => void,
    ): void
    setData(
      path: string,
      data: Buffer,
      version: number,
      callback: (error: ZkException | null, stat: unknown) => void,
    ): void
    getData(
      path: string,
      callback: (error: ZkException | null, data: Buffer, stat: unknown) => void,
    ): void
  }
  /** ZkClientOptions: sessionTimeout (ms), spinDelay (ms between connection attempts), retries (on connection loss). */
  export interface ZkClientOptions {
    sessionTimeout?: number
    spinDelay?: number
    retries?: number
  }
  /** createClient makes a client for a comma-separated host:port list; call connect() on it. */
  export function createClient(connectionString: string, options?: ZkClientOptions): ZkClient
  const zookeeper: { createClient: typeof createClient }
  export default zookeeper
}
