import { type Migration, sql } from 'kysely';
import type { SqlEngine } from '../sql-engine.js';
import type { AnyDb } from './any-db.js';

/**
 * Purging dead sessions invalidates nothing: deleting a session raises the generation only while
 * its tokens could still work. Before this, purging a million expired sessions raised it a
 * million times on SQLite (and logged a change per user on PostgreSQL), emptying every
 * instance's access cache. Also an index for finding ended sessions in batches.
 */
export function quietPurge(engine: SqlEngine): Migration {
  return {
    async up(db: AnyDb) {
      for (const statement of engine.quietPurge.up) await sql.raw(statement).execute(db);
    },
    async down(db: AnyDb) {
      for (const statement of engine.quietPurge.down) await sql.raw(statement).execute(db);
    },
  };
}
