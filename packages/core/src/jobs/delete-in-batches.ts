/**
 * Runs `deleteBatch(batchSize)` (one bounded DELETE, its own short transaction) until a batch
 * deletes fewer rows than asked, and answers the total: how a maintenance job removes any number
 * of rows without locking a table or holding a long transaction.
 */
export async function deleteInBatches(
  batchSize: number,
  deleteBatch: (limit: number) => PromiseLike<number>,
): Promise<number> {
  let total = 0
  for (;;) {
    const deleted = await deleteBatch(batchSize)
    total += deleted
    if (deleted < batchSize) return total
  }
}
