import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRedisPrefix, createTestDatabase, REDIS_TEST_URL, SHARED_ENGINES } from './engines.js';
import { PASSWORD, SECRET } from './helpers.js';
import { get, post, startServer } from './server-process.js';
import { tempDir } from './temp-dir.js';

describe('several instances behind one PostgreSQL and one Redis', {
  skip: !SHARED_ENGINES.includes('postgres+redis'),
}, () => {
  it('share users, sessions and revocations at once, and agree on one refresh winner', async (t) => {
    const db = await createTestDatabase();
    t.after(() => db.drop());
    const redis = createRedisPrefix();
    t.after(() => redis.drop());
    const env = (reuse: string) => ({
      DATA_DIR: tempDir('tessera-multi-'),
      SECRET_KEY: SECRET,
      DATABASE_URL: db.url,
      REDIS_URL: REDIS_TEST_URL,
      REDIS_PREFIX: redis.prefix,
      REFRESH_REUSE_INTERVAL: reuse,
    });
    const [a, b] = await Promise.all([startServer(env('0'), t), startServer(env('0'), t)]);

    const user = { username: 'shared', email: 'shared@example.com', password: PASSWORD };
    assert.equal((await post(`${a.url}/auth/register`, user)).status, 201);
    const loginB = await post(`${b.url}/auth/login`, user);
    assert.equal(loginB.status, 200, 'registered on A, logged in on B');
    const tokens = loginB.body.tokens as { access_token: string; refresh_token: string };
    assert.equal((await get(`${a.url}/auth/whoami`, tokens.access_token)).status, 200);

    assert.equal((await post(`${b.url}/auth/revoke_token`, {}, tokens.access_token)).status, 200);
    const onA = await get(`${a.url}/auth/whoami`, tokens.access_token);
    assert.equal(onA.status, 401);
    assert.equal(onA.body.error, 'token_revoked', 'revoked on B, refused on A on the very next request');

    const race = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        post(`${(i % 2 ? a : b).url}/auth/refresh`, { refresh_token: tokens.refresh_token }),
      ),
    );
    assert.equal(race.filter((r) => r.status === 200).length, 1, race.map((r) => r.status).join(','));

    const fresh = (await post(`${a.url}/auth/login`, user)).body.tokens as { access_token: string };
    const viaB = (await post(`${b.url}/auth/login`, user)).body.tokens as {
      access_token: string;
      refresh_token: string;
    };
    assert.equal((await get(`${b.url}/auth/whoami`, viaB.access_token)).status, 200);
    assert.equal((await post(`${a.url}/auth/logout`, { scope: 'global' }, fresh.access_token)).status, 200);
    assert.equal(
      (await get(`${b.url}/auth/whoami`, viaB.access_token)).body.error,
      'token_revoked',
      'global logout on A ends sessions used through B',
    );
    assert.equal(
      (await post(`${b.url}/auth/refresh`, { refresh_token: viaB.refresh_token })).body.error,
      'token_revoked',
    );
  });
});
