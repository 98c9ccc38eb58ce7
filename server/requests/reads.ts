/**
 * Answering reads from the tree. Watches are registered by the caller in the same
 * synchronous step, so no write can slip in between the read and its watch.
 */
import {
  ErrorCode,
  type ChildCountRequest,
  type ChildrenRequest,
  type ExistsRequest,
  type GetAclRequest,
  type GetEphemeralsRequest,
  type GetRequest,
  type SessionId,
} from '../../protocol/index.js'
import type { DataTree } from '../tree/data-tree.js'

/** Reply is the answer to one request before it gets its xid and zxid. */
export interface Reply {
  err: number
  result?: unknown
  message?: string
}

/** ReadRequest is a request answered from the tree alone. */
export type ReadRequest = ExistsRequest | GetRequest | ChildrenRequest | GetEphemeralsRequest | ChildCountRequest | GetAclRequest

const noNode = (path: string): Reply => ({ err: ErrorCode.NO_NODE, message: `${path} does not exist` })

/** answerRead answers one read from the tree. */
export function answerRead(tree: DataTree, request: ReadRequest, sessionId: SessionId): Reply {
  switch (request.op) {
    case 'exists':
      return { err: 0, result: { stat: tree.stat(request.path) } }
    case 'get': {
      const found = tree.getData(request.path)
      return found === null ? noNode(request.path) : { err: 0, result: found }
    }
    case 'children': {
      const children = tree.children(request.path)
      if (children === null) return noNode(request.path)
      return { err: 0, result: request.withStat === true ? { children, stat: tree.stat(request.path) } : { children } }
    }
    case 'getEphemerals':
      return { err: 0, result: { paths: tree.ephemeralsOf(sessionId).filter((p) => p.startsWith(request.prefix)) } }
    case 'childCount': {
      const count = tree.countDescendants(request.path)
      return count === null ? noNode(request.path) : { err: 0, result: { count } }
    }
    case 'getAcl': {
      const node = tree.getNode(request.path)
      return node === undefined ? noNode(request.path) : { err: 0, result: { acl: node.acl, stat: tree.stat(request.path) } }
    }
    default: {
      const unreachable: never = request
      return { err: ErrorCode.UNIMPLEMENTED, message: `not a read: ${JSON.stringify(unreachable)}` }
    }
  }
}
