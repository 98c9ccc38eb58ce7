/**
 * MemberStatus: what `GET /status` shows of a running member. /metrics reads its
 * gauges from the same object at scrape time (metrics.ts), so the two never disagree.
 */
import type { PeerLinks, PeerLinkStatus } from '../net/peer-links.js'
import type { EventLoopLagReport } from './event-loop-lag.js'

/** FollowerReport is a leader's view of one follower. */
export interface FollowerReport {
  id: number
  /** stage is the leader's view of the follower's sync ('connected' | 'epochAcked' | 'syncing' | 'synced'). */
  stage: string
  ackedZxid: string
  /** lagTxns is how many txns the follower's acknowledged zxid trails the leader's log; null across epochs. */
  lagTxns: number | null
  connected: boolean
}

/** MemberStatus is the body of GET /status. */
export interface MemberStatus {
  id: number
  /** role is 'standalone' for a server without an ensemble, else the core's role. */
  role: string
  serving: boolean
  leaderId: number | null
  epoch: number | null
  acceptedEpoch: number
  currentEpoch: number
  zxid: string
  zxidDecimal: string
  lastLoggedZxid: string
  lastCommittedZxid: string
  sessions: number
  znodes: number
  /** ephemerals is the number of ephemeral znodes. */
  ephemerals: number
  /** dataBytes is the sum of the znodes' data lengths. */
  dataBytes: number
  watches: number
  watchWindow: { oldestZxid: string; changes: number; bytes: number }
  connections: number
  /** requestsInFlight is how many client requests this member received and has not answered yet. */
  requestsInFlight: number
  digest: bigint
  diskFull: {
    sinceMs: number
    stalledMs: number
    failing: Record<string, string>
    retryMs: number
  } | null
  eventLoop: EventLoopLagReport
  /** followers (a leader of an ensemble only). */
  followers?: FollowerReport[]
  /** links and handshakes (ensemble members only). */
  links?: PeerLinkStatus[]
  handshakes?: ReturnType<PeerLinks['handshakeSlots']>
  /** members are the ensemble's members and where clients reach them (ensemble members only): the web console polls each. */
  members?: { id: number; host: string; clientPort: number }[]
}
