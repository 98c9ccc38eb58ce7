/**
 * Answering reads from the tree (exists, get, children, getEphemerals, childCount,
 * getAcl). Reads only look; watches are registered by the caller in the same
 * synchronous step, so no write can slip in between a read and its watch.
 */
import {
  ErrorCode,
  Perm,
  pathProblem,
  type Acl,
  type ChildCountRequest,
  type ChildrenRequest,
  type ExistsRequest,
  type GetAclRequest,
  type GetEphemeralsRequest,
  type GetRequest,
  type SessionId,
} from '../../protocol/index.js'
import type { DataTree } from '../tree/data-tree.js'
import { aclPermits, type AuthId } from './acl.js'
import { errorReply, type Reply } from './reply.js'

export type { Reply } from './reply.js'

/** ReadRequest is a request answered from the tree alone. */
export type ReadRequest =
  | ExistsRequest
  | GetRequest
  | ChildrenRequest
  | GetEphemeralsRequest
  | ChildCountRequest
  | GetAclRequest

const noNode = (path: string): Reply => errorReply(ErrorCode.NO_NODE, `${path} does not exist`)

const noAuth = (what: string, path: string): Reply =>
  errorReply(ErrorCode.NO_AUTH, `${what} on ${path} is not granted to this session`)

/**
 * maskDigests hides the password hashes of digest entries (`user:x`) from a reader
 * without ADMIN, as ZooKeeper does since CVE-2019-0201.
 */
function maskDigests(acl: readonly Acl[]): Acl[] {
  return acl.map((entry) =>
    entry.scheme === 'digest' ? { ...entry, id: entry.id.replace(/:.*$/s, ':x') } : { ...entry },
  )
}

/**
 * answerRead answers one read from the tree as it is now: exists gives `{ stat: null }`
 * for a missing node, the others NO_NODE; an invalid path gives BAD_ARGUMENTS.
 * `sessionId` is the asking session, whose ephemerals getEphemerals lists. ACLs are
 * checked where ZooKeeper 3.8 checks them: READ for get, children and childCount,
 * READ or ADMIN for getAcl (digest hashes masked without ADMIN); exists and
 * getEphemerals are not checked. No identities: an anonymous reader.
 */
export function answerRead(
  tree: DataTree,
  request: ReadRequest,
  sessionId: SessionId,
  identities: readonly AuthId[] = [],
): Reply {
  const may = (path: string, perm: number) => {
    const node = tree.getNode(path)
    return node === undefined || aclPermits(node.acl, perm, identities)
  }
  if (request.op !== 'getEphemerals') {
    const problem = pathProblem(request.path)
    if (problem !== null)
      return errorReply(
        ErrorCode.BAD_ARGUMENTS,
        `invalid path ${JSON.stringify(request.path)}: ${problem}`,
      )
  }
  switch (request.op) {
    case 'exists':
      return { err: ErrorCode.OK, result: { stat: tree.stat(request.path) } }
    case 'get': {
      if (!may(request.path, Perm.READ)) return noAuth('READ', request.path)
      const found = tree.getData(request.path)
      return found === null ? noNode(request.path) : { err: ErrorCode.OK, result: found }
    }
    case 'children': {
      if (!may(request.path, Perm.READ)) return noAuth('READ', request.path)
      const children = tree.children(request.path)
      if (children === null) return noNode(request.path)
      const stat = request.withStat === true ? tree.stat(request.path) : null
      return { err: ErrorCode.OK, result: stat === null ? { children } : { children, stat } }
    }
    case 'getEphemerals': {
      if (typeof request.prefix !== 'string')
        return errorReply(ErrorCode.BAD_ARGUMENTS, 'prefix must be a string')
      const paths = tree.ephemeralsOf(sessionId).filter((path) => path.startsWith(request.prefix))
      return { err: ErrorCode.OK, result: { paths } }
    }
    case 'childCount': {
      if (!may(request.path, Perm.READ)) return noAuth('READ', request.path)
      const count = tree.countDescendants(request.path)
      return count === null ? noNode(request.path) : { err: ErrorCode.OK, result: { count } }
    }
    case 'getAcl': {
      const node = tree.getNode(request.path)
      const stat = tree.stat(request.path)
      if (node === undefined || stat === null) return noNode(request.path)
      if (!aclPermits(node.acl, Perm.READ | Perm.ADMIN, identities))
        return noAuth('READ or ADMIN', request.path)
      const acl = aclPermits(node.acl, Perm.ADMIN, identities)
        ? node.acl.map((entry) => ({ ...entry }))
        : maskDigests(node.acl)
      return { err: ErrorCode.OK, result: { acl, stat } }
    }
    default: {
      const unreachable: never = request
      return errorReply(
        ErrorCode.UNIMPLEMENTED,
        `${String((unreachable as { op?: unknown }).op)} is not a read`,
      )
    }
  }
}
