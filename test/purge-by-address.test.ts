/**
 * Purges delete what they chose by the rows' addresses (SqlEngine.rowAddress), a batch at a
 * time: on PostgreSQL no batch walks a primary key's index again, every table that grows with
 * traffic (sessions, revocations, rate counters, audit events, links, MFA and passkey challenges,
 * sent mail) is purged in batches, and a row that another statement made no longer due while the
 * purge waited for it is kept.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { migrateToLatest } from '../src/store/migrations/index.js';
import type { Database } from '../src/store/schema.js';
import { createCounterStore } from '../src/store/sql/counters.js';
import { createLinkTokenStore } from '../src/store/sql/link-tokens.js';
import { createMfaStore } from '../src/store/sql/mfa.js';
import { createOutboxStore } from '../src/store/sql/outbox.js';
import { createPasskeyStore } from '../src/store/sql/passkeys.js';
import { purgeAfter } from '../src/store/sql/purge-after.js';
import { createRevocationStore } from '../src/store/sql/revocations.js';
import { createSessionStore } from '../src/store/sql/sessions.js';
import type { SqlEngine } from '../src/store/sql-engine.js';
import { emptyDatabase } from './databases.js';

const NOW = 1_800_000_000_000;
/** Due rows for a test: more than two batches. */
const due = (engine: SqlEngine) => 2 * engine.purgeBatch + 500;

async function addSessions(db: Kysely<Database>, prefix: string, count: number, expiresAt: number) {
  await db
    .insertInto('sessions')
    .values(
      Array.from({ length: count }, (_, i) => ({
        id: `${prefix}-${i}`,
        user_id: 'u1',
        refresh_jti: `${prefix}-jti-${i}`,
        refresh_issued_at: 0,
        created_at: 0,
        last_used_at: 0,
        expires_at: expiresAt,
        purge_after: purgeAfter(expiresAt),
        aal: 1,
        amr: '["pwd"]',
      })),
    )
    .execute();
}

async function withUser(kind: 'sqlite' | 'postgres', t: Parameters<typeof emptyDatabase>[0]) {
  const { db, engine } = await emptyDatabase(t, kind);
  await migrateToLatest(db, engine);
  await sql`insert into users (id, username, username_key, email, email_key, password_hash, created_at, updated_at)
    values ('u1', 'u1', 'u1', 'u1@example.com', 'u1@example.com', 'x', 0, 0)`.execute(db);
  return { db, engine };
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`purge by address [${kind}]`, () => {
    it('purges every due revocation and rate counter past one batch, and keeps the rest', async (t) => {
      const { db, engine } = await withUser(kind, t);
      const rows = (count: number, from: number) => Array.from({ length: count }, (_, i) => from + i);
      // Inserted in slices: SQLite takes at most 32,766 parameters a statement.
      const count = due(engine);
      for (let from = 0; from < count; from += 1000) {
        const slice = rows(Math.min(1000, count - from), from);
        await db
          .insertInto('revoked_tokens')
          .values(slice.map((i) => ({ jti: `gone-${i}`, expires_at: NOW - i })))
          .execute();
        await db
          .insertInto('rate_counters')
          .values(slice.map((i) => ({ key: `gone-${i}`, count: 1, reset_at: NOW - i })))
          .execute();
      }
      await db
        .insertInto('revoked_tokens')
        .values(rows(10, 0).map((i) => ({ jti: `kept-${i}`, expires_at: NOW + 1 + i })))
        .execute();
      await db
        .insertInto('rate_counters')
        .values(rows(10, 0).map((i) => ({ key: `kept-${i}`, count: 1, reset_at: NOW + 1 + i })))
        .execute();

      assert.equal(await createRevocationStore(db, engine).purge(NOW), count);
      assert.equal(await createCounterStore(db, engine).purge(NOW), count);
      const left = async (table: 'revoked_tokens' | 'rate_counters') =>
        (
          await sql<{
            key: string;
          }>`select ${sql.ref(table === 'revoked_tokens' ? 'jti' : 'key')} as key from ${sql.table(table)}`.execute(db)
        ).rows
          .map((r) => r.key)
          .sort();
      const kept = rows(10, 0)
        .map((i) => `kept-${i}`)
        .sort();
      assert.deepEqual(await left('revoked_tokens'), kept);
      assert.deepEqual(await left('rate_counters'), kept);
    });

    it('purges used and expired links and challenges, and sent mail, past one batch, and keeps the rest', async (t) => {
      const { db, engine } = await withUser(kind, t);
      const count = due(engine);
      type Times = { expires_at: number; used_at: number | null };
      type Mail = { state: string; finished_at: number | null };
      /** Rows `${prefix}-${i}` in each table, with `times(i)` for links and challenges and `mail(i)` for the outbox. */
      const add = async (prefix: string, indexes: number[], times: (i: number) => Times, mail: (i: number) => Mail) => {
        const key = (i: number) => `${prefix}-${i}`;
        const common = { user_id: 'u1', created_at: 0 };
        await db
          .insertInto('link_tokens')
          .values(
            indexes.map((i) => ({
              ...common,
              token_hash: key(i),
              purpose: 'reset',
              email: 'u1@example.com',
              ...times(i),
            })),
          )
          .execute();
        await db
          .insertInto('mfa_challenges')
          .values(indexes.map((i) => ({ ...common, token_hash: key(i), failures: 0, ...times(i) })))
          .execute();
        await db
          .insertInto('passkey_challenges')
          .values(indexes.map((i) => ({ challenge: key(i), ceremony: 'login', created_at: 0, ...times(i) })))
          .execute();
        await db
          .insertInto('outbox')
          .values(
            indexes.map((i) => ({
              id: key(i),
              topic: 'mail',
              attempts: 1,
              next_attempt_at: NOW - i,
              created_at: 0,
              ...mail(i),
            })),
          )
          .execute();
      };
      // Every other one expired, the rest used and live: both are due; sent mail finished before now.
      for (let from = 0; from < count; from += 500) {
        await add(
          'gone',
          Array.from({ length: Math.min(500, count - from) }, (_, i) => from + i),
          (i) => ({ expires_at: i % 2 ? NOW - i : NOW + 60_000, used_at: i % 2 ? null : NOW - 1 }),
          (i) => ({ state: 'done', finished_at: NOW - i }),
        );
      }
      // Unused and live; mail sent just after now, still to send, and failed.
      const mailKept: Mail[] = [
        { state: 'done', finished_at: NOW + 1 },
        { state: 'pending', finished_at: null },
        { state: 'failed', finished_at: NOW - 1 },
      ];
      await add(
        'kept',
        [0, 1, 2],
        () => ({ expires_at: NOW + 60_000, used_at: null }),
        (i) => mailKept[i] as Mail,
      );
      const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

      // What each statement deleted: none more than a batch.
      const deleted: number[] = [];
      const counted = db.withPlugin({
        transformQuery: ({ node }) => node,
        transformResult: async ({ result }) => {
          if (result.numAffectedRows !== undefined) deleted.push(Number(result.numAffectedRows));
          return result;
        },
      });
      for (const store of [
        createLinkTokenStore(counted, engine),
        createMfaStore(counted, engine),
        createPasskeyStore(counted, engine),
        createOutboxStore(counted, engine),
      ]) {
        deleted.length = 0;
        assert.equal(await store.purge(NOW), count);
        assert.equal(Math.max(...deleted), engine.purgeBatch, 'in batches');
      }
      const keys = async (query: Promise<{ key: string }[]>) => (await query).map((r) => r.key).sort();
      const left = ids('kept', 3);
      assert.deepEqual(await keys(db.selectFrom('link_tokens').select('token_hash as key').execute()), left);
      assert.deepEqual(await keys(db.selectFrom('mfa_challenges').select('token_hash as key').execute()), left);
      assert.deepEqual(await keys(db.selectFrom('passkey_challenges').select('challenge as key').execute()), left);
      assert.deepEqual(await keys(db.selectFrom('outbox').select('id as key').execute()), left);
    });

    it('purges expired and ended sessions past one batch, and keeps live ones', async (t) => {
      const { db, engine } = await withUser(kind, t);
      await addSessions(db, 'expired', due(engine), NOW - 2 * 3_600_000);
      await addSessions(db, 'live', 10, NOW + 3_600_000);
      await addSessions(db, 'ended', engine.purgeBatch + 1, NOW + 3_600_000);
      await db
        .updateTable('sessions')
        .set({ ended_at: NOW - 1, end_reason: 'logout' })
        .where('id', 'like', 'ended-%')
        .execute();

      assert.equal(await createSessionStore(db, engine).purge(NOW), due(engine) + engine.purgeBatch + 1);
      const left = await db.selectFrom('sessions').select('id').orderBy('id').execute();
      assert.deepEqual(
        left.map((r) => r.id),
        Array.from({ length: 10 }, (_, i) => `live-${i}`).sort(),
      );
    });
  });
}

describe('purge by address [postgres]', () => {
  it('finds the rows it chose by address: nothing read from a primary key nor from a whole table', async (t) => {
    const { db, engine } = await withUser('postgres', t);
    const count = due(engine);
    await addSessions(db, 'expired', count, NOW - 2 * 3_600_000);
    const live = NOW + 3_600_000;
    await sql`insert into sessions (id, user_id, refresh_jti, refresh_issued_at, created_at, last_used_at, expires_at, purge_after)
      select 'live-' || g, 'u1', 'live-jti-' || g, 0, 0, 0, ${live}::bigint, ${purgeAfter(live)}::bigint from generate_series(1, 20000) g`.execute(
      db,
    );
    await sql`insert into revoked_tokens (jti, expires_at)
      select 'gone-' || g, case when g <= ${count}::int then ${NOW - 1}::bigint else ${live}::bigint end from generate_series(1, 20000 + ${count}::int) g`.execute(
      db,
    );
    await sql`analyze sessions, revoked_tokens`.execute(db);
    const rowsRead = async () => {
      // A connection's counts reach the shared statistics when it next goes idle; this makes that
      // happen at once.
      await sql`select pg_stat_force_next_flush()`.execute(db);
      const { rows } = await sql<{ read: string }>`select
          (select sum(idx_tup_read) from pg_stat_user_indexes where indexrelname in ('sessions_pkey', 'revoked_tokens_pkey'))
          + (select sum(seq_tup_read) from pg_stat_user_tables where relname in ('sessions', 'revoked_tokens')) as read`.execute(
        db,
      );
      return Number(rows[0]?.read);
    };
    const before = await rowsRead();
    assert.equal(await createSessionStore(db, engine).purge(NOW), count);
    assert.equal(await createRevocationStore(db, engine).purge(NOW), count);
    // By key, each row deleted was read again from its primary key, or each batch read the table:
    // 65,511 rows read here. What is left is the planner reading a key's first and last entries
    // to cost a join (2, in the statement that fills in missing purge times).
    const read = (await rowsRead()) - before;
    assert.ok(read <= 10, `${read} rows read from a primary key or a whole table`);
  });

  it('keeps a session that a rotation made live again while the purge waited for it', async (t) => {
    const { db, engine } = await withUser('postgres', t);
    await addSessions(db, 'expired', 3, NOW - 2 * 3_600_000);
    const url = (await sql<{ url: string }>`select current_database() as url`.execute(db)).rows[0]?.url ?? '';
    const connection = () => new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${url}` });
    const [rotation, watcher] = [connection(), connection()];
    await rotation.connect();
    await watcher.connect();
    try {
      // As a rotation from an instance whose clock is behind: it holds the row, the purge's
      // batch chooses it by the version before, and the rotation commits a later expiry.
      const later = NOW + 30 * 86_400_000;
      await rotation.query('begin');
      await rotation.query("update sessions set expires_at = $1, purge_after = $2 where id = 'expired-1'", [
        later,
        purgeAfter(later),
      ]);
      const purged = createSessionStore(db, engine).purge(NOW);
      for (let waited = 0; ; waited += 20) {
        const { rows } = await watcher.query(
          "select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        );
        if (rows.length > 0) break;
        assert.ok(waited < 10_000, 'the purge never waited for the held row');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await rotation.query('commit');
      assert.equal(await purged, 2);
      const left = await db.selectFrom('sessions').select(['id', 'expires_at']).execute();
      assert.deepEqual(
        left.map((r) => [r.id, Number(r.expires_at)]),
        [['expired-1', later]],
      );
    } finally {
      await rotation.end();
      await watcher.end();
    }
  });
});
