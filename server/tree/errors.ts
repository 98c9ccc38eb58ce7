/**
 * Errors of the tree. The tree never reports bad client input (TxnBuilder answers that
 * with an error txn); what it throws is a bug upstream or a damaged snapshot.
 */

/**
 * TreeAssertionError is an impossible txn or snapshot record: a create under a missing
 * parent, a delete of a node with children, a snapshot child before its parent. The
 * runtime treats it as a bug and must not catch it to carry on.
 */
export class TreeAssertionError extends Error {
  override readonly name = 'TreeAssertionError'
  /** code is stable for matching: always `TREE_ASSERTION`. */
  readonly code = 'TREE_ASSERTION'
}
