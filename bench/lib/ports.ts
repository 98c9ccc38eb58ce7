/**
 * Free loopback ports for ensemble members, whose configs must name every member's
 * ports before any of them starts (so port 0 cannot be used).
 */
import { createServer, type Server } from 'node:net'

/** freePorts binds `count` listeners on 127.0.0.1 port 0 at once, notes their ports and closes them. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = []
  try {
    const ports: number[] = []
    for (let i = 0; i < count; i++) {
      const server = createServer()
      servers.push(server)
      // Holding all of them open until every port is known keeps the ports distinct.
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.once('error', reject)
          server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port))
        }),
      )
    }
    return ports
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
  }
}
