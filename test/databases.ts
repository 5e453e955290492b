/**
 * Empty databases for tests that work below the stores (statements, migrations): one per test,
 * closed and dropped after it. On PostgreSQL one connection, so that what is per connection
 * (prepared statements) can be observed.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Kysely } from 'kysely';
import { openPostgresDb, postgresEngine } from '../src/store/postgres.js';
import type { Database } from '../src/store/schema.js';
import type { SqlEngine } from '../src/store/sql-engine.js';
import { openSqliteDb, sqliteEngine } from '../src/store/sqlite.js';
import { createTestDatabase, POSTGRES_AVAILABLE } from './engines.js';
import { tempDir } from './temp-dir.js';

export interface EmptyDatabase {
  db: Kysely<Database>;
  engine: SqlEngine;
}

export async function emptyDatabase(t: TestContext, kind: 'sqlite' | 'postgres'): Promise<EmptyDatabase> {
  if (kind === 'sqlite') {
    const db = openSqliteDb(join(tempDir('tessera-db-'), 'tessera.db'));
    t.after(() => db.destroy());
    return { db, engine: sqliteEngine };
  }
  assert.ok(POSTGRES_AVAILABLE, 'PostgreSQL must answer');
  const database = await createTestDatabase();
  const db = openPostgresDb({ url: database.url, migrate: true, timeoutMs: 10_000, poolSize: 1 });
  t.after(async () => {
    await db.destroy();
    await database.drop();
  });
  return { db, engine: postgresEngine };
}
