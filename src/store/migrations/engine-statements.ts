import { type Migration, sql } from 'kysely';
import type { AnyDb } from './any-db.js';

/** A migration that is only statements in one engine's dialect, run in order each way. */
export function engineStatements(statements: {
  readonly up: readonly string[];
  readonly down: readonly string[];
}): Migration {
  const run = (list: readonly string[]) => async (db: AnyDb) => {
    for (const statement of list) await sql.raw(statement).execute(db);
  };
  return { up: run(statements.up), down: run(statements.down) };
}
