import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { bearer, decodeJwt, json, signUp, startApp, whoami } from './helpers.js';

describe('SQLite read cache never answers from stale data', () => {
  it("sees another instance's revocation and logout on the very next request", async (t) => {
    const a = await startApp(t, 'sqlite');
    const b = await startApp(t, 'sqlite', { sameStoreAs: a });
    const first = await signUp(a.app);
    const second = await signUp(a.app);
    for (let i = 0; i < 3; i++) assert.equal((await whoami(a.app, first.tokens.access_token)).statusCode, 200, 'now cached on A');
    await b.app.inject({ method: 'POST', url: '/auth/revoke_token', headers: bearer(first.tokens.access_token) });
    assert.equal(json(await whoami(a.app, first.tokens.access_token)).error, 'token_revoked');

    assert.equal((await whoami(a.app, second.tokens.access_token)).statusCode, 200);
    await b.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(second.tokens.access_token) });
    assert.equal(json(await whoami(a.app, second.tokens.access_token)).error, 'token_revoked');
  });

  it('sees a write made outside Tessera (another SQLite connection) on the very next request', async (t) => {
    const a = await startApp(t, 'sqlite');
    const user = await signUp(a.app);
    assert.equal((await whoami(a.app, user.tokens.access_token)).statusCode, 200);
    const raw = new SqliteDatabase(join(a.dir, 'tessera.sqlite3'));
    raw.prepare('update sessions set ended_at = 1 where id = ?').run(String(decodeJwt(user.tokens.access_token).payload.sid));
    raw.close();
    assert.equal(json(await whoami(a.app, user.tokens.access_token)).error, 'token_revoked');
  });

  it("sees its own writes at once: roles granted on this instance apply to the next request", async (t) => {
    const a = await startApp(t, 'sqlite');
    const user = await signUp(a.app);
    assert.equal((await a.app.inject({ method: 'GET', url: '/users', headers: bearer(user.tokens.access_token) })).statusCode, 403);
    await a.stores.users.update(user.userId, { roles: ['admin'] }, a.clock.now());
    assert.equal((await a.app.inject({ method: 'GET', url: '/users', headers: bearer(user.tokens.access_token) })).statusCode, 200);
  });
});
