import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../src/store/sql/commit-wait.js';
import { PURGE_GRANULE_MS } from '../src/store/sql/purge-after.js';
import type { Stores } from '../src/store/types.js';
import { ENGINES } from './engines.js';
import { bearer, decodeJwt, json, login, sessionIdOf, signUp, sqlOutsideTessera, startApp, whoami } from './helpers.js';

/** Counts the session lookups that reach the store; `hold` makes the next one wait after reading. */
function countingLookups() {
  const counter = { lookups: 0, bySession: new Map<string, number>(), hold: undefined as Promise<void> | undefined };
  const wrap = (stores: Stores): Stores => ({
    ...stores,
    sessions: {
      ...stores.sessions,
      findWithUser: async (id) => {
        counter.lookups += 1;
        counter.bySession.set(id, (counter.bySession.get(id) ?? 0) + 1);
        const found = await stores.sessions.findWithUser(id);
        const hold = counter.hold;
        counter.hold = undefined;
        if (hold) await hold;
        return found;
      },
    },
  });
  return { counter, wrap };
}

for (const engine of ENGINES) {
  describe(`access cache never answers from stale data [${engine}]`, () => {
    it('answers a repeated access token without a store lookup until something that concerns it changes', async (t) => {
      const { counter, wrap } = countingLookups();
      const a = await startApp(t, engine, { wrapStores: wrap });
      const user = await signUp(a.app);
      const other = await signUp(a.app);
      const sid = sessionIdOf(user.tokens);
      const lookups = () => counter.bySession.get(sid) ?? 0;
      assert.equal((await whoami(a.app, user.tokens.access_token)).statusCode, 200);
      assert.equal(lookups(), 1);
      for (let i = 0; i < 5; i++) assert.equal((await whoami(a.app, user.tokens.access_token)).statusCode, 200);
      assert.equal(lookups(), 1, 'served from the cache');

      // Someone else's logout and revoked token concern other entries only.
      await a.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(other.tokens.access_token) });
      const third = await signUp(a.app);
      await a.app.inject({ method: 'POST', url: '/auth/revoke_token', headers: bearer(third.tokens.access_token) });
      assert.equal((await whoami(a.app, user.tokens.access_token)).statusCode, 200);
      assert.equal(lookups(), 1, 'still served from the cache');

      // Another session of the same user ending: its entries go, and the next request looks again.
      const second = await login(a.app, user.credentials);
      await a.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(second.access_token) });
      assert.equal((await whoami(a.app, user.tokens.access_token)).statusCode, 200);
      assert.equal(lookups(), 2, 'looked up again');

      // A raise the log cannot explain (the counter moved by hand): everything goes.
      await sqlOutsideTessera(a.databaseUrl, 'update tessera_generation set value = value + 1 where id = 1');
      await waitFor(a.stores.generation.commitWaitMs); // as a writer outside Tessera is seen: see below
      assert.equal((await whoami(a.app, user.tokens.access_token)).statusCode, 200);
      assert.equal(lookups(), 3, 'looked up again');
    });

    it("sees another instance's revocation, logout and disable on the very next request", async (t) => {
      const a = await startApp(t, engine);
      const b = await startApp(t, engine, { sameStoreAs: a });
      const [first, second, third] = [await signUp(a.app), await signUp(a.app), await signUp(a.app)];
      for (const user of [first, second, third]) {
        for (let i = 0; i < 3; i++) assert.equal((await whoami(a.app, user.tokens.access_token)).statusCode, 200);
      }
      await b.app.inject({ method: 'POST', url: '/auth/revoke_token', headers: bearer(first.tokens.access_token) });
      assert.equal(json(await whoami(a.app, first.tokens.access_token)).error, 'token_revoked');
      await b.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(second.tokens.access_token) });
      assert.equal(json(await whoami(a.app, second.tokens.access_token)).error, 'token_revoked');
      await b.stores.users.update(third.userId, { disabled: true }, b.clock.now());
      assert.equal(json(await whoami(a.app, third.tokens.access_token)).error, 'token_revoked');
    });

    it('sees writes made outside Tessera (another connection, plain SQL): at the next request, or on PostgreSQL within its commit wait', async (t) => {
      const a = await startApp(t, engine);
      // Tessera's own writers wait this long after a commit before they answer (0 on SQLite); a
      // writer outside Tessera is seen within the same time.
      const outside = async (statement: string, parameters: unknown[]) => {
        await sqlOutsideTessera(a.databaseUrl, statement, parameters);
        await waitFor(a.stores.generation.commitWaitMs);
      };
      const ended = await signUp(a.app);
      const deleted = await signUp(a.app);
      const revoked = await signUp(a.app);
      for (const user of [ended, deleted, revoked])
        assert.equal((await whoami(a.app, user.tokens.access_token)).statusCode, 200);

      await outside('update sessions set ended_at = 1 where id = ?', [sessionIdOf(ended.tokens)]);
      assert.equal(json(await whoami(a.app, ended.tokens.access_token)).error, 'token_revoked');
      await outside('delete from users where id = ?', [deleted.userId]);
      assert.equal((await whoami(a.app, deleted.tokens.access_token)).statusCode, 401);
      // With Redis, token revocations are read from its mirror, which only Tessera writes: a row
      // slipped into the table behind its back is not seen there (README, "Redis").
      if (engine === 'postgres+redis') return;
      await outside('insert into revoked_tokens (jti, expires_at) values (?, ?)', [
        String(decodeJwt(revoked.tokens.access_token).payload.jti),
        a.clock.now() + 3_600_000,
      ]);
      assert.equal(json(await whoami(a.app, revoked.tokens.access_token)).error, 'token_revoked');
    });

    it('sees its own writes at once: roles granted on this instance apply to the next request', async (t) => {
      const a = await startApp(t, engine);
      const user = await signUp(a.app);
      const users = () => a.app.inject({ method: 'GET', url: '/users', headers: bearer(user.tokens.access_token) });
      assert.equal((await users()).statusCode, 403);
      await a.stores.users.update(user.userId, { roles: ['admin'] }, a.clock.now());
      assert.equal((await users()).statusCode, 200);
    });

    it('does not keep a lookup that raced a revocation', async (t) => {
      const { counter, wrap } = countingLookups();
      const a = await startApp(t, engine, { wrapStores: wrap });
      const b = await startApp(t, engine, { sameStoreAs: a });
      const user = await signUp(a.app);
      let release = () => {};
      counter.hold = new Promise<void>((resolve) => (release = resolve));
      // This request reads the live session, then stalls before it can fill the cache ...
      const racing = whoami(a.app, user.tokens.access_token);
      while (counter.hold !== undefined) await new Promise((r) => setImmediate(r));
      // ... while another instance logs the session out, and a later request sees that.
      await b.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(user.tokens.access_token) });
      assert.equal(json(await whoami(a.app, user.tokens.access_token)).error, 'token_revoked');
      release();
      assert.equal((await racing).statusCode, 200, 'it was read before the logout');
      assert.equal(json(await whoami(a.app, user.tokens.access_token)).error, 'token_revoked', 'and was not kept');
    });

    it('serves only the exact token it verified: a forgery sharing its signature is checked and refused', async (t) => {
      const a = await startApp(t, engine);
      const admin = await signUp(a.app);
      const victim = await signUp(a.app);
      assert.equal((await whoami(a.app, victim.tokens.access_token)).statusCode, 200);
      const [header = '', payload = '', signature = ''] = victim.tokens.access_token.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      for (const forged of [
        `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: admin.userId })).toString('base64url')}.${signature}`,
        `${header}.${payload}x.${signature}`,
        `x${victim.tokens.access_token}`,
      ]) {
        const response = await whoami(a.app, forged);
        assert.equal(response.statusCode, 401, forged);
        assert.equal(json(response).error, 'invalid_token');
      }
      assert.equal((await whoami(a.app, victim.tokens.access_token)).statusCode, 200, 'the real one still works');
    });

    it('refuses a cached token once it expires, as expired', async (t) => {
      const a = await startApp(t, engine, { env: { ACCESS_TOKEN_TTL: '60' } });
      const user = await signUp(a.app);
      assert.equal((await whoami(a.app, user.tokens.access_token)).statusCode, 200);
      a.clock.advance(60 + a.config.jwt.leewaySeconds);
      assert.equal(json(await whoami(a.app, user.tokens.access_token)).error, 'token_expired');
    });

    it('is off with ACCESS_CACHE_SIZE=0, and holds at most ACCESS_CACHE_SIZE tokens', async (t) => {
      const off = countingLookups();
      const a = await startApp(t, engine, { wrapStores: off.wrap, env: { ACCESS_CACHE_SIZE: '0' } });
      const user = await signUp(a.app);
      const before = off.counter.lookups;
      for (let i = 0; i < 3; i++) await whoami(a.app, user.tokens.access_token);
      assert.equal(off.counter.lookups, before + 3);

      const small = countingLookups();
      const c = await startApp(t, engine, { wrapStores: small.wrap, env: { ACCESS_CACHE_SIZE: '2' } });
      const users = [await signUp(c.app), await signUp(c.app), await signUp(c.app)];
      for (const u of users) await whoami(c.app, u.tokens.access_token);
      const filled = small.counter.lookups;
      await whoami(c.app, users[2]?.tokens.access_token ?? '');
      assert.equal(small.counter.lookups, filled, 'the newest stays');
      await whoami(c.app, users[0]?.tokens.access_token ?? '');
      assert.equal(small.counter.lookups, filled + 1, 'the oldest was evicted');
    });
  });

  describe(`invalidation generation [${engine}]`, () => {
    it('rises with every write that can stop a token working, and only with those', async (t) => {
      const a = await startApp(t, engine);
      const { stores, clock } = a;
      const generation = async () => (await stores.generation.observe()).value;
      const rises = async (what: string, write: () => Promise<unknown>, expected: boolean) => {
        const before = await generation();
        const started = performance.now();
        await write();
        const took = performance.now() - started;
        const after = await generation();
        assert.equal(after > before, expected, `${what} ${expected ? 'raises' : 'leaves'} the generation`);
        // Where instances check requests against a read a few milliseconds old, a raising write
        // returns only after every instance can see it (shared-generation.ts).
        if (expected) assert.ok(took >= stores.generation.commitWaitMs, `${what} returned after ${took} ms`);
      };
      const user = await signUp(a.app);
      const sid = sessionIdOf(user.tokens);
      const session = await stores.sessions.find(sid);
      assert.ok(session);

      await rises('registering', () => signUp(a.app), false);
      await rises(
        'rotating a refresh token',
        () => a.app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(user.tokens.refresh_token) }),
        false,
      );
      await rises('counting a rate limit', () => stores.counters.hit('k', 60_000, clock.now()), false);
      await rises(
        'revoking an access token',
        () => stores.durableRevocations.revoke('some-jti', clock.now() + 60_000),
        true,
      );
      await rises('changing a user', () => stores.users.update(user.userId, { roles: ['x'] }, clock.now()), true);
      await rises('ending a session', () => stores.sessions.end(sid, 'logout', clock.now()), true);
      await rises('ending an ended session again', () => stores.sessions.end(sid, 'logout', clock.now()), false);
      const other = await signUp(a.app);
      await rises(
        'ending all sessions of a user',
        () => stores.sessions.endAllForUser(other.userId, 'logout', clock.now()),
        true,
      );
      await rises('purging ended sessions (ending them raised it)', () => stores.sessions.purge(clock.now()), false);
      await rises('purging when nothing is due', () => stores.sessions.purge(clock.now()), false);
      // Sessions that expired by the database's clock too, more than one purge batch of them,
      // and past the hour within which a purge takes them (sql/purge-after.ts).
      const dead = await signUp(a.app);
      const expired = Date.now() - PURGE_GRANULE_MS - 60_000;
      for (let i = 0; i < 2_500; i++) {
        await stores.sessions.insert({ ...session, id: `expired-${i}`, userId: dead.userId, expiresAt: expired });
      }
      let purged = 0;
      await rises(
        'purging 2,500 expired sessions',
        async () => (purged = await stores.sessions.purge(clock.now())),
        false,
      );
      assert.equal(purged, 2_500, 'all of them, over three batches');
      const live = await signUp(a.app);
      await rises(
        'deleting a live session behind Tessera',
        async () => {
          await sqlOutsideTessera(a.databaseUrl, 'delete from sessions where id = ?', [sessionIdOf(live.tokens)]);
          await waitFor(stores.generation.commitWaitMs);
        },
        true,
      );
      assert.equal(json(await whoami(a.app, live.tokens.access_token)).error, 'token_revoked');
      await rises('deleting a user', () => stores.users.delete(other.userId), true);
    });

    it('logs whom each raise concerned, and purges log entries far behind the counter', async (t) => {
      const a = await startApp(t, engine);
      const { stores, clock } = a;
      const start = await stores.generation.observe();
      const user = await signUp(a.app);
      const other = await signUp(a.app);
      await stores.users.update(user.userId, { roles: ['x'] }, clock.now());
      await stores.durableRevocations.revoke('revoked-jti', clock.now() + 60_000);
      await stores.sessions.endAllForUser(other.userId, 'logout', clock.now());
      const now = await stores.generation.observe();
      // An ended session is logged by its user and, since migration 008, by its own id.
      const otherSession = sessionIdOf(other.tokens);
      assert.deepEqual(
        [...(now.changedSince(start.value) ?? [])].sort(),
        [user.userId, other.userId, otherSession, 'revoked-jti'].sort(),
      );
      assert.deepEqual([...(now.changedSince(now.value - 2) ?? [])].sort(), [other.userId, otherSession].sort());
      assert.equal(now.changedSince(start.value - 1), undefined, 'from before the first read: unknown');

      await sqlOutsideTessera(a.databaseUrl, 'insert into tessera_changes (generation, subject) values (?, ?)', [
        now.value - 20_000,
        'ancient',
      ]);
      assert.equal(await stores.generation.purge(), 1);
      assert.equal(await stores.generation.purge(), 0);
    });
  });
}

describe('access cache and a generation that goes back (a database restored from a backup)', () => {
  it('drops what it holds and keeps nothing loaded at the lower generation', async (t) => {
    const a = await startApp(t, 'sqlite');
    const user = await signUp(a.app);
    const other = await signUp(a.app);
    assert.equal((await whoami(a.app, user.tokens.access_token)).statusCode, 200);
    const before = (await a.stores.generation.observe()).value;
    await a.stores.users.update(other.userId, { roles: ['x'] }, a.clock.now());
    assert.equal((await whoami(a.app, user.tokens.access_token)).statusCode, 200, 'cached at the raised generation');
    // The restore: the session is gone and the counter is back where it was.
    await sqlOutsideTessera(a.databaseUrl, 'delete from sessions where user_id = ?', [user.userId]);
    await sqlOutsideTessera(a.databaseUrl, 'update tessera_generation set value = ? where id = 1', [before]);
    assert.equal(json(await whoami(a.app, user.tokens.access_token)).error, 'token_revoked');
    // The counter climbs back to the value the old entry was cached at: still refused.
    await a.stores.users.update(other.userId, { roles: [] }, a.clock.now());
    assert.equal((await a.stores.generation.observe()).value, before + 1);
    assert.equal(json(await whoami(a.app, user.tokens.access_token)).error, 'token_revoked');
  });
});
