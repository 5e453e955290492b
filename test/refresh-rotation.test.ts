import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENGINES } from './engines.js';
import { bearer, decodeJwt, json, signUp, startApp, type Tokens, whoami } from './helpers.js';

type RefreshBody = Tokens & { token_type: string; expires_in: number };

for (const engine of ENGINES) {
  describe(`refresh rotation [${engine}]`, () => {
    it('rotates: a new access token (not fresh) and a new refresh token in the same session', async (t) => {
      const { app, clock } = await startApp(t, engine);
      const { tokens } = await signUp(app);
      clock.advance(60);
      const response = await app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: bearer(tokens.refresh_token),
      });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['cache-control'], 'no-store');
      const body = json<RefreshBody>(response);
      assert.equal(body.token_type, 'Bearer');
      assert.notEqual(body.refresh_token, tokens.refresh_token);
      const access = decodeJwt(body.access_token).payload;
      const refresh = decodeJwt(body.refresh_token).payload;
      assert.equal(access.fresh, false);
      assert.equal(access.sid, decodeJwt(tokens.access_token).payload.sid);
      assert.equal(refresh.sid, access.sid);
      assert.equal(refresh.exp, Math.floor(clock.now() / 1000) + 30 * 86400, 'the session slides forward');
      assert.equal((await whoami(app, body.access_token)).statusCode, 200);
      assert.equal((await whoami(app, tokens.access_token)).statusCode, 200, 'earlier access tokens live until exp');
    });

    it('accepts the refresh token as {"refresh_token"} and by GET as Bearer', async (t) => {
      const { app, clock } = await startApp(t, engine);
      const { tokens } = await signUp(app);
      const viaBody = await app.inject({
        method: 'POST',
        url: '/auth/refresh',
        payload: { refresh_token: tokens.refresh_token },
      });
      assert.equal(viaBody.statusCode, 200);
      const next = json<RefreshBody>(viaBody).refresh_token;
      clock.advance(1); // past REFRESH_MIN_INTERVAL_MS
      const viaGet = await app.inject({ method: 'GET', url: '/auth/refresh', headers: bearer(next) });
      assert.equal(viaGet.statusCode, 200);
      const none = await app.inject({ method: 'POST', url: '/auth/refresh' });
      assert.equal(json(none).error, 'authorization_required');
    });

    it('a retry inside the reuse interval gets the same successor, not a new branch', async (t) => {
      const { app, clock } = await startApp(t, engine);
      const { tokens } = await signUp(app);
      const first = json<RefreshBody>(
        await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) }),
      );
      clock.advance(9);
      const retry = await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) });
      assert.equal(retry.statusCode, 200);
      assert.equal(json<RefreshBody>(retry).refresh_token, first.refresh_token);
      const next = await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(first.refresh_token) });
      assert.equal(next.statusCode, 200, 'the successor still works');
    });

    it('a session rotates at most once per REFRESH_MIN_INTERVAL_MS: sooner, the same refresh token comes back and nothing is written', async (t) => {
      const { app, clock, stores } = await startApp(t, engine, { env: { REFRESH_MIN_INTERVAL_MS: '5000' } });
      const { tokens } = await signUp(app);
      const refresh = (token: string) => app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(token) });
      const first = json<RefreshBody>(await refresh(tokens.refresh_token));
      const sid = decodeJwt(first.refresh_token).payload.sid as string;
      const stored = await stores.sessions.find(sid);
      clock.advance(2);
      const soon = await refresh(first.refresh_token);
      assert.equal(soon.statusCode, 200);
      assert.equal(json<RefreshBody>(soon).refresh_token, first.refresh_token, 'not rotated');
      assert.notEqual(json<RefreshBody>(soon).access_token, first.access_token);
      assert.equal((await whoami(app, json<RefreshBody>(soon).access_token)).statusCode, 200);
      assert.deepEqual(await stores.sessions.find(sid), stored, 'nothing written, nothing ended');
      clock.advance(3);
      const later = json<RefreshBody>(await refresh(first.refresh_token));
      assert.notEqual(later.refresh_token, first.refresh_token, 'rotated once the interval has passed');
      // A retry of the token just rotated away still gets its successor, inside the reuse interval.
      assert.equal(json<RefreshBody>(await refresh(first.refresh_token)).refresh_token, later.refresh_token);
    });

    it('reuse after the interval ends the whole session, successors included', async (t) => {
      const { app, clock, stores } = await startApp(t, engine);
      const { tokens } = await signUp(app);
      const first = json<RefreshBody>(
        await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) }),
      );
      clock.advance(10);
      const replay = await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) });
      assert.equal(replay.statusCode, 401);
      assert.equal(json(replay).error, 'token_revoked');
      for (const token of [first.access_token, tokens.access_token]) {
        assert.equal(json(await whoami(app, token)).error, 'token_revoked');
      }
      const successor = await app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: bearer(first.refresh_token),
      });
      assert.equal(json(successor).error, 'token_revoked');
      const sid = String(decodeJwt(tokens.access_token).payload.sid);
      assert.equal((await stores.sessions.find(sid))?.endReason, 'refresh_reuse');
    });

    it('ending a session never reopens the window', async (t) => {
      const { app } = await startApp(t, engine);
      const { tokens } = await signUp(app);
      const first = json<RefreshBody>(
        await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) }),
      );
      await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(first.access_token) });
      for (const token of [tokens.refresh_token, first.refresh_token]) {
        const response = await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(token) });
        assert.equal(json(response).error, 'token_revoked');
      }
    });

    it('an older token beyond the previous one is reuse even inside the interval', async (t) => {
      const { app, clock } = await startApp(t, engine);
      const { tokens } = await signUp(app);
      const first = json<RefreshBody>(
        await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) }),
      );
      clock.advance(1); // past REFRESH_MIN_INTERVAL_MS, well inside REFRESH_REUSE_INTERVAL
      const second = await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(first.refresh_token) });
      assert.equal(second.statusCode, 200);
      const replay = await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) });
      assert.equal(json(replay).error, 'token_revoked');
    });

    it('with the interval at 0, exactly one of many concurrent refreshes succeeds', async (t) => {
      const { app } = await startApp(t, engine, { env: { REFRESH_REUSE_INTERVAL: '0' } });
      const { tokens } = await signUp(app);
      const responses = await Promise.all(
        Array.from({ length: 12 }, () =>
          app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) }),
        ),
      );
      const codes = responses.map((r) => r.statusCode);
      assert.equal(codes.filter((c) => c === 200).length, 1, codes.join(','));
      assert.ok(responses.filter((r) => r.statusCode !== 200).every((r) => json(r).error === 'token_revoked'));
    });

    it('two instances on one store: concurrent refreshes have one winner, retries share its successor', async (t) => {
      const a = await startApp(t, engine, { env: { REFRESH_REUSE_INTERVAL: '0' } });
      const b = await startApp(t, engine, { env: { REFRESH_REUSE_INTERVAL: '0' }, sameStoreAs: a });
      const { tokens } = await signUp(a.app);
      const responses = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          (i % 2 ? a.app : b.app).inject({
            method: 'POST',
            url: '/auth/refresh',
            headers: bearer(tokens.refresh_token),
          }),
        ),
      );
      assert.equal(responses.filter((r) => r.statusCode === 200).length, 1);

      const c = await startApp(t, engine, { sameStoreAs: a });
      const d = await startApp(t, engine, { sameStoreAs: a });
      const second = await signUp(c.app);
      const graced = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          (i % 2 ? c.app : d.app).inject({
            method: 'POST',
            url: '/auth/refresh',
            headers: bearer(second.tokens.refresh_token),
          }),
        ),
      );
      assert.ok(
        graced.every((r) => r.statusCode === 200),
        graced.map((r) => r.statusCode).join(','),
      );
      const successors = new Set(graced.map((r) => json<RefreshBody>(r).refresh_token));
      assert.equal(successors.size, 1, 'every concurrent caller got the same successor');
    });
  });
}
