import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENGINES } from './engines.js';
import { bearer, decodeJwt, json, login, signUp, startApp, whoami } from './helpers.js';

interface SessionList {
  sessions: {
    id: string;
    current: boolean;
    user_agent: string | null;
    ip: string | null;
    created_at: string;
    last_used_at: string;
    expires_at: string;
  }[];
}

for (const engine of ENGINES) {
  describe(`logout and sessions [${engine}]`, () => {
    it('logout local ends this session only, by access or by refresh token', async (t) => {
      const { app } = await startApp(t, engine);
      const { tokens, credentials } = await signUp(app);
      const second = await login(app, credentials);
      const third = await login(app, credentials);
      const byAccess = await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) });
      assert.equal(byAccess.statusCode, 200);
      assert.deepEqual(json(byAccess), { message: 'Logged out (local)', sessions_ended: 1 });
      assert.equal(json(await whoami(app, tokens.access_token)).error, 'token_revoked');
      const byRefresh = await app.inject({
        method: 'POST',
        url: '/auth/logout',
        headers: bearer(second.refresh_token),
        payload: { scope: 'local' },
      });
      assert.equal(byRefresh.statusCode, 200);
      assert.equal(json(await whoami(app, second.access_token)).error, 'token_revoked');
      assert.equal((await whoami(app, third.access_token)).statusCode, 200);
    });

    it('logout others ends every other session and keeps this one', async (t) => {
      const { app } = await startApp(t, engine);
      const { tokens, credentials } = await signUp(app);
      const others = [await login(app, credentials), await login(app, credentials)];
      const stranger = await signUp(app);
      const response = await app.inject({
        method: 'POST',
        url: '/auth/logout',
        headers: bearer(tokens.access_token),
        payload: { scope: 'others' },
      });
      assert.deepEqual(json(response), { message: 'Logged out (others)', sessions_ended: 2 });
      assert.equal((await whoami(app, tokens.access_token)).statusCode, 200);
      for (const other of others) assert.equal(json(await whoami(app, other.access_token)).error, 'token_revoked');
      assert.equal(
        (await whoami(app, stranger.tokens.access_token)).statusCode,
        200,
        "another user's sessions are untouched",
      );
    });

    it("logout global ends all of the user's sessions", async (t) => {
      const { app } = await startApp(t, engine);
      const { tokens, credentials } = await signUp(app);
      const other = await login(app, credentials);
      const response = await app.inject({
        method: 'POST',
        url: '/auth/logout',
        headers: bearer(tokens.access_token),
        payload: { scope: 'global' },
      });
      assert.equal(json(response).sessions_ended, 2);
      for (const token of [tokens.access_token, other.access_token])
        assert.equal(json(await whoami(app, token)).error, 'token_revoked');
      const refresh = await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(other.refresh_token) });
      assert.equal(json(refresh).error, 'token_revoked');
    });

    it('refuses an unknown scope with 400 and ends nothing', async (t) => {
      const { app } = await startApp(t, engine);
      const { tokens } = await signUp(app);
      const response = await app.inject({
        method: 'POST',
        url: '/auth/logout',
        headers: bearer(tokens.access_token),
        payload: { scope: 'everything' },
      });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(json(response).details, [{ field: 'scope', problem: 'not_allowed' }]);
      assert.equal((await whoami(app, tokens.access_token)).statusCode, 200);
    });

    it('lists live sessions with user agent, IP and which one is current', async (t) => {
      const { app, clock } = await startApp(t, engine);
      const { tokens, credentials } = await signUp(app);
      clock.advance(5);
      const phoneLoggedInAt = new Date(clock.now()).toISOString();
      const phone = await login(app, credentials, { 'user-agent': 'PhoneApp/2.0' });
      await app.inject({
        method: 'POST',
        url: '/auth/logout',
        headers: bearer((await login(app, credentials)).access_token),
      });
      const response = await app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(phone.access_token) });
      assert.equal(response.statusCode, 200);
      const { sessions } = json<SessionList>(response);
      assert.equal(sessions.length, 2, 'the ended session is not listed');
      const current = sessions.find((s) => s.current);
      assert.equal(current?.id, decodeJwt(phone.access_token).payload.sid);
      assert.equal(current?.user_agent, 'PhoneApp/2.0');
      assert.equal(current?.ip, '127.0.0.1');
      assert.equal(current?.created_at, phoneLoggedInAt);
      assert.equal(current?.expires_at, new Date(clock.now() + 30 * 86400_000).toISOString());
      assert.ok(sessions.some((s) => s.id === decodeJwt(tokens.access_token).payload.sid && !s.current));
    });

    it("DELETE /auth/sessions/{id} ends one own session; another user's id is 404 like an unknown one", async (t) => {
      const { app } = await startApp(t, engine);
      const { tokens, credentials } = await signUp(app);
      const laptop = await login(app, credentials);
      const stranger = await signUp(app);
      const laptopSid = String(decodeJwt(laptop.access_token).payload.sid);
      const strangerSid = String(decodeJwt(stranger.tokens.access_token).payload.sid);

      const foreign = await app.inject({
        method: 'DELETE',
        url: `/auth/sessions/${strangerSid}`,
        headers: bearer(tokens.access_token),
      });
      const unknown = await app.inject({
        method: 'DELETE',
        url: '/auth/sessions/no-such-session',
        headers: bearer(tokens.access_token),
      });
      for (const response of [foreign, unknown]) {
        assert.equal(response.statusCode, 404);
        assert.deepEqual(json(response), { error: 'not_found', message: 'No such session.' });
      }
      assert.equal((await whoami(app, stranger.tokens.access_token)).statusCode, 200);

      const own = await app.inject({
        method: 'DELETE',
        url: `/auth/sessions/${laptopSid}`,
        headers: bearer(tokens.access_token),
      });
      assert.equal(own.statusCode, 200);
      assert.equal(json(await whoami(app, laptop.access_token)).error, 'token_revoked');
      assert.equal((await whoami(app, tokens.access_token)).statusCode, 200);
    });
  });
}
