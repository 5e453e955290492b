/** SQLite through better-sqlite3: the embedded default, one file in DATA_DIR. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { migrateToLatest } from './migrations.js';
import type { Database } from './schema.js';
import {
  createCounterStore,
  createRevocationStore,
  createSessionStore,
  createUserStore,
  type Dialect,
} from './sql-stores.js';
import type { EngineStores } from './types.js';

const sqliteDialect: Dialect = {
  isUniqueViolation: (error) =>
    error instanceof Error &&
    'code' in error &&
    (error.code === 'SQLITE_CONSTRAINT_UNIQUE' || error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'),
};

export function openSqliteDb(file: string): Kysely<Database> {
  mkdirSync(dirname(file), { recursive: true });
  const connection = new SqliteDatabase(file);
  // WAL lets readers run beside the writer; FULL syncs each commit so an acknowledged
  // registration or revocation survives a power cut, not only a process crash.
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = FULL');
  connection.pragma('foreign_keys = ON');
  // Several processes may share the file (CLI beside a server): wait for a lock rather than fail.
  connection.pragma('busy_timeout = 5000');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: connection }) });
}

export async function openSqliteStores(file: string, options: { migrate: boolean }): Promise<EngineStores> {
  const db = openSqliteDb(file);
  if (options.migrate) await migrateToLatest(db);
  return {
    users: createUserStore(db, sqliteDialect),
    sessions: createSessionStore(db),
    durableRevocations: createRevocationStore(db),
    counters: createCounterStore(db),
    health: [{ name: 'database', critical: true, check: async () => void (await sql`select 1`.execute(db)) }],
    close: () => db.destroy(),
  };
}
