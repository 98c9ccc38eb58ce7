/**
 * `conclave server`: run one server from a JSON config file and/or flags (flags win).
 */
import type { CommandModule } from 'yargs'
import type { ServerFlags } from './server-config.js'

/** ServerArgs are the parsed flags of `conclave server`. */
export interface ServerArgs extends ServerFlags {
  pretty?: boolean
}

/** serverCommand is the yargs module for `conclave server`. */
export const serverCommand: CommandModule<object, ServerArgs> = {
  command: 'server',
  describe: 'run one Conclave server (standalone, or a member of the ensemble its config lists)',
  builder: (y) =>
    y
      .option('config', {
        type: 'string',
        describe:
          'JSON config file (id, host, clientPort, dataDir, members, peerPort, secretFile, ...); relative paths in it are relative to the file',
      })
      .option('id', { type: 'number', describe: 'server id, 1-255' })
      .option('host', { type: 'string', describe: 'address to bind the client and peer ports to' })
      .option('port', {
        type: 'number',
        describe: 'client port (WebSocket + HTTP); 0 picks a free one',
      })
      .option('peer-port', {
        type: 'number',
        describe: "peer port to bind (default: this member's peerPort in the member list)",
      })
      .option('secret-file', {
        type: 'string',
        describe: "the ensemble's shared secret file (mode 0600)",
      })
      .option('data', { type: 'string', describe: 'data directory' })
      .option('tick-ms', {
        type: 'number',
        describe: 'length of a tick, the unit of session expiry and timeouts',
      })
      .option('min-session-timeout-ms', {
        type: 'number',
        describe: 'shortest session timeout granted to a client',
      })
      .option('max-session-timeout-ms', {
        type: 'number',
        describe: 'longest session timeout granted to a client',
      })
      .option('max-data-bytes', {
        type: 'number',
        describe: 'largest znode payload in bytes',
      })
      .option('snapshot-every-txns', {
        type: 'number',
        describe: 'take a snapshot after this many logged txns',
      })
      .option('reap-every-ticks', {
        type: 'number',
        describe: 'how often empty containers and expired TTL nodes are deleted',
      })
      .option('log-level', { type: 'string', describe: 'fatal|error|warn|info|debug|trace|silent' })
      .option('client-tls', {
        type: 'boolean',
        describe: 'serve clients over wss:// (needs --tls-cert-file, --tls-key-file)',
      })
      .option('peer-tls', {
        type: 'boolean',
        describe: 'peer links over TLS, verified both ways against --tls-ca-file',
      })
      .option('client-cert-auth', {
        type: 'string',
        describe: 'none|request|require: client certificates',
      })
      .option('tls-cert-file', { type: 'string', describe: "this member's certificate (PEM)" })
      .option('tls-key-file', { type: 'string', describe: "this member's private key (PEM)" })
      .option('tls-ca-file', {
        type: 'string',
        describe: 'CA certificate(s) members (and clients) are verified against',
      })
      .option('client-ca-file', {
        type: 'string',
        describe: 'CA for client certificates (default --tls-ca-file)',
      })
      .option('pretty', {
        type: 'boolean',
        describe: 'human-readable logs (default: when stdout is a terminal)',
      }),
  // Loaded here, not at the top, so the other commands start without loading the server.
  handler: async (args) => (await import('./server-run.js')).runServer(args),
}
