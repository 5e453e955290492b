import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from '../src/store/sql/commit-wait.js';
import { createTestDatabase, ENGINES, POSTGRES_ADMIN_URL, SHARED_ENGINES } from './engines.js';
import {
  decodeJwt,
  json,
  newCredentials,
  PASSWORD,
  SECRET,
  signUp,
  sqlOutsideTessera,
  startApp,
  whoami,
} from './helpers.js';
import { post, startServer } from './server-process.js';
import { startProxy } from './tcp-proxy.js';
import { tempDir } from './temp-dir.js';

const postgresPort = Number(new URL(POSTGRES_ADMIN_URL).port || 5432);

describe('PostgreSQL going away', { skip: SHARED_ENGINES.length === 0 }, () => {
  it('answers 503 unavailable as JSON within a bounded time, and recovers without a restart', async (t) => {
    const db = await createTestDatabase();
    t.after(() => db.drop());
    const proxy = await startProxy(postgresPort);
    t.after(() => proxy.close());
    const test = await startApp(t, 'postgres', { env: { DATABASE_URL: proxy.url(db.url), STORE_TIMEOUT_MS: '1000' } });
    const { tokens } = await signUp(test.app);
    // Now in the access cache: even so, without the database it must not be answered from memory
    // once the last generation read is too old to trust (on PostgreSQL: older than the window
    // every revoking writer waits out, so nothing that committed meanwhile has been answered).
    for (let i = 0; i < 2; i++) assert.equal((await whoami(test.app, tokens.access_token)).statusCode, 200);

    await proxy.cut();
    await waitFor(test.stores.generation.commitWaitMs);
    for (const request of [
      () => whoami(test.app, tokens.access_token),
      () => test.app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'x', password: PASSWORD } }),
      () => test.app.inject({ method: 'POST', url: '/auth/register', payload: newCredentials() }),
    ]) {
      const started = Date.now();
      const response = await request();
      assert.equal(response.statusCode, 503, response.body);
      assert.deepEqual(json(response), {
        error: 'unavailable',
        message: 'A data store is unavailable; try again shortly.',
      });
      assert.ok(Date.now() - started < 3000, 'bounded by STORE_TIMEOUT_MS');
    }
    assert.equal((await test.app.inject({ method: 'GET', url: '/ready' })).statusCode, 503);

    proxy.blackhole();
    await proxy.restore();
    proxy.blackhole();
    const started = Date.now();
    const hung = await whoami(test.app, tokens.access_token);
    assert.equal(hung.statusCode, 503, 'a server that accepts but never answers is also bounded');
    assert.ok(Date.now() - started < 3000);

    await proxy.cut();
    await proxy.restore();
    let recovered = false;
    for (let i = 0; i < 40 && !recovered; i++) {
      recovered = (await whoami(test.app, tokens.access_token)).statusCode === 200;
      if (!recovered) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(recovered, 'back without a restart');
    assert.equal((await test.app.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
  });
});

describe('process signals', () => {
  it('SIGTERM lets in-flight requests finish, refuses new ones, and exits 0', async (t) => {
    const dir = tempDir('tessera-drain-');
    // debug logs each request as routing starts, past the point where a closing server answers 503.
    const server = await startServer({ DATA_DIR: dir, SECRET_KEY: SECRET, LOG_LEVEL: 'debug' }, t);
    const users = Array.from({ length: 16 }, (_, i) => ({
      username: `drain${i}`,
      email: `drain${i}@example.com`,
      password: PASSWORD,
    }));
    // Each registration hashes with argon2id, so sixteen take several rounds. SIGTERM comes once
    // the server has taken all sixteen in (on a busy machine the first answer can come sooner).
    const inFlight = users.map((user) => post(`${server.url}/auth/register`, user));
    const received = () =>
      server
        .output()
        .match(/"msg":"incoming request"[^\n]*\/auth\/register|\/auth\/register[^\n]*"msg":"incoming request"/g)
        ?.length ?? 0;
    for (let i = 0; i < 400 && received() < users.length; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.equal(received(), users.length, 'all sixteen were taken in before the signal');
    server.child.kill('SIGTERM');
    const results = await Promise.all(inFlight);
    assert.deepEqual(
      results.map((r) => r.status),
      users.map(() => 201),
    );
    assert.equal(await server.exited, 0, server.output());
    await assert.rejects(fetch(`${server.url}/health`), 'no new connections after shutdown');
  });
});

for (const engine of ENGINES.filter((e) => e !== 'postgres+redis')) {
  describe(`kill -9 in the middle of a burst [${engine}]`, () => {
    it('keeps every acknowledged user and rotation after a restart', async (t) => {
      const dir = tempDir('tessera-crash-');
      let databaseUrl = `sqlite:${join(dir, 'tessera.sqlite3')}`;
      if (engine !== 'sqlite') {
        const db = await createTestDatabase();
        t.after(() => db.drop());
        databaseUrl = db.url;
      }
      // Not a rate-limit test: the refresh chains run flat out.
      const env = {
        DATA_DIR: dir,
        SECRET_KEY: SECRET,
        DATABASE_URL: databaseUrl,
        RATE_LIMIT_PER_IP: '1000000',
        REFRESH_MIN_INTERVAL_MS: '0',
      };
      const first = await startServer(env, t);

      const seed = await Promise.all(
        Array.from({ length: 4 }, async (_, i) => {
          const user = { username: `chain${i}`, email: `chain${i}@example.com`, password: PASSWORD };
          await post(`${first.url}/auth/register`, user);
          return (await post(`${first.url}/auth/login`, user)).body.tokens as { refresh_token: string };
        }),
      );
      const acknowledgedUsers: { username: string; password: string }[] = [];
      const lastRefresh = seed.map((tokens) => tokens.refresh_token);
      let stop = false;
      const registering = (async () => {
        for (let i = 0; !stop; i++) {
          const user = { username: `burst${i}`, email: `burst${i}@example.com`, password: PASSWORD };
          try {
            if ((await post(`${first.url}/auth/register`, user)).status === 201) acknowledgedUsers.push(user);
          } catch {
            return;
          }
        }
      })();
      const refreshing = lastRefresh.map(async (_, chain) => {
        while (!stop) {
          try {
            const response = await post(`${first.url}/auth/refresh`, { refresh_token: lastRefresh[chain] });
            if (response.status !== 200) throw new Error(`refresh answered ${response.status}`);
            lastRefresh[chain] = String(response.body.refresh_token);
          } catch (error) {
            if (error instanceof TypeError) return; // the connection died with the server
            throw error;
          }
        }
      });
      await new Promise((r) => setTimeout(r, 700));
      first.child.kill('SIGKILL');
      await first.exited;
      stop = true;
      await Promise.all([registering, ...refreshing]);
      assert.ok(acknowledgedUsers.length > 0, 'some registrations were acknowledged before the kill');

      const second = await startServer(env, t);
      for (const user of acknowledgedUsers) {
        assert.equal(
          (await post(`${second.url}/auth/login`, user)).status,
          200,
          `${user.username} was acknowledged, so it must log in`,
        );
      }
      const sessions = await readSessions(databaseUrl);
      for (const token of lastRefresh) {
        const { sid, jti } = decodeJwt(token).payload;
        const session = sessions.get(String(sid));
        assert.ok(session, 'the session survived');
        // The last acknowledged token is current, or was rotated by a request whose answer was
        // lost in the crash: then it is the previous one, and the successor is the only live one.
        assert.ok(session.refresh_jti === jti || session.previous_jti === jti, 'one line of rotation, no fork');
        const again = await post(`${second.url}/auth/refresh`, { refresh_token: token });
        assert.equal(again.status, 200, 'the client can carry on with the last token it was given');
      }
    });
  });
}

async function readSessions(
  databaseUrl: string,
): Promise<Map<string, { refresh_jti: string; previous_jti: string | null }>> {
  type Row = { id: string; refresh_jti: string; previous_jti: string | null };
  const rows = await sqlOutsideTessera<Row>(databaseUrl, 'select id, refresh_jti, previous_jti from sessions');
  return new Map(rows.map((r) => [r.id, r]));
}
