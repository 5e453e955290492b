/**
 * On PostgreSQL the lookup behind every request the access cache does not answer finds its
 * session and user through hash indexes (migration 012): one or two pages each, where the primary
 * keys' B-trees visit four at 10,000,000 sessions. Asserted by the indexes PostgreSQL scanned
 * for Tessera's own statements, over enough rows that the planner weighs its choice.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { migrateToLatest, schemaMigrator } from '../src/store/migrations/index.js';
import type { Database } from '../src/store/schema.js';
import { batchedSessionLookup, createSessionStore } from '../src/store/sql/sessions.js';
import { emptyDatabase } from './databases.js';

const INDEXES = ['sessions_id_hash', 'sessions_pkey', 'users_id_hash'] as const;
type Scans = Record<(typeof INDEXES)[number], number>;

async function indexScans(db: Kysely<Database>): Promise<Scans> {
  // The pool has one connection: this makes its counts reach the shared statistics at once.
  await sql`select pg_stat_force_next_flush()`.execute(db);
  const { rows } = await sql<{ name: string; scans: string }>`select indexrelname as name, idx_scan as scans
    from pg_stat_user_indexes where relname in ('sessions', 'users')`.execute(db);
  const scans = new Map(rows.map((r) => [r.name, Number(r.scans)]));
  return Object.fromEntries(INDEXES.map((name) => [name, scans.get(name) ?? Number.NaN])) as Scans;
}

const scansSince = (before: Scans, after: Scans) =>
  Object.fromEntries(INDEXES.map((name) => [name, after[name] - before[name]]));

describe('session and user lookups by id [postgres]', () => {
  it('go through the hash indexes, not the primary keys', async (t) => {
    const { db, engine } = await emptyDatabase(t, 'postgres');
    await migrateToLatest(db, engine);
    await sql`insert into users (id, username, username_key, email, email_key, password_hash, created_at, updated_at)
      select 'u' || g, 'u' || g, 'u' || g, 'u' || g || '@example.com', 'u' || g || '@example.com', 'x', 0, 0
      from generate_series(1, 20000) g`.execute(db);
    await sql`insert into sessions (id, user_id, refresh_jti, refresh_issued_at, created_at, last_used_at, expires_at, purge_after)
      select 's' || g, 'u' || (g % 20000 + 1), 'j' || g, 0, 0, 0, 1, 1 from generate_series(1, 200000) g`.execute(db);
    await sql`analyze sessions`.execute(db);
    await sql`analyze users`.execute(db);

    const store = createSessionStore(db, engine);
    const lookup = batchedSessionLookup(db, engine);
    const before = await indexScans(db);
    assert.equal((await store.findWithUser('s7'))?.user.username, 'u8');
    assert.deepEqual(
      (await lookup(['s1', 's19999', 'missing'])).map((s) => s?.user.username),
      ['u2', 'u20000', undefined],
    );
    const scans = scansSince(before, await indexScans(db));
    // One scan a session asked for, one a user found. The primary keys are not scanned for
    // lookups; planning a join may probe users_pkey's ends for its estimates, so that is not
    // counted against it.
    assert.deepEqual(scans, { sessions_id_hash: 4, sessions_pkey: 0, users_id_hash: 3 });
  });

  it('lose their indexes when the migration is undone, and the lookups still answer', async (t) => {
    const { db, engine } = await emptyDatabase(t, 'postgres');
    await migrateToLatest(db, engine);
    const undone = await schemaMigrator(db, engine).migrateTo('2026-12-01-011-session-purge-after');
    assert.equal(undone.error, undefined);
    const { rows } = await sql<{ name: string }>`select indexname as name from pg_indexes
      where tablename in ('sessions', 'users') and indexname like '%_id_hash'`.execute(db);
    assert.deepEqual(rows, []);
    assert.equal(await createSessionStore(db, engine).findWithUser('none'), undefined);
  });
});
