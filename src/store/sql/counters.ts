import { type Kysely, sql } from 'kysely';
import { windowOf } from '../rate-window.js';
import type { Database } from '../schema.js';
import type { SqlEngine } from '../sql-engine.js';
import type { CounterStore, CounterWindow } from '../types.js';
import { compiledOnce } from './compiled-once.js';
import { purgeDue } from './purge-in-batches.js';
import { inStatements } from './statement-limits.js';

/** Counting itself (`hit`) is `batchedCounterHits`, many hits a statement: the stores batch it. */
export function createCounterStore(db: Kysely<Database>, engine: SqlEngine): Omit<CounterStore, 'hit'> {
  return {
    async peek(key, windowMs, now) {
      const { windowKey, resetAt } = windowOf(key, windowMs, now);
      const row = await db.selectFrom('rate_counters').select('count').where('key', '=', windowKey).executeTakeFirst();
      return { count: row ? Number(row.count) : 0, resetAt };
    },
    async reset(key, windowMs, now) {
      await db
        .deleteFrom('rate_counters')
        .where('key', '=', windowOf(key, windowMs, now).windowKey)
        .execute();
    },
    purge(now) {
      return purgeDue(db, engine, 'rate_counters', 'reset_at', (eb) => eb('reset_at', '<=', now));
    },
  };
}

export interface CounterHit {
  key: string;
  windowMs: number;
  now: number;
}

/**
 * Hits counted in one atomic upsert (one per ROWS_PER_STATEMENT counters): one round trip (and,
 * outside a transaction, one commit) for all. Hits on one counter are added together and each
 * caller gets the count it would have got alone, in the order given (so concurrent hits from any
 * number of instances all count). Rows are locked in the order given, so callers pass them in
 * key order.
 */
export function batchedCounterHits(
  db: Kysely<Database>,
  engine: SqlEngine,
): (hits: readonly CounterHit[]) => Promise<CounterWindow[]> {
  const v = engine.rowsTable('v', ['text', 'bigint', 'bigint']);
  // `where true`: SQLite needs it to tell the upsert's ON CONFLICT from a join's ON.
  const upsert = compiledOnce(db, 'hit_counters', () =>
    sql<{ key: string; count: unknown }>`insert into rate_counters (key, count, reset_at)
      select column1, column2, column3 from ${v.sql} where true
      on conflict (key) do update set count = rate_counters.count + excluded.count
      returning key, count`.compile(db),
  );
  return async (hits) => {
    const groups = new Map<string, { resetAt: number; callers: number[] }>();
    hits.forEach(({ key, windowMs, now }, i) => {
      const { windowKey, resetAt } = windowOf(key, windowMs, now);
      const group = groups.get(windowKey);
      if (group) group.callers.push(i);
      else groups.set(windowKey, { resetAt, callers: [i] });
    });
    const upserted = await inStatements([...groups], (chunk) =>
      upsert(...v.parameters(chunk.map(([windowKey, g]) => [windowKey, g.callers.length, g.resetAt]))),
    );
    const counted = new Map(upserted.map((row) => [row.key, Number(row.count)]));
    const results: CounterWindow[] = [];
    for (const [windowKey, group] of groups) {
      const total = counted.get(windowKey);
      if (total === undefined) throw new Error(`rate counter ${windowKey} was not returned by its upsert`);
      group.callers.forEach((caller, k) => {
        results[caller] = { count: total - group.callers.length + 1 + k, resetAt: group.resetAt };
      });
    }
    return results;
  };
}
