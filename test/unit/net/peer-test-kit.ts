/**
 * Shared pieces for the peer-link tests: a pino logger whose lines the test can read,
 * in-process PeerLinks members on port 0 (alone, or as an ensemble with a fault proxy
 * on every link), and recorders for delivered messages and link changes.
 *
 * Members advertise fixed placeholder ports in their member list (so every member
 * computes the same fingerprint) and bind port 0; `dialAddress` maps each member to
 * its real bound port, or to a fault proxy in front of it, at dial time.
 */
import { pino, type Logger } from 'pino'
import {
  PeerLinks,
  type DialAddress,
  type PeerLinksOptions,
  type PeerMember,
  type ServerId,
} from '../../../server/net/peer-links.js'
import { startFaultProxy, type FaultProxy } from '../../helpers/fault-proxy.js'
import { waitFor } from '../../helpers/wait.js'

/** LogLine is one parsed pino line. */
export type LogLine = Record<string, unknown> & { level: number; msg: string }

/** CapturedLogger is a real pino logger writing into `lines`. */
export interface CapturedLogger {
  logger: Logger
  lines: LogLine[]
  /** find returns the lines whose msg equals `msg` and whose fields include `fields`. */
  find(msg: string, fields?: Record<string, unknown>): LogLine[]
}

/** captureLogger makes a debug-level pino logger that keeps every line it writes. */
export function captureLogger(): CapturedLogger {
  const lines: LogLine[] = []
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  )
  const find = (msg: string, fields: Record<string, unknown> = {}) =>
    lines.filter((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v))
  return { logger, lines, find }
}

/** SECRET is the shared secret of the test ensembles (32 bytes). */
export const SECRET = new TextEncoder().encode('test-ensemble-secret-0123456789ab')

/** FRAME_BYTES_MAX is the frame limit the tests use unless they need another. */
export const FRAME_BYTES_MAX = 256 * 1024

/** membersOf lists members with the given ids on 127.0.0.1 at placeholder ports 20000+id. */
export function membersOf(ids: readonly number[]): PeerMember[] {
  return ids.map((id) => ({ id, host: '127.0.0.1', peerPort: 20_000 + id }))
}

/** Recorder keeps what one member's handlers saw. */
export interface Recorder {
  messages: { from: ServerId; message: unknown }[]
  linkChanges: { peer: ServerId; up: boolean }[]
}

/** Member is one started PeerLinks with its logger and recorder. */
export interface Member {
  id: ServerId
  links: PeerLinks
  log: CapturedLogger
  seen: Recorder
}

/** Directory maps member ids to where they can be dialed; filled as members start. */
export class Directory {
  readonly ports = new Map<ServerId, number>()
  readonly overrides = new Map<ServerId, () => DialAddress>()

  /** resolve is the dialAddress function handed to every member. */
  resolve = (member: PeerMember): DialAddress => {
    const override = this.overrides.get(member.id)
    if (override !== undefined) return override()
    const port = this.ports.get(member.id)
    if (port === undefined) throw new Error(`member ${member.id} has not started yet`)
    return { host: '127.0.0.1', port }
  }
}

/** startMember starts one PeerLinks with recorders, registering its port in `directory`. */
export async function startMember(
  id: ServerId,
  members: readonly PeerMember[],
  directory: Directory,
  overrides: Partial<PeerLinksOptions> = {},
): Promise<Member> {
  const log = captureLogger()
  const links = await PeerLinks.start({
    selfId: id,
    host: '127.0.0.1',
    peerPort: 0,
    members,
    secret: SECRET,
    frameBytesMax: FRAME_BYTES_MAX,
    logger: log.logger,
    handshakeTimeoutMs: 1000,
    backoff: { baseMs: 20, capMs: 200 },
    dialAddress: directory.resolve,
    ...overrides,
  })
  directory.ports.set(id, links.port)
  const seen: Recorder = { messages: [], linkChanges: [] }
  links.onMessage((from, message) => seen.messages.push({ from, message }))
  links.onLinkChange((peer, up) => seen.linkChanges.push({ peer, up }))
  return { id, links, log, seen }
}

/** waitForMesh waits until every member's link to every other member is up. */
export async function waitForMesh(members: readonly Member[], timeoutMs = 10_000): Promise<void> {
  await waitFor(() => members.every((m) => m.links.linkStates().every((s) => s.state === 'up')), {
    timeoutMs,
    what: 'a full mesh of peer links',
  })
}

/** Ensemble is a set of started members with a fault proxy on every link. */
export interface Ensemble {
  members: Map<ServerId, Member>
  /** proxies holds the proxy each dialer dials its acceptor through, keyed `dialer>acceptor` ("3>1"). */
  proxies: Map<string, FaultProxy>
  member(id: ServerId): Member
  proxy(dialer: ServerId, acceptor: ServerId): FaultProxy
  close(): Promise<void>
}

/**
 * startProxiedEnsemble starts members `ids` (ascending) where every dial goes through
 * its own fault proxy (pass mode), so tests can cut, partition or delay any single link.
 * `overrides(id)` adjusts one member's options (secret, member list, timeouts).
 */
export async function startProxiedEnsemble(
  ids: readonly ServerId[],
  overrides: (id: ServerId) => Partial<PeerLinksOptions> = () => ({}),
): Promise<Ensemble> {
  const ports = new Map<ServerId, number>()
  const proxies = new Map<string, FaultProxy>()
  for (const dialer of ids) {
    for (const acceptor of ids) {
      if (acceptor >= dialer) continue
      const target = () => {
        const port = ports.get(acceptor)
        if (port === undefined) throw new Error(`member ${acceptor} has not started`)
        return { host: '127.0.0.1', port }
      }
      proxies.set(`${dialer}>${acceptor}`, await startFaultProxy({ target }))
    }
  }
  const members = new Map<ServerId, Member>()
  const list = membersOf(ids)
  for (const id of [...ids].sort((a, b) => a - b)) {
    const directory = new Directory()
    for (const acceptor of ids) {
      const p = proxies.get(`${id}>${acceptor}`)
      if (p !== undefined) directory.overrides.set(acceptor, () => ({ host: p.host, port: p.port }))
    }
    const member = await startMember(id, list, directory, overrides(id))
    ports.set(id, member.links.port)
    members.set(id, member)
  }
  const get = <T>(map: Map<string | number, T>, key: string | number): T => {
    const value = map.get(key)
    if (value === undefined) throw new Error(`no ${String(key)} in this ensemble`)
    return value
  }
  return {
    members,
    proxies,
    member: (id) => get(members, id),
    proxy: (dialer, acceptor) => get(proxies, `${dialer}>${acceptor}`),
    close: async () => {
      await Promise.all([...members.values()].map((m) => m.links.close()))
      await Promise.all([...proxies.values()].map((p) => p.close()))
    },
  }
}
