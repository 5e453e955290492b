import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENGINES } from './engines.js';
import { bearer, json, newCredentials, PASSWORD, register, signUp, startApp } from './helpers.js';

for (const engine of ENGINES) {
  describe(`HTTP shape [${engine}]`, () => {
    it('answers unknown paths with a JSON 404 and wrong methods with a JSON 405 and Allow', async (t) => {
      const { app } = await startApp(t, engine);
      const missing = await app.inject({ method: 'GET', url: '/nope' });
      assert.equal(missing.statusCode, 404);
      assert.deepEqual(json(missing), { error: 'not_found', message: 'There is nothing at this path.' });
      const wrongMethod = await app.inject({ method: 'PUT', url: '/auth/login' });
      assert.equal(wrongMethod.statusCode, 405);
      assert.equal(json(wrongMethod).error, 'method_not_allowed');
      assert.equal(wrongMethod.headers.allow, 'POST');
      const withParam = await app.inject({ method: 'POST', url: '/users/some-id' });
      assert.equal(withParam.statusCode, 405);
      assert.match(String(withParam.headers.allow), /GET/);
    });

    it('answers an unexpected failure with a bare 500: no stack, SQL, token or password', async (t) => {
      const secretBearing = new Error(`SELECT * FROM users WHERE password_hash = '$argon2id$secret' -- ${PASSWORD}`);
      const { app, logs } = await startApp(t, engine, {
        wrapStores: (stores) => ({
          ...stores,
          users: { ...stores.users, findByUsernameKey: async () => Promise.reject(secretBearing) },
        }),
      });
      const response = await app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { username: 'someone', password: PASSWORD },
      });
      assert.equal(response.statusCode, 500);
      assert.deepEqual(json(response), { error: 'internal', message: 'Something went wrong on our side.' });
      assert.doesNotMatch(response.body, /SELECT|argon2|horse|at /);
      assert.ok(
        logs.some((line) => line.includes('"level":50')),
        'the failure is logged for operators',
      );
    });

    it('sends nosniff and no-store on every answer', async (t) => {
      const { app } = await startApp(t, engine);
      for (const url of ['/health', '/nope', '/auth/whoami']) {
        const response = await app.inject({ method: 'GET', url });
        assert.equal(response.headers['x-content-type-options'], 'nosniff', url);
        assert.equal(response.headers['cache-control'], 'no-store', url);
      }
    });

    it('reports liveness and readiness, and 503 unavailable when a store does not answer', async (t) => {
      const { app } = await startApp(t, engine);
      assert.deepEqual(json(await app.inject({ method: 'GET', url: '/health' })), { status: 'ok' });
      const checks = engine === 'postgres+redis' ? { database: 'ok', redis: 'ok' } : { database: 'ok' };
      assert.deepEqual(json(await app.inject({ method: 'GET', url: '/ready' })), { status: 'ready', checks });

      const broken = await startApp(t, engine, {
        wrapStores: (stores) => ({
          ...stores,
          health: [{ name: 'database', critical: true, check: () => Promise.reject(new Error('down')) }],
        }),
      });
      const response = await broken.app.inject({ method: 'GET', url: '/ready' });
      assert.equal(response.statusCode, 503);
      assert.equal(json(response).error, 'unavailable');
      assert.equal(json(response).message, 'Not ready: database unavailable.');
      assert.equal((json(response).checks as Record<string, string>).database, 'down');
    });

    it('maps a store that cannot be reached to 503 unavailable', async (t) => {
      const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      const { app } = await startApp(t, engine, {
        wrapStores: (stores) => ({ ...stores, users: { ...stores.users, keysTaken: () => Promise.reject(refused) } }),
      });
      const response = await app.inject({ method: 'POST', url: '/auth/register', payload: newCredentials() });
      assert.equal(response.statusCode, 503);
      assert.equal(json(response).error, 'unavailable');
    });

    it('serves an OpenAPI 3 document listing every route, and the Swagger UI with a strict CSP', async (t) => {
      const { app } = await startApp(t, engine);
      const response = await app.inject({ method: 'GET', url: '/docs/json' });
      assert.equal(response.statusCode, 200);
      const doc = json<{
        openapi: string;
        paths: Record<string, Record<string, { requestBody?: unknown; security?: unknown }>>;
      }>(response);
      assert.match(doc.openapi, /^3\./);
      const operations = Object.entries(doc.paths)
        .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`))
        .sort();
      assert.deepEqual(operations, [
        'DELETE /auth/mfa/totp/{factor_id}',
        'DELETE /auth/passkeys/{id}',
        'DELETE /auth/sessions/{id}',
        'DELETE /users/{id}',
        'DELETE /users/{id}/mfa',
        'GET /.well-known/jwks.json',
        'GET /admin/audit',
        'GET /auth/mfa',
        'GET /auth/passkeys',
        'GET /auth/refresh',
        'GET /auth/revocations',
        'GET /auth/revoke_token',
        'GET /auth/sessions',
        'GET /auth/whoami',
        'GET /health',
        'GET /ready',
        'GET /users',
        'GET /users/all',
        'GET /users/{id}',
        'PATCH /auth/passkeys/{id}',
        'PATCH /users/{id}',
        'POST /auth/email',
        'POST /auth/introspect',
        'POST /auth/login',
        'POST /auth/logout',
        'POST /auth/mfa/recovery_codes',
        'POST /auth/mfa/totp',
        'POST /auth/mfa/totp/{factor_id}/confirm',
        'POST /auth/mfa/verify',
        'POST /auth/passkeys/login',
        'POST /auth/passkeys/login/options',
        'POST /auth/passkeys/register',
        'POST /auth/passkeys/register/options',
        'POST /auth/password',
        'POST /auth/password/forgot',
        'POST /auth/password/reset',
        'POST /auth/refresh',
        'POST /auth/register',
        'POST /auth/revoke_token',
        'POST /auth/verify',
        'POST /auth/verify/resend',
      ]);
      assert.ok(doc.paths['/auth/register']?.post?.requestBody, 'bodies come from the validating schemas');
      assert.ok(doc.paths['/auth/whoami']?.get?.security);
      const ui = await app.inject({ method: 'GET', url: '/docs/' });
      assert.equal(ui.statusCode, 200);
      assert.match(String(ui.headers['content-security-policy']), /default-src 'self'/);
    });
  });

  describe(`persistence [${engine}]`, () => {
    it('a restart on the same store keeps every user, session and revocation', async (t) => {
      const first = await startApp(t, engine);
      const kept = await signUp(first.app);
      const revokedUser = await signUp(first.app);
      await first.app.inject({
        method: 'POST',
        url: '/auth/revoke_token',
        headers: bearer(revokedUser.tokens.access_token),
      });
      const ended = await signUp(first.app);
      await first.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(ended.tokens.access_token) });
      await first.app.close();

      const second = await startApp(t, engine, { sameStoreAs: first });
      assert.equal(
        (await second.app.inject({ method: 'GET', url: '/auth/whoami', headers: bearer(kept.tokens.access_token) }))
          .statusCode,
        200,
      );
      const revoked = await second.app.inject({
        method: 'GET',
        url: '/auth/whoami',
        headers: bearer(revokedUser.tokens.access_token),
      });
      assert.equal(json(revoked).error, 'token_revoked');
      const endedAgain = await second.app.inject({
        method: 'GET',
        url: '/auth/whoami',
        headers: bearer(ended.tokens.access_token),
      });
      assert.equal(json(endedAgain).error, 'token_revoked');
      const login = await second.app.inject({ method: 'POST', url: '/auth/login', payload: kept.credentials });
      assert.equal(login.statusCode, 200);
      await register(second.app, newCredentials());
    });

    it('purges expired revocations and ended or expired sessions, and nothing still alive', async (t) => {
      const { app, stores, clock } = await startApp(t, engine);
      const alive = await signUp(app);
      const revoked = await signUp(app);
      await app.inject({ method: 'POST', url: '/auth/revoke_token', headers: bearer(revoked.tokens.access_token) });
      const ended = await signUp(app);
      await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(ended.tokens.access_token) });

      clock.advance(16 * 60);
      const purged = await stores.revocations.purge(clock.now());
      assert.equal(purged, 1, 'the revoked access token has expired, so its entry goes');
      assert.equal(await stores.sessions.purge(clock.now()), 1, 'the ended session goes');
      const refreshed = await app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: bearer(alive.tokens.refresh_token),
      });
      assert.equal(refreshed.statusCode, 200, 'a live session is kept');
      const endedRefresh = await app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: bearer(ended.tokens.refresh_token),
      });
      assert.equal(json(endedRefresh).error, 'token_revoked', 'a purged session stays ended');
      clock.advance(31 * 86400);
      assert.equal(await stores.sessions.purge(clock.now()), 2, 'expired sessions go');
    });
  });
}
