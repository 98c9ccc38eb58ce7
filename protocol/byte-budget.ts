/**
 * Cutting a sequence into messages that each stay within a byte budget. Every message
 * between members that carries client data (a proposal batch, one part of a DIFF, a
 * SNAP chunk) is built this way, so none can outgrow the peer frame however large the
 * txns or records are: a batch closes before the item that would take it past the
 * budget, or at a count. A batch always holds at least one item, so an item larger
 * than the budget travels alone; the txn limit (half the budget) keeps that from
 * happening to any txn a member prepares.
 */

/** BatchLimits bound one batch: its items' measured bytes, and optionally their count. */
export interface BatchLimits {
  /** bytesMax is the byte budget of one batch's items (as measured by the caller's bytesOf). */
  readonly bytesMax: number
  /** countMax is the most items in one batch (no limit when absent). */
  readonly countMax?: number
}

/**
 * batchesWithin yields `items` in order, in consecutive batches within `limits`, each
 * item measured once by `bytesOf` (an upper bound on its encoding). Lazy: an iterator
 * is walked only as far as the batches taken.
 */
export function* batchesWithin<T>(
  items: Iterable<T>,
  bytesOf: (item: T) => number,
  limits: BatchLimits,
): Generator<T[]> {
  const countMax = limits.countMax ?? Number.POSITIVE_INFINITY
  let batch: T[] = []
  let bytes = 0
  for (const item of items) {
    const size = bytesOf(item)
    if (batch.length > 0 && (bytes + size > limits.bytesMax || batch.length >= countMax)) {
      yield batch
      batch = []
      bytes = 0
    }
    batch.push(item)
    bytes += size
  }
  if (batch.length > 0) yield batch
}
