/**
 * The metric families a member's GET /metrics must show (docs/operations.md, Metrics),
 * for the unit and integration tests.
 */
import type { PromType } from './prom-text.js'

/** FAMILIES is every family /metrics must show, with its type. */
export const FAMILIES: Record<string, PromType> = {
  conclave_requests_total: 'counter',
  conclave_request_duration_seconds: 'histogram',
  conclave_requests_in_flight: 'gauge',
  conclave_received_bytes_total: 'counter',
  conclave_sent_bytes_total: 'counter',
  conclave_client_connections: 'gauge',
  conclave_fsync_duration_seconds: 'histogram',
  conclave_fsync_batch_txns: 'histogram',
  conclave_proposal_commit_duration_seconds: 'histogram',
  conclave_elections_total: 'counter',
  conclave_last_election_duration_seconds: 'gauge',
  conclave_last_election_info: 'gauge',
  conclave_role: 'gauge',
  conclave_serving: 'gauge',
  conclave_epoch: 'gauge',
  conclave_follower_lag_txns: 'gauge',
  conclave_syncs_total: 'counter',
  conclave_sessions: 'gauge',
  conclave_watches: 'gauge',
  conclave_ephemerals: 'gauge',
  conclave_znodes: 'gauge',
  conclave_data_bytes: 'gauge',
  conclave_event_loop_lag_max_seconds: 'gauge',
  conclave_event_loop_lag_p99_seconds: 'gauge',
  conclave_disk_full: 'gauge',
  conclave_limit_refusals_total: 'counter',
  conclave_peer_messages_dropped_total: 'counter',
}
