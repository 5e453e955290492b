/**
 * Purging finds sessions by `purge_after`, their expiry rounded up to the hour, so that a
 * rotation seldom changes an indexed column (sql/purge-after.ts). A session is never purged
 * before it expired, is purged once its hour is past, and can never be used in between.
 * Sessions that existed before migration 011 get their purge time from the purge, in batches,
 * and the purge stays safe while instances of the version before it still run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { migrateToLatest, schemaMigrator } from '../src/store/migrations/index.js';
import type { Database } from '../src/store/schema.js';
import { PURGE_GRANULE_MS, purgeAfter } from '../src/store/sql/purge-after.js';
import { createSessionStore } from '../src/store/sql/sessions.js';
import { emptyDatabase } from './databases.js';
import { ENGINES } from './engines.js';
import { bearer, json, sessionIdOf, signUp, sqlOutsideTessera, startApp, TestClock } from './helpers.js';

describe('purge time of a session', () => {
  it('is at or after its expiry, within the hour, on the hour', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 50 }), (expiresAt) => {
        const at = purgeAfter(expiresAt);
        assert.ok(at >= expiresAt);
        assert.ok(at - expiresAt < PURGE_GRANULE_MS);
        assert.equal(at % PURGE_GRANULE_MS, 0);
      }),
    );
  });
});

for (const engine of ENGINES.filter((e) => e !== 'postgres+redis')) {
  describe(`session purge [${engine}]`, () => {
    it('keeps an expired session until its hour is past, refusing it meanwhile; a rotation moves the hour', async (t) => {
      // Ten minutes into an hour: every expiry below falls inside an hour, not on its edge.
      const clock = new TestClock(Math.floor(Date.now() / PURGE_GRANULE_MS) * PURGE_GRANULE_MS + 600_000);
      const { app, stores, databaseUrl } = await startApp(t, engine, { clock });
      const user = await signUp(app);
      const sessionId = sessionIdOf(user.tokens);
      const stored = async () => {
        const [row] = await sqlOutsideTessera<{ expires_at: string | number; purge_after: string | number }>(
          databaseUrl,
          'select expires_at, purge_after from sessions where id = ?',
          [sessionId],
        );
        return row && { expiresAt: Number(row.expires_at), purgeAfter: Number(row.purge_after) };
      };
      const opened = await stored();
      assert.ok(opened);
      assert.equal(opened.purgeAfter, purgeAfter(opened.expiresAt));
      assert.equal(opened.purgeAfter - opened.expiresAt, 50 * 60_000);

      clock.advance(61 * 60);
      const refreshed = await app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: bearer(user.tokens.refresh_token),
      });
      assert.equal(refreshed.statusCode, 200);
      const rotated = await stored();
      assert.ok(rotated);
      assert.equal(rotated.expiresAt, opened.expiresAt + 61 * 60_000, 'the rotation moved the expiry');
      assert.equal(rotated.purgeAfter, purgeAfter(rotated.expiresAt), 'and the purge time with it');
      assert.equal(rotated.purgeAfter, opened.purgeAfter + PURGE_GRANULE_MS);

      clock.ms = rotated.expiresAt + 5 * 60_000; // past any leeway
      assert.equal(await stores.sessions.purge(clock.now()), 0, 'expired, but its hour is not past');
      const late = await app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: bearer(json<{ refresh_token: string }>(refreshed).refresh_token),
      });
      assert.equal(late.statusCode, 401, 'an expired session is refused before it is purged');
      assert.ok(await stored(), 'still stored');

      clock.ms = rotated.purgeAfter;
      assert.equal(await stores.sessions.purge(clock.now()), 1, 'its hour is past');
      assert.equal(await stored(), undefined);
    });

    it('never purges a live session whose purge time an older version left behind, and fills in those it opened', async (t) => {
      const { app, stores, databaseUrl, clock } = await startApp(t, engine);
      // During a rolling deploy an instance of the version before migration 011 rotates a
      // session without moving purge_after, and opens sessions without one.
      const rotatedByOld = await signUp(app);
      await sqlOutsideTessera(databaseUrl, 'update sessions set purge_after = ? where id = ?', [
        clock.now() - PURGE_GRANULE_MS,
        sessionIdOf(rotatedByOld.tokens),
      ]);
      const openedByOld = await signUp(app);
      await sqlOutsideTessera(databaseUrl, 'update sessions set purge_after = null where id = ?', [
        sessionIdOf(openedByOld.tokens),
      ]);
      assert.equal(await stores.sessions.purge(clock.now()), 0, 'neither has expired');
      const still = await app.inject({
        method: 'GET',
        url: '/auth/whoami',
        headers: bearer(rotatedByOld.tokens.access_token),
      });
      assert.equal(still.statusCode, 200);

      const expiredAt = clock.now() - 1000;
      // As if the older instance had opened it a refresh lifetime ago (the purge above filled it in).
      await sqlOutsideTessera(databaseUrl, 'update sessions set expires_at = ?, purge_after = null where id = ?', [
        expiredAt,
        sessionIdOf(openedByOld.tokens),
      ]);
      await stores.sessions.purge(clock.now());
      assert.equal(
        Number((await purgeTimes(databaseUrl)).get(sessionIdOf(openedByOld.tokens))),
        purgeAfter(expiredAt),
        'the one opened without a purge time gets one',
      );
      clock.ms = purgeAfter(expiredAt);
      assert.equal(await stores.sessions.purge(clock.now()), 1, 'and goes once its hour is past');
      const left = await sqlOutsideTessera<{ id: string }>(databaseUrl, 'select id from sessions');
      assert.deepEqual(
        left.map((r) => r.id),
        [sessionIdOf(rotatedByOld.tokens)],
      );
    });

    if (engine === 'postgres') {
      it('fills in purge times without waiting on a session a rotation holds', async (t) => {
        const { app, stores, databaseUrl, clock } = await startApp(t, engine);
        const [held, free] = [sessionIdOf((await signUp(app)).tokens), sessionIdOf((await signUp(app)).tokens)];
        await sqlOutsideTessera(databaseUrl, 'update sessions set purge_after = null');
        const holder = new pg.Client({ connectionString: databaseUrl });
        await holder.connect();
        try {
          await holder.query('begin');
          await holder.query('select id from sessions where id = $1 for update', [held]);

          const purged = stores.sessions.purge(clock.now());
          const waited = await Promise.race([
            purged.then(() => false),
            new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 5000)),
          ]);
          assert.equal(waited, false, 'the purge did not wait for the held row');
          const during = await purgeTimes(databaseUrl);
          assert.equal(during.get(held), null, 'the held one is left for later');
          assert.notEqual(during.get(free), null);

          await holder.query('commit');
          await stores.sessions.purge(clock.now());
          assert.notEqual((await purgeTimes(databaseUrl)).get(held), null, 'and filled in by the next purge');
        } finally {
          // Before the database is dropped, which would end this connection with an error.
          await holder.end();
        }
      });
    }

    if (engine === 'postgres') {
      it('stops each batch at its end, even when the planner last saw the due sessions live', async (t) => {
        const { db, engine: sqlEngine } = await emptyDatabase(t, 'postgres');
        await migrateToLatest(db, sqlEngine);
        // Statistics stay as gathered below: autovacuum must not refresh them mid-test.
        await sql`alter table sessions set (autovacuum_enabled = false)`.execute(db);
        const now = 1_800_000_000_000;
        await sql`insert into users (id, username, username_key, email, email_key, password_hash, created_at, updated_at)
          values ('u1', 'u1', 'u1', 'u1@example.com', 'u1@example.com', 'x', 0, 0)`.execute(db);
        const addSessions = (count: number, expiresAt: number) =>
          sql`insert into sessions (id, user_id, refresh_jti, refresh_issued_at, created_at, last_used_at, expires_at, purge_after)
            select ${`${expiresAt}-`} || g, 'u1', ${`${expiresAt}-jti-`} || g, 0, 0, 0, ${expiresAt}, ${purgeAfter(expiresAt)}
            from generate_series(1, ${count}) g`.execute(db);
        await addSessions(20_000, now + 86_400_000);
        await sql`analyze sessions`.execute(db);
        // A wave of sessions that expired since: the planner believes almost none are due.
        const due = 10 * sqlEngine.purgeBatch;
        await addSessions(due, now - 2 * PURGE_GRANULE_MS);

        const indexReads = async () => {
          // A connection's counts reach the shared statistics when it next goes idle, at most once
          // a second; this makes that happen at once, before the read below.
          await sql`select pg_stat_force_next_flush()`.execute(db);
          const { rows } = await sql<{ reads: string }>`select idx_tup_read as reads from pg_stat_user_indexes
            where indexrelname = 'sessions_purge_after'`.execute(db);
          return Number(rows[0]?.reads);
        };
        const before = await indexReads();
        assert.equal(await createSessionStore(db, sqlEngine).purge(now), due);
        const reads = (await indexReads()) - before;
        // Each batch reads its own 1,000 and at most the entries earlier batches deleted (a later
        // scan skips them once PostgreSQL has marked them dead, which it may not do at once):
        // 20,720 when marked at once, 65,000 when never. A bitmap of every due row for each batch,
        // the plan before, read 110,000.
        const batches = due / sqlEngine.purgeBatch;
        const bound = sqlEngine.purgeBatch * ((batches * (batches + 1)) / 2 + batches);
        assert.ok(reads >= due && reads <= bound, `${reads} index entries read to purge ${due} sessions`);
      });
    }

    it('sessions from before migration 011 get their purge time from the purge, a batch at a time; the expiry index goes', async (t) => {
      const { db, engine: sqlEngine } = await emptyDatabase(t, engine === 'sqlite' ? 'sqlite' : 'postgres');
      const before = await schemaMigrator(db, sqlEngine).migrateTo('2026-11-30-010-quiet-purge');
      assert.equal(before.error, undefined);
      const now = 1_800_000_000_000;
      const midHour = now + 1;
      const onTheHour = purgeAfter(midHour);
      await db
        .insertInto('users')
        .values({
          id: 'u1',
          username: 'u1',
          username_key: 'u1',
          email: 'u1@example.com',
          email_key: 'u1@example.com',
          password_hash: 'x',
          roles: '[]',
          disabled: 0,
          created_at: 0,
          updated_at: 0,
          email_verified_at: null,
        })
        .execute();
      // More than one batch, all live: the purge fills them in and deletes none.
      const expiries = new Map<string, number>([
        ['edge', onTheHour],
        ['mid', midHour],
      ]);
      for (let i = 0; i < sqlEngine.purgeBatch + 1; i++) expiries.set(`s${i}`, now + 1 + i * 7_919_000);
      const session = ([id, expiresAt]: [string, number]) => ({
        id,
        user_id: 'u1',
        refresh_jti: `${id}-jti`,
        refresh_issued_at: 0,
        created_at: 0,
        last_used_at: 0,
        expires_at: expiresAt,
        aal: 1,
        amr: '["pwd"]',
      });
      const rows = [...expiries].map(session);
      for (let i = 0; i < rows.length; i += 100)
        await db
          .insertInto('sessions')
          .values(rows.slice(i, i + 100))
          .execute();

      await migrateToLatest(db, sqlEngine);
      const stored = async () =>
        new Map(
          (await db.selectFrom('sessions').select(['id', 'purge_after']).execute()).map((r) => [
            r.id,
            r.purge_after === null ? null : Number(r.purge_after),
          ]),
        );
      assert.deepEqual([...new Set((await stored()).values())], [null], 'the migration writes no session row');
      const indexes = await indexNames(db, engine);
      assert.ok(indexes.includes('sessions_purge_after'));
      assert.ok(!indexes.includes('sessions_expires_at'), 'rotations no longer rewrite an expiry index');

      assert.equal(await createSessionStore(db, sqlEngine).purge(now), 0, 'none has expired');
      const filled = await stored();
      assert.equal(filled.size, expiries.size);
      assert.equal(filled.get('edge'), onTheHour);
      assert.equal(filled.get('mid'), onTheHour);
      for (const [id, expiresAt] of expiries) assert.equal(filled.get(id), purgeAfter(expiresAt), id);
    });
  });
}

/** Each session's purge time as stored (null where none), read the way an operator would. */
async function purgeTimes(databaseUrl: string): Promise<Map<string, string | number | null>> {
  const rows = await sqlOutsideTessera<{ id: string; purge_after: string | number | null }>(
    databaseUrl,
    'select id, purge_after from sessions',
  );
  return new Map(rows.map((r) => [r.id, r.purge_after]));
}

async function indexNames(db: Kysely<Database>, engine: string): Promise<string[]> {
  const { rows } =
    engine === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'index'`.execute(db)
      : await sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'sessions'`.execute(db);
  return rows.map((r) => r.name);
}
