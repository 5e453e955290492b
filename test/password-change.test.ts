import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENGINES } from './engines.js';
import { bearer, json, login, PASSWORD, signUp, startApp, type Tokens, whoami } from './helpers.js';

const NEW_PASSWORD = 'a much better passphrase 2026';

for (const engine of ENGINES) {
  describe(`password change [${engine}]`, () => {
    it('changes the password with a fresh token and ends every other session', async (t) => {
      const { app } = await startApp(t, engine);
      const { tokens, credentials } = await signUp(app);
      const other = await login(app, credentials);
      const response = await app.inject({
        method: 'POST',
        url: '/auth/password',
        headers: bearer(tokens.access_token),
        payload: { current_password: PASSWORD, new_password: NEW_PASSWORD },
      });
      assert.equal(response.statusCode, 200);
      assert.equal((await whoami(app, tokens.access_token)).statusCode, 200, 'this session continues');
      assert.equal(json(await whoami(app, other.access_token)).error, 'token_revoked');
      await assert.rejects(login(app, credentials), /401/);
      await login(app, { ...credentials, password: NEW_PASSWORD });
    });

    it('needs a fresh token: one minted by a refresh gets fresh_token_required', async (t) => {
      const { app } = await startApp(t, engine);
      const { tokens } = await signUp(app);
      const refreshed = json<Tokens>(
        await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) }),
      );
      const response = await app.inject({
        method: 'POST',
        url: '/auth/password',
        headers: bearer(refreshed.access_token),
        payload: { current_password: PASSWORD, new_password: NEW_PASSWORD },
      });
      assert.equal(response.statusCode, 401);
      assert.equal(json(response).error, 'fresh_token_required');
    });

    it('refuses a wrong current password and a new password that breaks the rules, changing nothing', async (t) => {
      const { app, stores } = await startApp(t, engine);
      const { tokens, credentials, userId } = await signUp(app);
      const before = (await stores.users.findById(userId))?.passwordHash;
      const wrong = await app.inject({
        method: 'POST',
        url: '/auth/password',
        headers: bearer(tokens.access_token),
        payload: { current_password: 'not it at all', new_password: NEW_PASSWORD },
      });
      assert.equal(wrong.statusCode, 401);
      assert.equal(json(wrong).error, 'invalid_credentials');
      for (const [next, problem] of [
        ['short', 'too_short'],
        ['iloveyou123', 'too_common'],
      ] as const) {
        const weak = await app.inject({
          method: 'POST',
          url: '/auth/password',
          headers: bearer(tokens.access_token),
          payload: { current_password: PASSWORD, new_password: next },
        });
        assert.equal(weak.statusCode, 400);
        assert.deepEqual(json(weak).details, [{ field: 'new_password', problem }]);
      }
      assert.equal((await stores.users.findById(userId))?.passwordHash, before);
      await login(app, credentials);
    });
  });
}
