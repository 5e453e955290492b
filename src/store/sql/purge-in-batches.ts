/** Rows a purge statement deletes (or fills in) at most. */
export const PURGE_BATCH = 1000;

/**
 * Runs `batch` (one statement deleting or updating at most PURGE_BATCH rows) until a batch comes
 * up short, with the event loop free between batches: a backlog of millions never holds the
 * database, or the one SQLite connection, for longer than one batch. Returns how many rows the
 * batches changed.
 */
export async function purgeInBatches(batch: () => Promise<number>): Promise<number> {
  let changed = 0;
  for (;;) {
    const rows = await batch();
    changed += rows;
    if (rows < PURGE_BATCH) return changed;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
