/**
 * What simulated clients and servers say to each other. Client traffic uses the real
 * client protocol messages (protocol/client-messages.ts): the simulated socket
 * (sim-server.ts) encodes them into the frames the shipped client front decodes, and
 * decodes the frames it sends. The simulator only adds notices that stand for a
 * socket closing, from either side.
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

/** ClosedNotice stands for the connection closing; `code` is the WebSocket close code (protocol CloseCode, or 1006 when the server is gone). */
export interface ClosedNotice {
  type: 'closed'
  code: number
  reason: string
}

/** ToClient is anything a simulated server sends to a client, or the connection closing. */
export type ToClient =
  ConnectedMessage | ConnectRefusedMessage | ReplyMessage | PongMessage | ClosedNotice
