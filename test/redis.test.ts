import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { REDIS_AVAILABLE, REDIS_TEST_URL, SHARED_ENGINES } from './engines.js';
import { bearer, decodeJwt, json, login, signUp, startApp, whoami } from './helpers.js';
import { startProxy } from './tcp-proxy.js';

const redisPort = Number(new URL(REDIS_TEST_URL).port || 6379);
const waitFor = async (condition: () => boolean | Promise<boolean>, what: string) => {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe('Redis fast path for revocations', {
  skip: !SHARED_ENGINES.includes('postgres+redis') || !REDIS_AVAILABLE,
}, () => {
  it("mirrors a revocation into Redis with the token's remaining lifetime, and answers from there", async (t) => {
    const test = await startApp(t, 'postgres+redis');
    const { tokens } = await signUp(test.app);
    await test.app.inject({ method: 'POST', url: '/auth/revoke_token', headers: bearer(tokens.access_token) });
    const jti = String(decodeJwt(tokens.access_token).payload.jti);
    const redis = new Redis(REDIS_TEST_URL);
    t.after(() => redis.disconnect());
    const ttl = await redis.pttl(`${test.redisPrefix}revoked:jti:${jti}`);
    const remaining = Number(decodeJwt(tokens.access_token).payload.exp) * 1000 - Date.now();
    assert.ok(ttl > 0 && Math.abs(ttl - remaining) < 60 * 60_000, `ttl ${ttl}`);
    // Take the row out of the database: the refusal now can only come from Redis.
    await test.stores.durableRevocations.purge(Number.MAX_SAFE_INTEGER);
    assert.equal(await test.stores.durableRevocations.isRevoked(jti), false);
    assert.equal(json(await whoami(test.app, tokens.access_token)).error, 'token_revoked');
  });

  it('a flushed Redis is not trusted: checks use the database until a resync restores it', async (t) => {
    const test = await startApp(t, 'postgres+redis');
    const { tokens } = await signUp(test.app);
    await test.app.inject({ method: 'POST', url: '/auth/revoke_token', headers: bearer(tokens.access_token) });
    const redis = new Redis(REDIS_TEST_URL);
    t.after(() => redis.disconnect());
    const keys = await redis.keys(`${test.redisPrefix}*`);
    await redis.del(...keys); // what a Redis restart without persistence does to our keys
    assert.equal(json(await whoami(test.app, tokens.access_token)).error, 'token_revoked', 'answered by the database');
    await waitFor(async () => (await redis.exists(`${test.redisPrefix}revocations:synced`)) === 1, 'resync');
    const jti = String(decodeJwt(tokens.access_token).payload.jti);
    assert.equal(
      await redis.exists(`${test.redisPrefix}revoked:jti:${jti}`),
      1,
      'the resync copied the revocation back',
    );
    assert.equal(json(await whoami(test.app, tokens.access_token)).error, 'token_revoked');
  });

  it('with Redis unreachable: revocation still holds, /ready says degraded, and it recovers by itself', async (t) => {
    const proxy = await startProxy(redisPort);
    t.after(() => proxy.close());
    const test = await startApp(t, 'postgres+redis', { env: { REDIS_URL: proxy.url(REDIS_TEST_URL) } });
    const { tokens, credentials } = await signUp(test.app);
    const other = await login(test.app, credentials);

    await proxy.cut();
    await waitFor(() => test.redis?.client.status !== 'ready', 'the client to notice');
    const ready = await test.app.inject({ method: 'GET', url: '/ready' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(json(ready), { status: 'degraded', checks: { database: 'ok', redis: 'down' } });

    const started = Date.now();
    const revoke = await test.app.inject({
      method: 'POST',
      url: '/auth/revoke_token',
      headers: bearer(tokens.access_token),
    });
    assert.equal(revoke.statusCode, 200);
    assert.equal(json(await whoami(test.app, tokens.access_token)).error, 'token_revoked');
    assert.equal((await whoami(test.app, other.access_token)).statusCode, 200, 'other sessions keep working');
    assert.ok(Date.now() - started < 3000, 'no request waits on the dead Redis');

    await proxy.restore();
    await waitFor(
      async () => json(await test.app.inject({ method: 'GET', url: '/ready' })).status === 'ready',
      'recovery',
    );
    assert.equal(json(await whoami(test.app, tokens.access_token)).error, 'token_revoked');
    assert.equal((await whoami(test.app, other.access_token)).statusCode, 200);
  });

  it('an instance cut off from Redis revokes in a way every other instance sees at once', async (t) => {
    const proxy = await startProxy(redisPort);
    t.after(() => proxy.close());
    const a = await startApp(t, 'postgres+redis', { env: { REDIS_URL: proxy.url(REDIS_TEST_URL) } });
    const b = await startApp(t, 'postgres+redis', { sameStoreAs: a, env: { REDIS_URL: REDIS_TEST_URL } });
    const { tokens } = await signUp(a.app);
    assert.equal((await whoami(b.app, tokens.access_token)).statusCode, 200);
    await proxy.cut();
    await waitFor(() => a.redis?.client.status !== 'ready', 'A to lose Redis');
    const revoke = await a.app.inject({
      method: 'POST',
      url: '/auth/revoke_token',
      headers: bearer(tokens.access_token),
    });
    assert.equal(revoke.statusCode, 200);
    const onB = await whoami(b.app, tokens.access_token);
    assert.equal(json(onB).error, 'token_revoked', 'B still trusts its Redis, yet refuses the token');
  });

  it('keeps rate-limit counters in Redis, and still limits from the database while Redis is away', async (t) => {
    const proxy = await startProxy(redisPort);
    t.after(() => proxy.close());
    const test = await startApp(t, 'postgres+redis', {
      env: { REDIS_URL: proxy.url(REDIS_TEST_URL), RATE_LIMIT_PER_IP: '4' },
    });
    const redis = new Redis(REDIS_TEST_URL);
    t.after(() => redis.disconnect());
    const register = (i: number) =>
      test.app.inject({
        method: 'POST',
        url: '/auth/register',
        remoteAddress: '10.3.0.1',
        payload: { username: `rl${i}`, email: `rl${i}@example.com`, password: 'correct horse battery staple' },
      });
    assert.equal((await register(0)).statusCode, 201);
    assert.ok((await redis.keys(`${test.redisPrefix}rate:*`)).length > 0, 'the counter lives in Redis');
    await proxy.cut();
    await waitFor(() => test.redis?.client.status !== 'ready', 'the client to notice');
    const codes = [];
    for (let i = 1; i <= 5; i++) codes.push((await register(i)).statusCode);
    assert.deepEqual(codes.slice(-1), [429], codes.join(','));
  });
});
