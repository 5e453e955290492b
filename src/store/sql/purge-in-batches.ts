import { type Expression, type ExpressionBuilder, type Kysely, type SqlBool, sql } from 'kysely';
import type { Database } from '../schema.js';
import type { SqlEngine } from '../sql-engine.js';

/**
 * Runs `batch` (one statement deleting or updating at most SqlEngine.purgeBatch rows) until a
 * batch comes up short, with the event loop free between batches, and after each full one a
 * rest of SqlEngine.purgeRest times as long as it took: a backlog of millions never holds the
 * database (SQLite's write lock, say) for longer than one batch. Returns how many rows the
 * batches changed.
 */
export async function purgeInBatches(
  engine: Pick<SqlEngine, 'purgeBatch' | 'purgeRest'>,
  batch: () => Promise<number>,
): Promise<number> {
  let changed = 0;
  for (;;) {
    const started = performance.now();
    const rows = await batch();
    changed += rows;
    if (rows < engine.purgeBatch) return changed;
    const rest = engine.purgeRest * (performance.now() - started);
    await new Promise((resolve) => (rest > 0 ? setTimeout(resolve, rest) : setImmediate(resolve)));
  }
}

/**
 * Deletes the rows of `table` that `due` matches, in batches (purgeInBatches): each batch takes
 * the first SqlEngine.purgeBatch of them along the index on `order` and deletes them by their
 * address (SqlEngine.rowAddress). The delete checks `due` again: on PostgreSQL, a row that another
 * statement changed after the batch chose it is judged as it now is (its recheck does not look
 * at the address), and kept if no longer due: a rate counter that a hit just moved to a new
 * window, say.
 */
export function purgeDue<T extends keyof Database & string>(
  db: Kysely<Database>,
  engine: SqlEngine,
  table: T,
  order: keyof Database[T] & string,
  due: (eb: ExpressionBuilder<Database, T>) => Expression<SqlBool>,
): Promise<number> {
  // Kysely cannot follow a table name that is a type parameter; `due` and `order` are checked
  // against `table` by the signature above.
  type Untyped = Record<string, Record<string, unknown>>;
  const untyped = db as unknown as Kysely<Untyped>;
  const from: string = table;
  const dueUntyped = due as unknown as (eb: ExpressionBuilder<Untyped, string>) => Expression<SqlBool>;
  return purgeInBatches(engine, async () => {
    const chosen = untyped
      .selectFrom(from)
      .select(engine.rowAddress.column.as('address'))
      .where(dueUntyped)
      .orderBy(order)
      .limit(engine.purgeBatch);
    const deleted = await untyped
      .deleteFrom(from)
      .where(engine.rowAddress.among(chosen))
      // A filter on the rows found by address, never a way to find them: as a plain condition,
      // PostgreSQL with statistics from before a wave of expiries walked `order`'s index to every
      // due row for each batch (test/session-purge.test.ts).
      .where((eb) => sql<SqlBool>`(${dueUntyped(eb)}) is true`)
      .executeTakeFirst();
    return Number(deleted.numDeletedRows);
  });
}
