import type { Migration } from 'kysely';
import type { AnyDb } from './any-db.js';

export const rateCounters: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('rate_counters')
      .addColumn('key', 'varchar(400)', (c) => c.primaryKey())
      .addColumn('count', 'integer', (c) => c.notNull())
      .addColumn('reset_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('rate_counters_reset_at').on('rate_counters').column('reset_at').execute();
  },
  async down(db: AnyDb) {
    await db.schema.dropTable('rate_counters').execute();
  },
};
