/**
 * Limits shared by client and server. The server's limits are configurable; these
 * are the defaults, and the protocol constants both sides must agree on.
 */

/** PROTOCOL_VERSION is the client wire protocol version sent in `connect`. */
export const PROTOCOL_VERSION = 1

/** DATA_BYTES_MAX is the default largest znode payload (1 MiB), as ZooKeeper's jute.maxbuffer. */
export const DATA_BYTES_MAX = 1024 * 1024

/** FRAME_HEADROOM_BYTES is what a frame may carry beyond the data limit for its envelope. */
export const FRAME_HEADROOM_BYTES = 64 * 1024

/** FRAME_BYTES_MAX is the default largest WebSocket message either side accepts. */
export const FRAME_BYTES_MAX = DATA_BYTES_MAX + FRAME_HEADROOM_BYTES

/** PATH_BYTES_MAX is the longest path in UTF-8 bytes. */
export const PATH_BYTES_MAX = 4096

/** MULTI_OPS_MAX bounds the number of operations in one multi. */
export const MULTI_OPS_MAX = 1000

/**
 * ERROR_REASON_CHARS_MAX bounds the reason an error txn carries (UTF-16 units, as the
 * txn shape check counts them); the leader clips longer ones, which may quote a path.
 */
export const ERROR_REASON_CHARS_MAX = 4096

/**
 * SET_WATCHES_PATHS_MAX bounds the paths of one setWatches request (all three lists
 * together), so re-registering watches is work in slices a member can do between
 * heartbeats; the SDK splits a larger re-registration into several requests.
 */
export const SET_WATCHES_PATHS_MAX = 2_000

/** SESSION_TIMEOUT_MIN_MS and SESSION_TIMEOUT_MAX_MS are the default clamp for negotiated timeouts. */
export const SESSION_TIMEOUT_MIN_MS = 1000
export const SESSION_TIMEOUT_MAX_MS = 60_000

/** TTL_MS_MAX is the longest TTL a node may have (ZooKeeper's 2^40 ms bound). */
export const TTL_MS_MAX = 2 ** 40
