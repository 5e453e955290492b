import { type Migration, sql } from 'kysely';
import type { DialectMigration } from '../sql-engine.js';
import type { AnyDb } from './any-db.js';

/** Kysely's migration of a `DialectMigration`. */
export function engineStatements(statements: DialectMigration): Migration {
  const run = (list: readonly string[]) => async (db: AnyDb) => {
    for (const statement of list) await sql.raw(statement).execute(db);
  };
  return { up: run(statements.up), down: run(statements.down) };
}
