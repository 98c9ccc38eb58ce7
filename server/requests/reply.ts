/**
 * Reply: the answer to one request before the runtime adds its xid and zxid, and the
 * one way error replies are worded.
 */
import { errorCodeName, type Result } from '../../protocol/index.js'

/** Reply is the answer to one request: `err` 0 with `result`, or an error code with `message`. */
export interface Reply {
  err: number
  result?: Result
  message?: string
}

/**
 * errorReply builds an error reply whose message leads with the code's name, e.g.
 * `NO_NODE: /a/b does not exist`, so a log line or an SDK error reads on its own.
 */
export function errorReply(code: number, reason: string, result?: Result): Reply {
  const message = `${errorCodeName(code) ?? `error ${code}`}: ${reason}`
  return result === undefined ? { err: code, message } : { err: code, message, result }
}
