import { type Kysely, sql } from 'kysely';
import { windowOf } from '../rate-window.js';
import type { Database } from '../schema.js';
import type { CounterStore } from '../types.js';

export function createCounterStore(db: Kysely<Database>): CounterStore {
  return {
    async hit(key, windowMs, now) {
      const { windowKey, resetAt } = windowOf(key, windowMs, now);
      // One atomic upsert: concurrent hits from any number of instances all count.
      const row = await db
        .insertInto('rate_counters')
        .values({ key: windowKey, count: 1, reset_at: resetAt })
        .onConflict((oc) => oc.column('key').doUpdateSet({ count: sql<number>`rate_counters.count + 1` }))
        .returning('count')
        .executeTakeFirstOrThrow();
      return { count: Number(row.count), resetAt };
    },
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
    async purge(now) {
      const result = await db.deleteFrom('rate_counters').where('reset_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
