/** Rows deleted per statement when purging. */
export const PURGE_BATCH = 1000;

/**
 * Runs `deleteBatch` (one statement deleting at most PURGE_BATCH rows) until a batch comes up
 * short, with the event loop free between batches: a backlog of millions never holds the
 * database, or the one SQLite connection, for longer than one batch. Returns how many went.
 */
export async function purgeInBatches(deleteBatch: () => Promise<number>): Promise<number> {
  let purged = 0;
  for (;;) {
    const deleted = await deleteBatch();
    purged += deleted;
    if (deleted < PURGE_BATCH) return purged;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
