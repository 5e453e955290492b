/**
 * The batched statements every refresh and access-cache miss runs (session lookup, rotation,
 * rate counts, revocation checks without Redis), at the SQL level on both engines: rows carried
 * as arrays (PostgreSQL) or JSON (SQLite) arrive intact whatever their text, and on PostgreSQL
 * the hot statements run prepared under their names, and keep running when a later migration
 * adds a column.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import { type Kysely, sql } from 'kysely';
import { migrateToLatest } from '../src/store/migrations/index.js';
import { postgresEngine } from '../src/store/postgres.js';
import type { Database } from '../src/store/schema.js';
import { batchedCounterHits, createCounterStore } from '../src/store/sql/counters.js';
import { createRevocationStore } from '../src/store/sql/revocations.js';
import { batchedRotation, batchedSessionLookup } from '../src/store/sql/sessions.js';
import { inStatements, ROWS_PER_STATEMENT } from '../src/store/sql/statement-limits.js';
import type { SqlEngine } from '../src/store/sql-engine.js';
import { sqliteEngine } from '../src/store/sqlite.js';
import { emptyDatabase } from './databases.js';
import { POSTGRES_AVAILABLE } from './engines.js';

const WINDOW_MS = 60_000;
const NOW = 1_800_000_000_000;

async function migrated(t: TestContext, kind: 'sqlite' | 'postgres'): Promise<Kysely<Database>> {
  const { db, engine } = await emptyDatabase(t, kind);
  await migrateToLatest(db, engine);
  return db;
}

const sqliteDb = (t: TestContext) => migrated(t, 'sqlite');
/** One connection, so that pg_prepared_statements (per connection) shows what the stores prepared. */
const postgresDb = (t: TestContext) => migrated(t, 'postgres');

async function addSession(
  db: Kysely<Database>,
  id: string,
  userId: string,
  state: { disabled?: boolean; ended?: boolean } = {},
) {
  await db
    .insertInto('users')
    .values({
      id: userId,
      username: userId,
      username_key: userId,
      email: `${userId}@example.com`,
      email_key: `${userId}@example.com`,
      password_hash: 'x',
      roles: '["user"]',
      disabled: state.disabled ? 1 : 0,
      created_at: NOW,
      updated_at: NOW,
      email_verified_at: null,
    })
    .execute();
  await db
    .insertInto('sessions')
    .values({
      id,
      user_id: userId,
      refresh_jti: `${id}-jti`,
      refresh_issued_at: NOW / 1000,
      previous_jti: null,
      rotated_at: null,
      created_at: NOW,
      last_used_at: NOW,
      expires_at: NOW + WINDOW_MS,
      ended_at: state.ended ? NOW : null,
      end_reason: state.ended ? 'logout' : null,
      user_agent: null,
      ip: null,
      aal: 1,
      amr: '["pwd"]',
    })
    .execute();
}

/** Keys as hostile as a username or an address can make them: quotes, braces, commas, backslashes, NULL, lone surrogates. */
const hostileKey = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom('', 'NULL', 'null', '{}', '{"a","b"}', 'a,b', '\\', '"', "'", ' padded ', '{\\"x\\"}'),
  // Lone surrogates: a JSON body can carry them into a username.
  fc.constantFrom('\ud800', 'a\udc00b', '\udbff\ud800'),
);

const engines: (readonly [string, SqlEngine, (t: TestContext) => Promise<Kysely<Database>>])[] = [
  ['sqlite', sqliteEngine, sqliteDb],
  ...(POSTGRES_AVAILABLE ? [['postgres', postgresEngine, postgresDb] as const] : []),
];

describe('inStatements', () => {
  it('runs ROWS_PER_STATEMENT items a statement, one after another, and gives every row in order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 3 * ROWS_PER_STATEMENT + 1 }), async (count) => {
        const items = Array.from({ length: count }, (_, i) => i);
        const chunks: number[][] = [];
        let running = 0;
        const rows = await inStatements(items, async (chunk) => {
          running += 1;
          assert.equal(running, 1, 'one statement at a time');
          chunks.push([...chunk]);
          await new Promise((resolve) => setImmediate(resolve));
          running -= 1;
          return chunk.map((item) => `row ${item}`);
        });
        assert.equal(chunks.length, Math.ceil(count / ROWS_PER_STATEMENT));
        for (const chunk of chunks) assert.ok(chunk.length > 0 && chunk.length <= ROWS_PER_STATEMENT);
        assert.deepEqual(chunks.flat(), items);
        assert.deepEqual(
          rows,
          items.map((item) => `row ${item}`),
        );
      }),
      { numRuns: 40 },
    );
  });
});

for (const [name, engine, open] of engines) {
  describe(`batched statements [${name}]`, () => {
    it('counts hits on counters of any key text, each caller getting the count it would have had alone', async (t) => {
      const db = await open(t);
      const counters = createCounterStore(db, engine);
      const model = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            hostileKey.filter((k) => !k.includes('\u0000')),
            { maxLength: 12 },
          ),
          async (keys) => {
            const hits = keys.map((key) => ({ key, windowMs: WINDOW_MS, now: NOW }));
            const counted = await batchedCounterHits(db, engine)(hits);
            keys.forEach((key, i) => {
              const expected = (model.get(key) ?? 0) + 1;
              model.set(key, expected);
              assert.equal(counted[i]?.count, expected, `hit ${i} on ${JSON.stringify(key)}`);
            });
            // What a batch counted is what a single statement reads back under the same key.
            for (const key of keys) {
              assert.equal(
                (await counters.peek(key, WINDOW_MS, NOW)).count,
                model.get(key),
                `peek ${JSON.stringify(key)}`,
              );
            }
          },
        ),
        { numRuns: 40 },
      );
    });

    it('finds sessions by ids of any text, each in its place, and rotates only from the current token', async (t) => {
      const db = await open(t);
      await addSession(db, 's-1', 'u-1');
      await addSession(db, 's{"2"},\\', 'u-2');
      await fc.assert(
        fc.asyncProperty(fc.array(hostileKey, { maxLength: 6 }), async (noise) => {
          const ids = [...noise.filter((id) => !id.includes('\u0000')), 's-1', 's{"2"},\\'];
          const found = await batchedSessionLookup(db, engine)(ids);
          ids.forEach((id, i) => {
            const known = id === 's-1' || id === 's{"2"},\\';
            assert.equal(found[i]?.session.id, known ? id : undefined, JSON.stringify(id));
          });
        }),
        { numRuns: 30 },
      );
      await addSession(db, 's-disabled', 'u-disabled', { disabled: true });
      await addSession(db, 's-ended', 'u-ended', { ended: true });
      const rotation = (id: string, fromJti: string, userId = `u-${id.slice(2)}`, lastRotationBy = NOW) => ({
        rotation: {
          sessionId: id,
          userId,
          fromJti,
          toJti: `${id}-next`,
          issuedAt: NOW / 1000,
          expiresAt: NOW + 2 * WINDOW_MS,
          lastRotationBy,
        },
        now: NOW,
      });
      const rotated = await batchedRotation(
        db,
        engine,
      )([
        rotation('s-1', 's-1-jti'),
        rotation('s{"2"},\\', 'stale', 'u-2'),
        rotation('unknown', 'x'),
        rotation('s-disabled', 's-disabled-jti'),
        rotation('s-ended', 's-ended-jti'),
      ]);
      assert.deepEqual(
        rotated.map((r) => r && [r.session.id, r.session.userId, r.session.refreshJti, r.session.expiresAt, r.roles]),
        [['s-1', 'u-1', 's-1-next', NOW + 2 * WINDOW_MS, ['user']], undefined, undefined, undefined, undefined],
      );
      // The token's user must own the session.
      assert.equal((await batchedRotation(db, engine)([rotation('s{"2"},\\', 's{"2"},\\-jti', 'u-1')]))[0], undefined);
      const [one, two] = await batchedSessionLookup(db, engine)(['s-1', 's{"2"},\\']);
      assert.equal(one?.session.refreshJti, 's-1-next');
      assert.equal(one?.session.previousJti, 's-1-jti');
      assert.equal(two?.session.refreshJti, 's{"2"},\\-jti');
      // A session that rotated after lastRotationBy does not rotate again (the per-session bound).
      const again = { ...rotation('s-1', 's-1-next', 'u-1', NOW - 1), now: NOW + 1 };
      assert.equal((await batchedRotation(db, engine)([again]))[0], undefined);
      again.rotation.lastRotationBy = NOW;
      assert.equal((await batchedRotation(db, engine)([again]))[0]?.session.refreshJti, 's-1-next');
      assert.equal((await batchedSessionLookup(db, engine)(['s-1']))[0]?.session.previousJti, 's-1-next');
    });

    it('tells revoked token ids of any text apart, checks made together each answered in its place', async (t) => {
      const db = await open(t);
      const revocations = createRevocationStore(db, engine);
      const revoked = ['j-1', 'j{"2"},\\'];
      for (const jti of revoked) await revocations.revoke(jti, NOW + WINDOW_MS);
      await fc.assert(
        fc.asyncProperty(fc.array(hostileKey, { maxLength: 8 }), async (noise) => {
          const jtis = [...noise.filter((jti) => !jti.includes('\u0000')), ...revoked, 'j-1'];
          // Made in one turn, so they share a statement.
          const answers = await Promise.all(jtis.map((jti) => revocations.isRevoked(jti)));
          jtis.forEach((jti, i) => {
            assert.equal(answers[i], revoked.includes(jti), JSON.stringify(jti));
          });
        }),
        { numRuns: 30 },
      );
      // A check made after a revocation committed sees it.
      assert.equal(await revocations.isRevoked('j-3'), false);
      await revocations.revoke('j-3', NOW + WINDOW_MS);
      assert.equal(await revocations.isRevoked('j-3'), true);
    });
  });
}

if (POSTGRES_AVAILABLE) {
  describe('named statements [postgres]', () => {
    it('prepares the hot statements once per connection, under their names', async (t) => {
      const db = await postgresDb(t);
      await addSession(db, 's-1', 'u-1');
      const revocations = createRevocationStore(db, postgresEngine);
      for (let i = 0; i < 3; i++) {
        await batchedSessionLookup(db, postgresEngine)(['s-1', `other-${i}`].slice(0, i + 1));
        await batchedCounterHits(db, postgresEngine)([{ key: `k${i}`, windowMs: WINDOW_MS, now: NOW }]);
        await Promise.all(['j-1', `j-${i}`].slice(0, i + 1).map((jti) => revocations.isRevoked(jti)));
      }
      const { rows } = await sql<{ name: string }>`select name from pg_prepared_statements order by name`.execute(db);
      // One each, whatever the number of rows a batch carried.
      assert.deepEqual(
        rows.map((r) => r.name),
        ['hit_counters', 'revoked_jtis', 'sessions_with_users'],
      );
    });

    it('keeps answering after a migration adds a column to a table a prepared lookup reads', async (t) => {
      const db = await postgresDb(t);
      await addSession(db, 's-1', 'u-1');
      assert.equal((await batchedSessionLookup(db, postgresEngine)(['s-1']))[0]?.session.id, 's-1');
      await sql`alter table sessions add column added_later text`.execute(db);
      await sql`alter table users add column added_later text`.execute(db);
      assert.equal((await batchedSessionLookup(db, postgresEngine)(['s-1']))[0]?.user.id, 'u-1');
    });
  });
}
