import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENGINES } from './engines.js';
import { bearer, json, login, signUp, startApp, whoami } from './helpers.js';

for (const engine of ENGINES) {
  describe(`revoke_token [${engine}]`, () => {
    it('revoking an access token stops that token only', async (t) => {
      const { app, stores } = await startApp(t, engine);
      const { tokens, credentials } = await signUp(app);
      const other = await login(app, credentials);
      const response = await app.inject({
        method: 'POST',
        url: '/auth/revoke_token',
        headers: bearer(tokens.access_token),
      });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(json(response), { message: 'access token revoked' });

      const again = await whoami(app, tokens.access_token);
      assert.equal(again.statusCode, 401);
      assert.equal(json(again).error, 'token_revoked');
      assert.equal((await whoami(app, other.access_token)).statusCode, 200, 'another session is untouched');
      const refreshed = await app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: bearer(tokens.refresh_token),
      });
      assert.equal(refreshed.statusCode, 200, 'the session itself lives on');
      assert.equal(
        await stores.revocations.isRevoked(
          String(JSON.parse(Buffer.from(tokens.access_token.split('.')[1] ?? '', 'base64url').toString()).jti),
        ),
        true,
      );
    });

    it('revoking a refresh token ends its session, so its access tokens stop at once', async (t) => {
      const { app } = await startApp(t, engine);
      const { tokens, credentials } = await signUp(app);
      const other = await login(app, credentials);
      const response = await app.inject({
        method: 'GET',
        url: '/auth/revoke_token',
        headers: bearer(tokens.refresh_token),
      });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(json(response), { message: 'refresh token revoked' });
      assert.equal(json(await whoami(app, tokens.access_token)).error, 'token_revoked');
      const refresh = await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) });
      assert.equal(refresh.statusCode, 401);
      assert.equal(json(refresh).error, 'token_revoked');
      assert.equal((await whoami(app, other.access_token)).statusCode, 200);
    });

    it('revokes a Bearer access token and a body refresh token in one call', async (t) => {
      const { app } = await startApp(t, engine);
      const { tokens } = await signUp(app);
      const response = await app.inject({
        method: 'POST',
        url: '/auth/revoke_token',
        headers: bearer(tokens.access_token),
        payload: { refresh_token: tokens.refresh_token },
      });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(json(response), { message: 'access and refresh tokens revoked' });
      assert.equal(json(await whoami(app, tokens.access_token)).error, 'token_revoked');
      const refresh = await app.inject({
        method: 'POST',
        url: '/auth/refresh',
        payload: { refresh_token: tokens.refresh_token },
      });
      assert.equal(json(refresh).error, 'token_revoked');
    });

    it('changes nothing when the body token is bad', async (t) => {
      const { app } = await startApp(t, engine);
      const { tokens } = await signUp(app);
      const response = await app.inject({
        method: 'POST',
        url: '/auth/revoke_token',
        headers: bearer(tokens.access_token),
        payload: { refresh_token: 'garbage.token.here' },
      });
      assert.equal(response.statusCode, 401);
      assert.equal(json(response).error, 'invalid_token');
      assert.equal((await whoami(app, tokens.access_token)).statusCode, 200);
    });

    it('a revoked token cannot be revoked again, and asking without a token is 401', async (t) => {
      const { app } = await startApp(t, engine);
      const { tokens } = await signUp(app);
      await app.inject({ method: 'POST', url: '/auth/revoke_token', headers: bearer(tokens.access_token) });
      const again = await app.inject({
        method: 'POST',
        url: '/auth/revoke_token',
        headers: bearer(tokens.access_token),
      });
      assert.equal(json(again).error, 'token_revoked');
      const none = await app.inject({ method: 'POST', url: '/auth/revoke_token' });
      assert.equal(none.statusCode, 401);
      assert.equal(json(none).error, 'authorization_required');
    });
  });
}
