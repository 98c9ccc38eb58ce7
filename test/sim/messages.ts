/**
 * What simulated clients and servers say to each other, and what a follower forwards
 * to the leader. Client traffic uses the real client protocol types
 * (protocol/client-messages.ts) so the server side answers real requests with the
 * real TxnBuilder and reply shaping; the simulator only adds a `closed` notice that
 * stands for the socket closing.
 */
import type {
  ConnectedMessage,
  ConnectMessage,
  ConnectRefusedMessage,
  PingMessage,
  PongMessage,
  ReplyMessage,
  RequestMessage,
} from '../../protocol/index.js'

/** DisconnectNotice stands for the client closing its socket (it gave up on this server). */
export interface DisconnectNotice {
  type: 'disconnect'
}

/** ToServer is anything a simulated client sends on its connection. */
export type ToServer = ConnectMessage | RequestMessage | PingMessage | DisconnectNotice

/** ClosedNotice stands for the connection closing; `code` is the error code that explains why. */
export interface ClosedNotice {
  type: 'closed'
  code: number
  reason: string
}

/** ToClient is anything a simulated server sends to a client, or the connection closing. */
export type ToClient =
  ConnectedMessage | ConnectRefusedMessage | ReplyMessage | PongMessage | ClosedNotice
