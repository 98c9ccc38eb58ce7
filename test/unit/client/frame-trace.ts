/**
 * FrameTrace records every frame the SDK sends and receives, decoded and stamped with a
 * clock's time, by standing in for the global `WebSocket` (the ws class underneath, as
 * in browser.test.ts). A test on a ManualClock learns from it exactly when the client
 * sent each ping, and whether the server's answer has arrived yet.
 *
 * The SDK picks its WebSocket class at its first connection and keeps it, so a test
 * file must install the trace before it connects any client.
 */
import { WebSocket as WsWebSocket } from 'ws'
import {
  decodeClientMessage,
  decodeServerMessage,
  type ClientMessage,
  type ServerMessage,
} from '../../../protocol/index.js'

/** Traced is one frame with the clock's time when it was sent or received. */
export interface Traced<M> {
  atMs: number
  message: M
}

/** FrameTrace is what the stand-in WebSocket saw, over every connection, in order. */
export interface FrameTrace {
  sent: Traced<ClientMessage>[]
  received: Traced<ServerMessage>[]
  /** uninstall puts back the global WebSocket that was there before. */
  uninstall(): void
}

/** installFrameTrace replaces the global WebSocket with one that records frames, stamped with `nowMs()`. */
export function installFrameTrace(nowMs: () => number): FrameTrace {
  const holder = globalThis as { WebSocket?: unknown }
  const original = holder.WebSocket
  const trace: FrameTrace = {
    sent: [],
    received: [],
    uninstall: () => {
      holder.WebSocket = original
    },
  }
  class TracingWebSocket extends WsWebSocket {
    constructor(url: string) {
      super(url)
      const send = this.send.bind(this) as (data: Uint8Array) => void
      ;(this as { send: (data: Uint8Array) => void }).send = (data) => {
        trace.sent.push({ atMs: nowMs(), message: decoded(decodeClientMessage(data)) })
        send(data)
      }
      this.addEventListener('message', (event) => {
        const bytes = new Uint8Array(event.data as ArrayBuffer)
        trace.received.push({ atMs: nowMs(), message: decoded(decodeServerMessage(bytes)) })
      })
    }
  }
  holder.WebSocket = TracingWebSocket
  return trace
}

/** decoded unwraps a decode result; the trace only ever sees well-formed frames in these tests. */
function decoded<M>(result: { ok: true; message: M } | { ok: false; error: Error }): M {
  if (!result.ok) throw result.error
  return result.message
}
