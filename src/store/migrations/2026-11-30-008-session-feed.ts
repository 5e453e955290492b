import { type Migration, sql } from 'kysely';
import type { SqlEngine } from '../sql-engine.js';
import type { AnyDb } from './any-db.js';

/** An ended session is logged by its own id as well as its user's: the revocation feed names it. */
export function sessionFeed(engine: SqlEngine): Migration {
  return {
    async up(db: AnyDb) {
      for (const statement of engine.sessionIdTrigger.up) await sql.raw(statement).execute(db);
    },
    async down(db: AnyDb) {
      for (const statement of engine.sessionIdTrigger.down) await sql.raw(statement).execute(db);
    },
  };
}
