/**
 * Purges go on beside the requests. On SQLite they run on a worker thread with a connection of
 * their own (store/sqlite-thread-dialect.ts): a purge that waits on the database, or works
 * through a backlog, holds up no request, since better-sqlite3 holds the thread that runs a
 * statement until it ends. A purge rests between batches (SqlEngine.purgeRest) so that the
 * server's writes find the lock free, and a purge asked for while one runs (a backlog that
 * outlasts PURGE_INTERVAL) is that one.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { createCore } from '../src/core/create-core.js';
import { migrateToLatest } from '../src/store/migrations/index.js';
import { purgeInBatches } from '../src/store/sql/purge-in-batches.js';
import { sqliteEngine } from '../src/store/sqlite.js';
import { openSqliteThreadDb } from '../src/store/sqlite-thread-dialect.js';
import { sessionIdOf, signUp, sqlOutsideTessera, startApp, type Teardown, whoami } from './helpers.js';
import { tempDir } from './temp-dir.js';

/** Makes the session of `tokens` due for purging. */
const expire = (databaseUrl: string, tokens: { access_token: string }) =>
  sqlOutsideTessera(databaseUrl, 'update sessions set expires_at = 1, purge_after = 1 where id = ?', [
    sessionIdOf(tokens),
  ]);

describe('a purge in batches', () => {
  it('rests after each full batch as long as the engine says, and not after the last', async () => {
    const batches: { start: number; end: number }[] = [];
    const rowsOf = [10, 10, 10, 4];
    const changed = await purgeInBatches({ purgeBatch: 10, purgeRest: 1 }, async () => {
      const start = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 30));
      batches.push({ start, end: performance.now() });
      return rowsOf[batches.length - 1] ?? 0;
    });
    assert.equal(changed, 34);
    assert.equal(batches.length, 4, 'until a batch came up short');
    for (let i = 1; i < batches.length; i++) {
      const before = batches[i - 1] as { start: number; end: number };
      const rested = (batches[i]?.start ?? 0) - before.end;
      // A lower bound only (a timer may fire a millisecond early): the machine may add any delay.
      assert.ok(rested >= 0.9 * (before.end - before.start) - 1, `rested ${rested.toFixed(1)} ms after batch ${i}`);
    }
  });
});

describe('a purge asked for while one runs', () => {
  it('is that one', async (t) => {
    const { app, config, stores, clock, databaseUrl } = await startApp(t, 'sqlite');
    const gone = await signUp(app, 'gone');
    await expire(databaseUrl, gone.tokens);
    const core = await createCore({ config, stores, clock });
    const [first, second] = await Promise.all([core.purgeExpired(), core.purgeExpired()]);
    assert.equal(first.sessions, 1);
    assert.deepEqual(second, first, 'the same purge, not a second one that found nothing');
    assert.equal((await core.purgeExpired()).sessions, 0, 'one asked for after it ended runs anew');
  });
});

/**
 * An app on SQLite with a live session and one due for purging, its purge thread started first
 * so that nothing below times a thread that is still starting.
 */
async function withOneDue(t: Teardown) {
  const test = await startApp(t, 'sqlite');
  const live = await signUp(test.app);
  const gone = await signUp(test.app, 'gone');
  assert.equal(await test.stores.sessions.purge(test.clock.now()), 0, 'the thread started, nothing due yet');
  await expire(test.databaseUrl, gone.tokens);
  return { ...test, live };
}

describe('purges on a thread of their own [sqlite]', () => {
  it('answer requests while a purge waits for the write lock, then purge', async (t) => {
    const { app, stores, databaseUrl, clock, live } = await withOneDue(t);

    // Another connection (a CLI command, say) holds the lock a purge needs.
    const holder = new SqliteDatabase(databaseUrl.slice('sqlite:'.length));
    t.after(() => holder.close());
    holder.exec('begin immediate');
    let settled = false;
    const purge = stores.sessions.purge(clock.now()).finally(() => {
      settled = true;
    });
    // The purge's statement reaches the thread and waits there on the lock (busy_timeout).
    await new Promise((resolve) => setTimeout(resolve, 200));

    const answered = await whoami(app, live.tokens.access_token);
    assert.equal(answered.statusCode, 200, 'a request is answered while the purge waits');
    assert.equal(settled, false, 'the purge is still waiting for the lock');

    holder.exec('commit');
    assert.equal(await purge, 1, 'and purges once the lock is free');
    const left = await sqlOutsideTessera<{ id: string }>(databaseUrl, 'select id from sessions');
    assert.deepEqual(
      left.map((row) => row.id),
      [sessionIdOf(live.tokens)],
    );
    assert.equal((await whoami(app, live.tokens.access_token)).statusCode, 200);
  });

  it('polls an idle outbox without waiting for the write lock', async (t) => {
    // Every instance polls its outbox each second. A claim that wrote even when nothing was due
    // waited in SQLite's busy handler, holding the event loop, while another connection wrote.
    const { stores, databaseUrl, clock } = await startApp(t, 'sqlite');
    const holder = new SqliteDatabase(databaseUrl.slice('sqlite:'.length));
    t.after(() => holder.close());
    holder.exec('begin immediate');
    try {
      assert.deepEqual(await stores.outbox.claim(clock.now(), clock.now() + 60_000, 10), []);
    } finally {
      holder.exec('commit');
    }
  });

  it('lets a transaction that read before a purge committed write after it', async (t) => {
    const { stores, clock, live: user } = await withOneDue(t);
    let purge: Promise<number> | undefined;
    await stores.transaction(async (tx) => {
      assert.ok(await tx.users.findById(user.userId));
      purge = stores.sessions.purge(clock.now());
      // Time for the purge thread to commit, had the transaction not taken the write lock.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await tx.users.update(user.userId, { roles: ['admin'] }, clock.now());
    });
    assert.equal(await purge, 1);
    assert.deepEqual((await stores.users.findById(user.userId))?.roles, ['admin']);
  });

  it('fails each statement, never leaves one waiting, when its thread cannot open the file', {
    timeout: 20_000,
  }, async (t) => {
    const notADirectory = join(tempDir('sqlite-thread-'), 'a-file');
    writeFileSync(notADirectory, '');
    const db = openSqliteThreadDb(join(notADirectory, 'tessera.sqlite3'));
    t.after(() => db.destroy());
    await assert.rejects(sql`select 1`.execute(db), /EEXIST/);
    await assert.rejects(sql`select 1`.execute(db), /EEXIST/, 'a new thread, failing the same way');
  });

  it('ends its thread when idle, and starts another for the next statement', async (t) => {
    const db = openSqliteThreadDb(join(tempDir('sqlite-thread-'), 'tessera.sqlite3'), 100);
    t.after(() => db.destroy());
    // A setting of the connection's own: a new connection has the default again.
    const cacheSize = async () =>
      (await sql<{ cache_size: number }>`pragma cache_size`.execute(db)).rows[0]?.cache_size;
    const fresh = await cacheSize();
    await sql`pragma cache_size = 1234`.execute(db);
    assert.equal(await cacheSize(), 1234, 'the same connection while in use');
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(await cacheSize(), fresh, 'a new connection after the idle time');
  });

  it("reports a statement's error with SQLite's code, and runs transactions whole or not at all", async (t) => {
    const file = join(tempDir('sqlite-thread-'), 'tessera.sqlite3');
    const db = openSqliteThreadDb(file);
    t.after(() => db.destroy());
    await migrateToLatest(db, sqliteEngine);

    await assert.rejects(sql`select * from no_such_table`.execute(db), (error: Error & { code?: string }) => {
      assert.match(error.message, /no such table/);
      assert.equal(error.code, 'SQLITE_ERROR');
      return true;
    });

    const count = async () =>
      Number(
        (
          await db
            .selectFrom('rate_counters')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const counter = { key: 'k', count: 1, reset_at: 10 };
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('rate_counters').values(counter).execute();
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    assert.equal(await count(), 0, 'rolled back');
    await db.transaction().execute((trx) => trx.insertInto('rate_counters').values(counter).execute());
    assert.equal(await count(), 1, 'committed');
    const deleted = await db.deleteFrom('rate_counters').executeTakeFirst();
    assert.equal(deleted.numDeletedRows, 1n);
  });
});
