/**
 * The console's session: one SDK client at a time, anonymous (read-only) or logged in
 * with digest credentials (`user:password`, sent through the `auth` connect option).
 * Logging in or out replaces the client, since an identity cannot be taken back from a
 * session; the tree, details and feed then start over on the new one.
 */
import { connect, type Client, type ConnectionState } from '../client/index.js'

/** Identity is who the console is logged in as, or undefined for an anonymous session. */
export type Identity = string | undefined

/** ConnectionListener hears of each new client (after login, logout or the first connect). */
export type ConnectionListener = (client: Client, user: Identity) => void

/** Connection owns the console's SDK client. */
export class Connection {
  private current: Client | undefined
  private user: Identity
  private readonly listeners: ConnectionListener[] = []
  private readonly stateListeners: ((state: ConnectionState) => void)[] = []

  constructor(private servers: string[]) {}

  /** client is the connected client, or undefined before the first connect. */
  get client(): Client | undefined {
    return this.current
  }

  /** loggedInAs is the digest user name, or undefined when read-only. */
  get loggedInAs(): Identity {
    return this.user
  }

  /** setServers changes the member list the next client connects to. */
  setServers(servers: string[]): void {
    this.servers = servers
  }

  /** onChange calls `listener` with every new client. */
  onChange(listener: ConnectionListener): void {
    this.listeners.push(listener)
  }

  /** onState calls `listener` with each connection state of the current client. */
  onState(listener: (state: ConnectionState) => void): void {
    this.stateListeners.push(listener)
  }

  /**
   * open replaces the client with one logged in as `credentials` (`user:password`), or
   * an anonymous one. The old client closes only once the new one is connected, so a
   * failed login leaves the console as it was.
   */
  async open(credentials?: string): Promise<void> {
    for (const listener of this.stateListeners) listener('connecting')
    const next = await connect({
      servers: this.servers,
      sessionTimeoutMs: 10_000,
      ...(credentials === undefined ? {} : { auth: [{ scheme: 'digest', credentials }] }),
    })
    const previous = this.current
    this.current = next
    this.user = credentials?.slice(0, credentials.indexOf(':'))
    next.on('state', (state) => {
      if (this.current === next) for (const listener of this.stateListeners) listener(state)
    })
    for (const listener of this.stateListeners) listener(next.state)
    for (const listener of this.listeners) listener(next, this.user)
    await previous?.close().catch(() => undefined)
  }
}
