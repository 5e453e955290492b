import { type Migration, sql } from 'kysely';
import type { SqlEngine } from '../sql-engine.js';
import type { AnyDb } from './any-db.js';

/**
 * The invalidation generation (see GenerationSource): one counter row, a log of what each raise
 * was about, and triggers that write both inside the transaction of every write that can stop a
 * token working. The triggers are in each engine's dialect, from the engine's own file.
 */
export function cacheGeneration(engine: SqlEngine): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('tessera_generation')
        .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn('value', 'bigint', (c) => c.notNull())
        .execute();
      await db.insertInto('tessera_generation').values({ id: 1, value: 0 }).execute();
      await db.schema
        .createTable('tessera_changes')
        .addColumn('generation', 'bigint', (c) => c.notNull())
        .addColumn('subject', 'varchar(64)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('tessera_changes_generation').on('tessera_changes').column('generation').execute();
      for (const statement of engine.generationTriggers.up) await sql.raw(statement).execute(db);
    },
    async down(db: AnyDb) {
      for (const statement of engine.generationTriggers.down) await sql.raw(statement).execute(db);
      await db.schema.dropTable('tessera_changes').execute();
      await db.schema.dropTable('tessera_generation').execute();
    },
  };
}
