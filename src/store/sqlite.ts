/** SQLite through better-sqlite3: the embedded default, one file in DATA_DIR. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, type SqliteDatabase as SqliteDatabaseLike, SqliteDialect, type SqliteStatement } from 'kysely';
import { createWriteCounter, type WriteCounter, withReadCache } from './sqlite-read-cache.js';
import { migrateToLatest } from './migrations.js';
import type { Database } from './schema.js';
import { createSqlStores, type Dialect } from './sql-stores.js';
import type { EngineStores } from './types.js';

const sqliteDialect: Dialect = {
  isUniqueViolation: (error) =>
    error instanceof Error &&
    'code' in error &&
    (error.code === 'SQLITE_CONSTRAINT_UNIQUE' || error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'),
};

export function openSqliteDb(file: string, writes: WriteCounter = createWriteCounter()): Kysely<Database> {
  return new Kysely<Database>({
    dialect: new SqliteDialect({ database: withStatementCache(openConnection(file), writes) }),
  });
}

function openConnection(file: string): SqliteDatabase.Database {
  mkdirSync(dirname(file), { recursive: true });
  const connection = new SqliteDatabase(file);
  // WAL lets readers run beside the writer; FULL syncs each commit so an acknowledged
  // registration or revocation survives a power cut, not only a process crash.
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = FULL');
  connection.pragma('foreign_keys = ON');
  // Several processes may share the file (CLI beside a server): wait for a lock rather than fail.
  connection.pragma('busy_timeout = 5000');
  return connection;
}

const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely's SQLite driver prepares every query afresh, which cost more than running it (a third
 * of a whoami request, profiled). Queries built by the same code have the same SQL text, so a
 * small cache keyed by that text makes each one a prepared statement. Statements run to
 * completion synchronously, so reusing one is safe.
 */
function withStatementCache(connection: SqliteDatabase.Database, writes: WriteCounter): SqliteDatabaseLike {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => connection.close(),
    prepare(sql) {
      let statement = cache.get(sql);
      if (statement === undefined) {
        const prepared = connection.prepare(sql);
        statement = prepared.reader
          ? prepared
          : {
              reader: false,
              all: (parameters) => (writes.bump(), prepared.all(parameters)),
              run: (parameters) => (writes.bump(), prepared.run(parameters)),
              iterate: (parameters) => (writes.bump(), prepared.iterate(parameters)),
            };
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value ?? '');
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}

export async function openSqliteStores(file: string, options: { migrate: boolean }): Promise<EngineStores> {
  const connection = openConnection(file);
  const writes = createWriteCounter();
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: withStatementCache(connection, writes) }),
  });
  if (options.migrate) await migrateToLatest(db);
  const stores = createSqlStores(db, sqliteDialect);
  const cached = withReadCache(connection, writes, stores.sessions, stores.durableRevocations);
  return { ...stores, sessions: cached.sessions, durableRevocations: cached.revocations };
}
